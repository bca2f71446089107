"""The embedded KEK: a keyring file on this machine, in transit's format.

Wrapped data keys read ``local:v<N>:`` + base64(nonce(12) | ciphertext | tag(16)),
made with AES-256-GCM under HKDF-SHA256(ikm=KEK version N, salt=none,
info=context, length=32). This is exactly how transit derives and lays out a
derived key's ciphertext, so moving to Vault is a re-wrap, and one test suite
covers both providers.

The local provider offers no separation of duties: whoever can read the
keyring file and the database can read every key. Use ``vault`` in
production.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from keyvault_service.errors import KeyUnreadable
from keyvault_service.kek import keyring_file
from keyvault_service.kek.base import KekProvider, KeyInfo, WrappedKey, parse_wrapped

PREFIX = "local"
NONCE_BYTES = 12
TAG_BYTES = 16


class LocalKek(KekProvider):
    name = "local"

    def __init__(self, path: Path) -> None:
        self._path = path
        self._keyring = keyring_file.load_or_create(path)
        self.key_name = self._keyring.name
        self._rotating = asyncio.Lock()

    async def wrap(self, data_key: bytes, context: str) -> WrappedKey:
        version = self._keyring.latest_version
        return self._wrap_with(version, data_key, context)

    async def unwrap(self, wrapped: str, context: str) -> bytes:
        version, body = parse_wrapped(wrapped, PREFIX)
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

    async def rotate(self) -> KeyInfo:
        async with self._rotating:
            rotated = self._keyring.with_new_version()
            await asyncio.to_thread(keyring_file.save, self._path, rotated)
            self._keyring = rotated
        return await self.key_info()

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

    async def aclose(self) -> None:
        return None

    def _wrap_with(self, version: int, data_key: bytes, context: str) -> WrappedKey:
        nonce = secrets.token_bytes(NONCE_BYTES)
        aead = AESGCM(_derive(self._keyring.versions[version], context))
        body = nonce + aead.encrypt(nonce, data_key, None)
        text = f"{PREFIX}:v{version}:{base64.b64encode(body).decode('ascii')}"
        return WrappedKey(text, self.name, self.key_name, version)


def _derive(kek: bytes, context: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=context.encode())
    return hkdf.derive(kek)
