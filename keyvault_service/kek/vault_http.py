"""One HTTP connection pool to Vault (or OpenBao), and its error boundary.

Every Vault call of the service goes through :meth:`VaultHttp.request`: the
transit operations, the AppRole login and the token renewals. Each call has
one time budget (``timeout_s``) that covers its retries too, so a caller's
wait is bounded whatever Vault does.

Retries: only calls marked idempotent, only after a connection failure or a
status that says "later" (sealed, standby, rate limited, upstream failure),
at most :data:`MAX_ATTEMPTS` times. Never after 400 or 403: a bad request or
a refused token gives the same answer however often it is sent.

:func:`translate` is the one place where Vault's answers become our errors.
Error texts differ between HashiCorp Vault and OpenBao (an expired token is
``permission denied`` on one and ``invalid token`` plus ``permission denied``
on the other), so the translation goes by status code, and by substring only
where a 400 must be told apart.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

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
from shared.secrets import SecretStr

MAX_ATTEMPTS = 3
FIRST_BACKOFF_S = 0.05

# Status codes after which the same call may succeed later: sealed, standby,
# rate limited, or an upstream failure.
TRANSIENT = frozenset({412, 429, 500, 502, 503, 504})
# 400 texts that mean the key, not the ciphertext, is wrong.
_KEY_PROBLEMS = ("encryption key not found", "missing 'context'")

_log = structlog.get_logger("byok.keyvault.vault")


class VaultHttp:
    """An ``httpx.AsyncClient`` aimed at one Vault, with budgets and retries.

    ``trust_env=False`` keeps proxy variables from redirecting key traffic and
    ``VAULT_TOKEN`` or ``~/.vault-token`` from being picked up implicitly.
    """

    def __init__(self, address: str, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        # TODO(private CA for an https Vault): the system trust store is the
        # only one used; a VAULT_CACERT setting would pass verify= here.
        self._client = httpx.AsyncClient(
            base_url=f"{address}/v1/",
            timeout=timeout_s,
            headers={"X-Vault-Request": "true"},
            trust_env=False,
            follow_redirects=False,
        )

    async def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        token: SecretStr | None = None,
        *,
        idempotent: bool = True,
        ciphertext_given: bool = False,
    ) -> dict[str, Any]:
        """The JSON body of a 200 (``{}`` for a 204); any other answer raises."""
        headers = {"X-Vault-Token": token.reveal()} if token else {}
        attempts = MAX_ATTEMPTS if idempotent else 1
        try:
            async with asyncio.timeout(self.timeout_s):
                for attempt in range(1, attempts + 1):
                    failure = await self._attempt(method, path, body, headers)
                    if isinstance(failure, dict):
                        return failure
                    error = _as_error(failure, ciphertext_given)
                    if attempt == attempts or not _worth_retrying(failure):
                        raise error
                    _log.debug(
                        "vault call will be retried",
                        path=_path_kind(path),
                        attempt=attempt,
                        error=str(error),
                    )
                    await asyncio.sleep(_backoff_s(attempt))
        except TimeoutError:
            raise KekUnavailable(
                f"Vault did not answer within {self.timeout_s}s"
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _attempt(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        headers: dict[str, str],
    ) -> dict[str, Any] | httpx.Response | httpx.TransportError:
        try:
            response = await self._client.request(
                method, path, json=body, headers=headers
            )
        except httpx.TransportError as exc:
            return exc
        if response.status_code in (200, 204):
            return _body_of(response)
        return response


def _worth_retrying(failure: httpx.Response | httpx.TransportError) -> bool:
    if isinstance(failure, httpx.TransportError):
        return True
    return failure.status_code in TRANSIENT


def _as_error(
    failure: httpx.Response | httpx.TransportError, ciphertext_given: bool
) -> KeyVaultError:
    if isinstance(failure, httpx.TransportError):
        return KekUnavailable(f"Vault cannot be reached ({type(failure).__name__})")
    return translate(failure, ciphertext_given)


def translate(response: httpx.Response, ciphertext_given: bool) -> KeyVaultError:
    """Our error for a Vault answer that is not a success."""
    status = response.status_code
    message = "; ".join(errors_of(response)) or f"HTTP {status}"
    if status == 400:
        if any(problem in message for problem in _KEY_PROBLEMS):
            return KekMisconfigured(f"transit rejected the key: {message}")
        if ciphertext_given:
            # Wrong context, tampering, archived version: all one answer.
            return KeyUnreadable()
        return KekError(f"Vault rejected the request: {message}")
    if status in (401, 403):
        return KekAccessDenied(f"Vault refused the token (HTTP {status})")
    if status in (404, 405):
        return KekMisconfigured(f"transit mount or key not found (HTTP {status})")
    if status in TRANSIENT:
        return KekUnavailable(f"Vault is unavailable (HTTP {status}: {message})")
    return KekError(f"unexpected answer from Vault (HTTP {status})")


def errors_of(response: httpx.Response) -> list[str]:
    """Vault's ``errors`` list, shortened; it never holds a token or a key."""
    try:
        errors = response.json().get("errors")
    except (ValueError, AttributeError):
        return []
    if not isinstance(errors, list):
        return []
    return [str(error).strip() for error in errors][:3]


def _body_of(response: httpx.Response) -> dict[str, Any]:
    if not response.content:
        return {}
    try:
        body = response.json()
    except ValueError:
        raise KekError("Vault answered with a body that is not JSON") from None
    if not isinstance(body, dict):
        raise KekError("Vault answered with a body that is not an object")
    return body


def data_of(body: dict[str, Any]) -> dict[str, Any]:
    data = body.get("data")
    return data if isinstance(data, dict) else {}


def _backoff_s(attempt: int) -> float:
    # Jitter spreads the retries of many waiting calls over time.
    return FIRST_BACKOFF_S * 2 ** (attempt - 1) * (0.5 + random.random())  # noqa: S311


def _path_kind(path: str) -> str:
    # Transit paths end in a key name; the operation is enough for a log line.
    return "/".join(path.split("/")[:2])
