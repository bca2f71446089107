"""The embedded KEK: a keyring file on this machine, in transit's format.

Wrapped data keys read ``local:v<N>:`` + base64(nonce(12) | ciphertext | tag(16)),
made with AES-256-GCM under HKDF-SHA256(ikm=KEK version N, salt=none,
info=context, length=32). This is exactly how transit derives and lays out a
derived key's ciphertext, so moving to Vault is a re-wrap, and one test suite
covers both providers. Rotation, rewrap, a minimum decryption version and
per-tenant keyrings that can be destroyed work as they do in transit.

Replicas sharing a keyring file learn of another replica's rotation by
reading the file again when they meet a version they do not know, or when
told to (:meth:`LocalKek.refresh`).

The local provider offers no separation of duties: whoever can read the
keyring file and the database can read every key. Use ``vault`` in
production.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import secrets
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from keyvault_service.errors import KekMisconfigured, KeyringError, KeyUnreadable
from keyvault_service.kek import keyring_file
from keyvault_service.kek.base import KekProvider, KeyInfo, WrappedKey, parse_wrapped

PREFIX = "local"
NONCE_BYTES = 12
TAG_BYTES = 16


class LocalKek(KekProvider):
    name = "local"

    def __init__(
        self, path: Path, key_name: str | None = None, *, create: bool = True
    ) -> None:
        """The keyring at ``path``, created here unless named or ``create`` is off.

        A named keyring (a tenant's) is only read here; :meth:`ensure`
        creates it, so reading after :meth:`destroy` never brings it back.
        """
        self.path = path
        if key_name is None and create:
            self._keyring = keyring_file.load_or_create(path)
        elif path.exists():
            self._keyring = keyring_file.load(path)
        else:
            name = key_name or keyring_file.DEFAULT_NAME
            self._keyring = keyring_file.Keyring(name, 1, {}, {})
        self.key_name = self._keyring.name
        self._loaded_stamp = self._stamp()
        self._changing = asyncio.Lock()

    async def wrap(self, data_key: bytes, context: str) -> WrappedKey:
        # Never wrap under a version another process has since retired.
        if self._changed_on_disk():
            await self.refresh()
        version = self._keyring.latest_version
        return self._wrap_with(version, data_key, context)

    async def unwrap(self, wrapped: str, context: str) -> bytes:
        version, body = parse_wrapped(wrapped, PREFIX)
        if version > self._keyring.latest_version:
            # Perhaps another replica rotated since this one read the file.
            await self.refresh()
        keyring = self._keyring
        if version not in keyring.versions or version < keyring.min_decryption_version:
            raise KeyUnreadable()
        try:
            raw = base64.b64decode(body, validate=True)
        except binascii.Error:
            raise KeyUnreadable() from None
        if len(raw) < NONCE_BYTES + TAG_BYTES:
            raise KeyUnreadable()
        aead = AESGCM(_derive(keyring.versions[version], context))
        try:
            return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], None)
        except InvalidTag:
            raise KeyUnreadable() from None

    async def rewrap(self, wrapped: str, context: str) -> WrappedKey:
        data_key = await self.unwrap(wrapped, context)
        return self._wrap_with(self._keyring.latest_version, data_key, context)

    async def rewrap_many(
        self, items: Sequence[tuple[str, str]]
    ) -> list[WrappedKey | KeyUnreadable]:
        outcomes: list[WrappedKey | KeyUnreadable] = []
        for wrapped, context in items:
            try:
                outcomes.append(await self.rewrap(wrapped, context))
            except KeyUnreadable as error:
                outcomes.append(error)
        return outcomes

    async def rotate(self) -> KeyInfo:
        async with self._changing:
            await self.refresh()
            rotated = self._keyring.with_new_version()
            await asyncio.to_thread(keyring_file.save, self.path, rotated)
            self._keyring = rotated
            self._loaded_stamp = self._stamp()
        return await self.key_info()

    async def set_min_decryption_version(self, version: int) -> KeyInfo:
        async with self._changing:
            await self.refresh()
            try:
                changed = self._keyring.with_min_decryption_version(version)
            except ValueError:
                raise KekMisconfigured(
                    f"KEK {self.key_name} has no version {version}"
                ) from None
            await asyncio.to_thread(keyring_file.save, self.path, changed)
            self._keyring = changed
            self._loaded_stamp = self._stamp()
        return await self.key_info()

    @property
    def versions(self) -> frozenset[int]:
        """The versions held; empty when no keyring file has been read."""
        return frozenset(self._keyring.versions)

    async def key_info(self) -> KeyInfo:
        return KeyInfo(
            provider=self.name,
            key_name=self.key_name,
            latest_version=self._keyring.latest_version,
            min_decryption_version=self._keyring.min_decryption_version,
            derived=True,
        )

    async def check(self) -> None:
        # The keyring's permissions and shape were checked when it was loaded.
        return None

    async def ensure(self) -> None:
        if self._keyring.versions:
            return
        async with self._changing:
            self._keyring = await asyncio.to_thread(
                keyring_file.load_or_create, self.path, self.key_name
            )
            self._loaded_stamp = self._stamp()

    async def destroy(self) -> None:
        # An unlinked file's blocks may survive on disk until overwritten;
        # what matters is that no copy of the keyring stays readable here.
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(self.path.unlink)
        self._keyring = keyring_file.Keyring(self.key_name, 1, {}, {})
        self._loaded_stamp = None

    async def refresh(self) -> None:
        stamp = self._stamp()
        try:
            self._keyring = await asyncio.to_thread(keyring_file.load, self.path)
        except (FileNotFoundError, KeyringError):
            # Destroyed, or half-written by hand: keep what was last read.
            return
        self._loaded_stamp = stamp

    async def aclose(self) -> None:
        return None

    def _stamp(self) -> tuple[int, int] | None:
        try:
            status = self.path.stat()
        except FileNotFoundError:
            return None
        return status.st_mtime_ns, status.st_ino

    def _changed_on_disk(self) -> bool:
        return self._stamp() != self._loaded_stamp

    def _wrap_with(self, version: int, data_key: bytes, context: str) -> WrappedKey:
        if version not in self._keyring.versions:
            raise KekMisconfigured(f"KEK {self.key_name} has been destroyed")
        nonce = secrets.token_bytes(NONCE_BYTES)
        aead = AESGCM(_derive(self._keyring.versions[version], context))
        body = nonce + aead.encrypt(nonce, data_key, None)
        text = f"{PREFIX}:v{version}:{base64.b64encode(body).decode('ascii')}"
        return WrappedKey(text, self.name, self.key_name, version)


def _derive(kek: bytes, context: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=context.encode())
    return hkdf.derive(kek)
