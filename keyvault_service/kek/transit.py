"""The Vault (or OpenBao) transit KEK, with a derived key and a tenant context.

The transit key must be *derived* (``derived=true``): transit silently ignores
``context`` on other keys, which would leave every tenant's data key
unwrappable under any other tenant's id. :meth:`TransitKek.check` refuses to
start on such a key, and only creates a missing key when explicitly allowed.

Why httpx and not hvac here: the service needs a handful of transit
endpoints, and they must not block the event loop. An ``httpx.AsyncClient``
is cancelled with the RPC that awaits it, whereas a worker thread running
hvac would keep a call (and a slot of the pool) busy past the caller's
deadline. One client also means one place to swap the token on renewal and
re-login (:mod:`.vault_auth`), instead of one ``requests.Session`` per
thread. It avoids hvac's quirks too: a raw response on 204, errors parsed
only under an exact content type, a batch partial failure raised with
``errors=None``, the token read implicitly from ``~/.vault-token``.
HTTP, budgets, retries and error translation live in :mod:`.vault_http`.

Vault token policy
------------------

The service's token (or AppRole role) needs ``update`` on the crypto paths
and no ``create``, so a typo in a key name can never make ``encrypt`` upsert
a fresh key. For the default key name ``byok-kek``::

    path "transit/encrypt/byok-kek" { capabilities = ["update"] }
    path "transit/decrypt/byok-kek" { capabilities = ["update"] }
    path "transit/rewrap/byok-kek"  { capabilities = ["update"] }
    path "transit/keys/byok-kek"    { capabilities = ["read"] }

Reading ``transit/keys/byok-kek`` is optional for serving: without it the
start-up check relies on its probe (wrap under one context, unwrap under
another), which proves the key exists and is derived. Data keys are made by
KeyVault, so ``transit/datakey`` is never called. Renewing its own token is
covered by Vault's ``default`` policy (``auth/token/renew-self``,
``auth/token/lookup-self``). ``VAULT_TRANSIT_CREATE_KEY=true`` would need
``create`` on ``transit/keys/byok-kek``; create the key by hand instead.

The operator token - the service's, when it answers RotateKek, RewrapKeys
and SetMinDecryptionVersion, or the one the ``byok`` rotation command logs
in with - needs all of the above, ``read`` included (rotation reads the
key's versions), and for the same key::

    path "transit/keys/byok-kek/rotate" { capabilities = ["update"] }
    path "transit/keys/byok-kek/config" { capabilities = ["update"] }

Give those to a separate role when the service should not rotate by itself.
With per-tenant KEKs (``KEYVAULT_TENANT_KEKS=true``), each tenant's key is
named ``byok-tenant-<tenant id>-kek`` (prefix ``VAULT_TENANT_KEY_PREFIX``);
the service creates it on the tenant's first save and destroys it when the
tenant is deleted::

    path "transit/encrypt/byok-tenant-*" { capabilities = ["update"] }
    path "transit/decrypt/byok-tenant-*" { capabilities = ["update"] }
    path "transit/rewrap/byok-tenant-*"  { capabilities = ["update"] }
    path "transit/keys/byok-tenant-*"    { capabilities = ["create", "update",
                                                          "read", "delete"] }
    path "transit/keys/byok-tenant-*/*"  { capabilities = ["update"] }

Never make these keys ``exportable`` or allow plaintext backup: a copy of a
key would survive its deletion.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

import structlog

from keyvault_service.errors import (
    KekAccessDenied,
    KekError,
    KekMisconfigured,
    KeyUnreadable,
)
from keyvault_service.kek.base import KekProvider, KeyInfo, WrappedKey, parse_wrapped
from keyvault_service.kek.vault_auth import AppRoleLogin, Clock, VaultAuth
from keyvault_service.kek.vault_http import VaultHttp, data_of
from shared.secrets import SecretStr

PREFIX = "vault"
AEAD_KEY_TYPES = frozenset(
    {"aes256-gcm96", "aes128-gcm96", "chacha20-poly1305", "xchacha20-poly1305"}
)

_log = structlog.get_logger("byok.keyvault.transit")


class VaultSession:
    """Vault calls made with the current token; a 403 gets one fresh token."""

    def __init__(self, http: VaultHttp, auth: VaultAuth) -> None:
        self.http = http
        self.auth = auth

    @classmethod
    def with_token(
        cls, address: str, token: SecretStr, timeout_s: float,
        clock: Clock | None = None,
    ) -> VaultSession:
        http = VaultHttp(address, timeout_s)
        return cls(http, VaultAuth(http, token=token, clock=clock))

    @classmethod
    def with_approle(
        cls,
        address: str,
        mount: str,
        role_id: str,
        secret_id: SecretStr,
        timeout_s: float,
        clock: Clock | None = None,
    ) -> VaultSession:
        http = VaultHttp(address, timeout_s)
        login = AppRoleLogin(mount, role_id, secret_id)
        return cls(http, VaultAuth(http, login=login, clock=clock))

    async def start(self) -> None:
        await self.auth.start()

    async def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        idempotent: bool = True,
        ciphertext_given: bool = False,
        relogin: bool = True,
    ) -> dict[str, Any]:
        token = await self.auth.token()
        try:
            return await self.http.request(
                method, path, body, token,
                idempotent=idempotent, ciphertext_given=ciphertext_given,
            )
        except KekAccessDenied:
            replacement = await self.auth.rejected(token) if relogin else None
            if replacement is None:
                raise
            _log.info("vault refused the token; retrying with a fresh one")
        # The token expired or was revoked under us; a policy that forbids
        # the path answers 403 again, and that answer stands.
        return await self.http.request(
            method, path, body, replacement,
            idempotent=idempotent, ciphertext_given=ciphertext_given,
        )

    async def aclose(self) -> None:
        await self.auth.aclose()
        await self.http.aclose()


class TransitKek(KekProvider):
    name = "vault"

    def __init__(
        self,
        session: VaultSession,
        mount: str,
        key: str,
        create_key: bool = False,
        owns_session: bool = False,
    ) -> None:
        self.key_name = f"{mount}/{key}"
        self._key = key
        self._mount = mount
        self._session = session
        self._create_key = create_key
        self._owns_session = owns_session

    async def check(self) -> None:
        await self._session.start()
        try:
            info = await self._key_info(relogin=False)
        except KekAccessDenied:
            # A least-privilege token may not read the key; the start-up
            # probe (wrap under one context, unwrap under another) still
            # proves that the key exists and is derived.
            _log.warning("transit key cannot be read; relying on the probe")
            return
        except KekMisconfigured:
            if not self._create_key:
                raise KekMisconfigured(
                    f"transit key {self.key_name} does not exist; create it with "
                    f"derived=true or set VAULT_TRANSIT_CREATE_KEY=true"
                ) from None
            await self._create()
            info = await self.key_info()
        if not info.derived:
            raise KekMisconfigured(
                f"transit key {self.key_name} is not derived; a context would be "
                f"ignored and tenants would not be isolated"
            )

    async def ensure(self) -> None:
        # Creating is idempotent in transit: an existing key is left alone.
        await self._session.start()
        await self._create()

    async def wrap(self, data_key: bytes, context: str) -> WrappedKey:
        data = await self._call("encrypt", {
            "plaintext": _b64(data_key), "context": _b64(context.encode()),
        })
        return self._wrapped(data)

    async def unwrap(self, wrapped: str, context: str) -> bytes:
        parse_wrapped(wrapped, PREFIX)
        data = await self._call(
            "decrypt",
            {"ciphertext": wrapped, "context": _b64(context.encode())},
            ciphertext_given=True,
        )
        try:
            return base64.b64decode(data["plaintext"], validate=True)
        except (KeyError, TypeError, binascii.Error):
            raise KekError("transit decrypt answered without a plaintext") from None

    async def rewrap(self, wrapped: str, context: str) -> WrappedKey:
        parse_wrapped(wrapped, PREFIX)
        data = await self._call(
            "rewrap",
            {"ciphertext": wrapped, "context": _b64(context.encode())},
            ciphertext_given=True,
        )
        return self._wrapped(data)

    async def rewrap_many(
        self, items: Sequence[tuple[str, str]]
    ) -> list[WrappedKey | KeyUnreadable]:
        if not items:
            return []
        batch = [
            {"ciphertext": wrapped, "context": _b64(context.encode())}
            for wrapped, context in items
        ]
        data = await self._call("rewrap", {"batch_input": batch})
        results = data.get("batch_results")
        if not isinstance(results, list) or len(results) != len(items):
            raise KekError("transit rewrap answered with a malformed batch")
        # Rewrap batches answer 200 even when items fail: each item is judged
        # on its own, and an item without a usable ciphertext has failed.
        outcomes: list[WrappedKey | KeyUnreadable] = []
        for result in results:
            if not isinstance(result, dict) or result.get("error"):
                outcomes.append(KeyUnreadable())
                continue
            try:
                outcomes.append(self._wrapped(result))
            except KekError:
                outcomes.append(KeyUnreadable())
        return outcomes

    async def rotate(self) -> KeyInfo:
        # Not retried: a lost answer must not turn into two rotations.
        await self._session.call(
            "POST", f"{self._mount}/keys/{self._key}/rotate", {}, idempotent=False
        )
        return await self.key_info()

    async def set_min_decryption_version(self, version: int) -> KeyInfo:
        await self._session.call(
            "POST",
            f"{self._mount}/keys/{self._key}/config",
            {"min_decryption_version": version},
        )
        return await self.key_info()

    async def key_info(self) -> KeyInfo:
        return await self._key_info(relogin=True)

    async def destroy(self) -> None:
        path = f"{self._mount}/keys/{self._key}"
        await self._session.call(
            "POST", f"{path}/config", {"deletion_allowed": True}
        )
        try:
            await self._session.call("DELETE", path, idempotent=False)
        except KekError as error:
            # Deleted already, by another replica's sweep.
            if "not found" not in str(error):
                raise

    async def aclose(self) -> None:
        if self._owns_session:
            await self._session.aclose()

    async def _key_info(self, relogin: bool) -> KeyInfo:
        body = await self._session.call(
            "GET", f"{self._mount}/keys/{self._key}", relogin=relogin
        )
        data = data_of(body)
        try:
            return KeyInfo(
                provider=self.name,
                key_name=self.key_name,
                latest_version=int(data["latest_version"]),
                min_decryption_version=int(data["min_decryption_version"]),
                derived=bool(data.get("derived"))
                and data.get("type") in AEAD_KEY_TYPES,
            )
        except (KeyError, TypeError, ValueError):
            raise KekError("transit key description is malformed") from None

    async def _create(self) -> None:
        await self._session.call("POST", f"{self._mount}/keys/{self._key}", {
            "type": "aes256-gcm96", "derived": True,
        })
        _log.info("created transit key", key=self.key_name)

    async def _call(
        self, operation: str, body: dict[str, Any], ciphertext_given: bool = False
    ) -> dict[str, Any]:
        answer = await self._session.call(
            "POST",
            f"{self._mount}/{operation}/{self._key}",
            body,
            ciphertext_given=ciphertext_given,
        )
        return data_of(answer)

    def _wrapped(self, data: dict[str, Any]) -> WrappedKey:
        text = data.get("ciphertext")
        if not isinstance(text, str):
            raise KekError("transit answered without a ciphertext")
        try:
            version, _ = parse_wrapped(text, PREFIX)
        except KeyUnreadable:
            raise KekError("transit answered with an unknown ciphertext") from None
        return WrappedKey(text, self.name, self.key_name, version)


def _b64(raw: bytes) -> str:
    # Transit decodes with Go's StdEncoding: padded, '+' and '/', never URL-safe.
    return base64.b64encode(raw).decode("ascii")
