"""The Vault (or OpenBao) transit KEK, with a derived key and a tenant context.

The transit key must be *derived* (``derived=true``): transit silently ignores
``context`` on other keys, which would leave every tenant's data key
unwrappable under any other tenant's id. :meth:`TransitKek.check` refuses to
start on such a key, and only creates a missing key when explicitly allowed.

Why httpx and not hvac here: the service needs five transit endpoints, and
they must not block the event loop. An ``httpx.AsyncClient`` is cancelled
with the RPC that awaits it, whereas a worker thread running hvac would keep
a call (and a slot of the pool) busy past the caller's deadline. One client
also means one place to swap the token once renewal exists, instead of one
``requests.Session`` per thread. It also avoids hvac's quirks (a raw response
on 204, errors parsed only under an exact content type, the token read
implicitly from ``~/.vault-token``). ``trust_env=False`` keeps proxy variables
from redirecting key traffic.

Every HTTP outcome is translated in :func:`_translate`, the one boundary
between Vault's errors and ours.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import Any, Protocol

import httpx
import structlog

from keyvault_service.errors import (
    KekAccessDenied,
    KekError,
    KekMisconfigured,
    KekUnavailable,
    KeyUnreadable,
    KeyVaultError,
)
from keyvault_service.kek.base import KekProvider, KeyInfo, WrappedKey, parse_wrapped
from shared.secrets import SecretStr

PREFIX = "vault"
AEAD_KEY_TYPES = frozenset(
    {"aes256-gcm96", "aes128-gcm96", "chacha20-poly1305", "xchacha20-poly1305"}
)

_log = structlog.get_logger("byok.keyvault.transit")

# Status codes after which the same call may succeed later: sealed, standby,
# rate limited, or an upstream failure.
_TRANSIENT = frozenset({412, 429, 500, 502, 503, 504})
# 400 texts that mean the key, not the ciphertext, is wrong.
_KEY_PROBLEMS = ("encryption key not found", "missing 'context'")


class TokenSource(Protocol):
    async def token(self) -> SecretStr: ...


class StaticToken:
    """A token given in the configuration.

    TODO(AppRole login and renewal before max TTL): a static token stops
    working when it expires; Vault then answers 403 and RPCs fail with
    UNAVAILABLE (KEK_ACCESS_DENIED) until the service restarts with a new one.
    """

    def __init__(self, token: SecretStr) -> None:
        self._token = token

    async def token(self) -> SecretStr:
        return self._token


class TransitKek(KekProvider):
    name = "vault"

    def __init__(
        self,
        address: str,
        token: TokenSource,
        mount: str,
        key: str,
        timeout_s: float,
        create_key: bool = False,
    ) -> None:
        self.key_name = f"{mount}/{key}"
        self._key = key
        self._mount = mount
        self._tokens = token
        self._timeout_s = timeout_s
        self._create_key = create_key
        self._client = httpx.AsyncClient(
            base_url=f"{address}/v1/",
            timeout=timeout_s,
            headers={"X-Vault-Request": "true"},
            trust_env=False,
            follow_redirects=False,
        )

    async def check(self) -> None:
        try:
            info = await self.key_info()
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
            await self._request("POST", f"{self._mount}/keys/{self._key}", {
                "type": "aes256-gcm96", "derived": True,
            })
            _log.info("created transit key", key=self.key_name)
            info = await self.key_info()
        if not info.derived:
            raise KekMisconfigured(
                f"transit key {self.key_name} is not derived; a context would be "
                f"ignored and tenants would not be isolated"
            )

    async def wrap(self, data_key: bytes, context: str) -> WrappedKey:
        data = await self._request("POST", f"{self._mount}/encrypt/{self._key}", {
            "plaintext": _b64(data_key), "context": _b64(context.encode()),
        })
        return self._wrapped(data)

    async def unwrap(self, wrapped: str, context: str) -> bytes:
        parse_wrapped(wrapped, PREFIX)
        data = await self._request(
            "POST",
            f"{self._mount}/decrypt/{self._key}",
            {"ciphertext": wrapped, "context": _b64(context.encode())},
            ciphertext_given=True,
        )
        try:
            return base64.b64decode(data["plaintext"], validate=True)
        except (KeyError, TypeError, binascii.Error):
            raise KekError("transit decrypt answered without a plaintext") from None

    async def rewrap(self, wrapped: str, context: str) -> WrappedKey:
        parse_wrapped(wrapped, PREFIX)
        data = await self._request(
            "POST",
            f"{self._mount}/rewrap/{self._key}",
            {"ciphertext": wrapped, "context": _b64(context.encode())},
            ciphertext_given=True,
        )
        return self._wrapped(data)

    async def rotate(self) -> KeyInfo:
        await self._request("POST", f"{self._mount}/keys/{self._key}/rotate", {})
        return await self.key_info()

    async def key_info(self) -> KeyInfo:
        data = await self._request("GET", f"{self._mount}/keys/{self._key}")
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

    async def aclose(self) -> None:
        await self._client.aclose()

    def _wrapped(self, data: dict[str, Any]) -> WrappedKey:
        text = data.get("ciphertext")
        if not isinstance(text, str):
            raise KekError("transit answered without a ciphertext")
        try:
            version, _ = parse_wrapped(text, PREFIX)
        except KeyUnreadable:
            raise KekError("transit answered with an unknown ciphertext") from None
        return WrappedKey(text, self.name, self.key_name, version)

    async def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        ciphertext_given: bool = False,
    ) -> dict[str, Any]:
        token = await self._tokens.token()
        try:
            async with asyncio.timeout(self._timeout_s):
                response = await self._client.request(
                    method, path, json=body, headers={"X-Vault-Token": token.reveal()}
                )
        except TimeoutError:
            raise KekUnavailable(
                f"Vault did not answer within {self._timeout_s}s"
            ) from None
        except httpx.HTTPError as exc:
            raise KekUnavailable(
                f"Vault cannot be reached ({type(exc).__name__})"
            ) from None

        if response.status_code in (200, 204):
            return _data_of(response)
        raise _translate(response, ciphertext_given)


def _translate(response: httpx.Response, ciphertext_given: bool) -> KeyVaultError:
    status = response.status_code
    message = "; ".join(_errors_of(response)) or f"HTTP {status}"
    if status == 400:
        if any(problem in message for problem in _KEY_PROBLEMS):
            return KekMisconfigured(f"transit rejected the key: {message}")
        if ciphertext_given:
            # Wrong context, tampering, archived version: all one answer.
            return KeyUnreadable()
        return KekError(f"transit rejected the request: {message}")
    if status in (401, 403):
        return KekAccessDenied(f"Vault refused the token (HTTP {status})")
    if status in (404, 405):
        return KekMisconfigured(f"transit mount or key not found (HTTP {status})")
    if status in _TRANSIENT:
        return KekUnavailable(f"Vault is unavailable (HTTP {status}: {message})")
    return KekError(f"unexpected answer from Vault (HTTP {status})")


def _data_of(response: httpx.Response) -> dict[str, Any]:
    if not response.content:
        return {}
    try:
        data = response.json().get("data")
    except (ValueError, AttributeError):
        raise KekError("Vault answered with a body that is not JSON") from None
    return data if isinstance(data, dict) else {}


def _errors_of(response: httpx.Response) -> list[str]:
    try:
        errors = response.json().get("errors")
    except (ValueError, AttributeError):
        return []
    if not isinstance(errors, list):
        return []
    return [str(error).strip() for error in errors][:3]


def _b64(raw: bytes) -> str:
    # Transit decodes with Go's StdEncoding: padded, '+' and '/', never URL-safe.
    return base64.b64encode(raw).decode("ascii")
