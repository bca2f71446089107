"""Vault tokens that keep working: renewal, re-login, one login at a time.

A Vault token has a TTL, and renewing it extends the TTL only up to the
token's max TTL; past that, renewal is *capped* and the token dies. Only a
fresh login brings a new one. hvac does none of this, and a service that
forgets it works for an hour and then gets 403 on every call.

:class:`VaultAuth` keeps one current :class:`Lease` and a watcher task that:

1. renews the token when two thirds of its TTL have passed, asking for the
   TTL it was issued with;
2. when Vault answers with less (capped at max TTL) or the token cannot be
   renewed, logs in again when two thirds of what is left have passed;
3. when a renewal is refused (403: revoked or already expired), logs in
   again at once.

A data call refused with 403 reports it through :meth:`VaultAuth.rejected`,
which logs in again and hands back the new token for one retry. However many
calls are waiting, one login runs at a time: the others await the same task,
and a call that reports a token already replaced just gets the new one.

With a fixed token (``VAULT_AUTH_METHOD=token``) there is nothing to log in
with: the watcher only renews it, a capped renewal is logged as a warning,
and a 403 stays an error (``KEK_ACCESS_DENIED``). A failed login is
``KEK_LOGIN_FAILED``; both are ``UNAVAILABLE`` with retry information.

The clock is injected (:class:`Clock`), so tests can drive the schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from keyvault_service.errors import (
    KekAccessDenied,
    KekError,
    KekLoginFailed,
    KekUnavailable,
    KeyVaultError,
)
from keyvault_service.kek.vault_http import VaultHttp
from shared.secrets import SecretStr

RENEW_FRACTION = 2 / 3
# A lease this close to its end is treated as gone: the call would race it.
EXPIRY_MARGIN_S = 1.0
# After a failed login, callers fail fast for this long instead of each
# starting another login against a Vault that just refused one.
LOGIN_BACKOFF_S = 1.0
# Retry delay for a renewal that failed for a reason other than 403.
RENEW_RETRY_S = 2.0

_log = structlog.get_logger("byok.keyvault.vault_auth")


class Clock(Protocol):
    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass(frozen=True)
class Lease:
    """A token and how long Vault promised it would live."""

    token: SecretStr = field(repr=False)
    ttl_s: float  # math.inf: the token never expires (a root token)
    renewable: bool
    obtained_at: float
    # The TTL the token was issued with: what each renewal asks for.
    issued_ttl_s: float
    # Vault will not extend it further: capped at max TTL, or not renewable.
    final: bool

    @property
    def expires_at(self) -> float:
        return self.obtained_at + self.ttl_s

    @property
    def refresh_at(self) -> float:
        return self.obtained_at + self.ttl_s * RENEW_FRACTION


Login = Callable[[VaultHttp, float], Awaitable[Lease]]


class AppRoleLogin:
    """``POST auth/<mount>/login`` with a role id and a secret id."""

    def __init__(self, mount: str, role_id: str, secret_id: SecretStr) -> None:
        self._path = f"auth/{mount}/login"
        self._role_id = role_id
        self._secret_id = secret_id

    async def __call__(self, http: VaultHttp, now: float) -> Lease:
        body = await http.request(
            "POST",
            self._path,
            {"role_id": self._role_id, "secret_id": self._secret_id.reveal()},
        )
        return _lease_from_auth(body, now, issued_ttl_s=None)


class VaultAuth:
    """The current token, renewed and replaced before Vault stops taking it."""

    def __init__(
        self,
        http: VaultHttp,
        *,
        login: Login | None = None,
        token: SecretStr | None = None,
        clock: Clock | None = None,
    ) -> None:
        if (login is None) == (token is None):
            raise ValueError("give exactly one of login and token")
        self._http = http
        self._login = login
        self._clock = clock or SystemClock()
        self._lease: Lease | None = None
        if token is not None:
            self._lease = Lease(token, math.inf, False, 0.0, math.inf, final=True)
        self._login_task: asyncio.Task[Lease] | None = None
        self._login_failed_until = -math.inf
        self._watcher: asyncio.Task[None] | None = None
        self.logins = 0
        self.renewals = 0

    async def start(self) -> None:
        """Log in (or learn the fixed token's TTL), then keep the token alive."""
        if self._watcher is not None:
            return
        if self._login is not None:
            await self._fresh_lease(stale=None)
        else:
            await self._describe_fixed_token()
        self._watcher = asyncio.create_task(self._watch(), name="vault-token-watcher")

    async def token(self) -> SecretStr:
        lease = self._lease
        # A fixed token is sent as it is: only Vault knows if it still works.
        if lease is None or (self._login is not None and self._expired(lease)):
            lease = await self._fresh_lease(stale=lease)
        return lease.token

    async def rejected(self, token: SecretStr) -> SecretStr | None:
        """A call got 403 with ``token``: the token to retry with, if any."""
        if self._login is None:
            return None
        current = self._lease
        if current is not None and current.token != token:
            return current.token
        return (await self._fresh_lease(stale=current)).token

    async def aclose(self) -> None:
        for task in (self._watcher, self._login_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, KeyVaultError):
                    await task
        self._watcher = self._login_task = None

    # -- login ---------------------------------------------------------------

    async def _fresh_lease(self, stale: Lease | None) -> Lease:
        """A lease newer than ``stale``, logging in only if nobody else is."""
        current = self._lease
        if current is not None and current is not stale and not self._expired(current):
            return current
        if self._login is None:
            raise KekAccessDenied("the configured Vault token has expired")
        if self._login_task is None:
            if self._clock.monotonic() < self._login_failed_until:
                raise KekLoginFailed("the last Vault login failed moments ago")
            self._login_task = asyncio.create_task(self._log_in(), name="vault-login")
            self._login_task.add_done_callback(_retrieve)
        # Shielded: a waiter whose RPC is cancelled must not cancel the login
        # the other waiters are counting on.
        return await asyncio.shield(self._login_task)

    async def _log_in(self) -> Lease:
        assert self._login is not None
        try:
            lease = await self._login(self._http, self._clock.monotonic())
        except KeyVaultError as error:
            self._login_failed_until = self._clock.monotonic() + LOGIN_BACKOFF_S
            _log.warning("vault login failed", error=str(error))
            raise KekLoginFailed(f"Vault login failed: {error}") from None
        finally:
            self._login_task = None
        self._lease = lease
        self.logins += 1
        _log.info("vault login", ttl_s=lease.ttl_s, renewable=lease.renewable)
        return lease

    # -- renewal -------------------------------------------------------------

    async def _watch(self) -> None:
        while True:
            lease = self._lease
            assert lease is not None
            if math.isinf(lease.ttl_s):
                return  # a token that never expires
            if lease.final and self._login is None:
                self._warn_fixed_token_ends(lease)
                return
            wait_s = lease.refresh_at - self._clock.monotonic()
            await self._clock.sleep(max(0.0, wait_s))
            if self._lease is not lease:
                continue  # a 403 already brought a new token
            try:
                if lease.final:
                    await self._fresh_lease(stale=lease)
                else:
                    await self._renew(lease)
            except KekAccessDenied:
                if self._login is None:
                    _log.error("the configured Vault token was refused on renewal")
                    return
                await self._quietly(self._fresh_lease(stale=lease))
            except (KekUnavailable, KekError) as error:
                _log.warning("vault token refresh failed", error=str(error))
                await self._clock.sleep(RENEW_RETRY_S)

    async def _renew(self, lease: Lease) -> None:
        started = self._clock.monotonic()
        body = await self._http.request(
            "POST",
            "auth/token/renew-self",
            {"increment": f"{math.ceil(lease.issued_ttl_s)}s"},
            lease.token,
        )
        granted = _lease_from_auth(body, started, issued_ttl_s=lease.issued_ttl_s)
        renewed = dataclasses.replace(granted, token=lease.token)
        # The token may have been replaced while the renewal was in flight.
        if self._lease is lease:
            self._lease = renewed
        self.renewals += 1
        _log.info("vault token renewed", ttl_s=renewed.ttl_s, capped=renewed.final)
        if renewed.final and self._login is None:
            _log.warning(
                "the configured Vault token reached its max TTL and cannot be "
                "replaced; use AppRole (VAULT_ROLE_ID) to keep serving",
                expires_in_s=round(renewed.ttl_s),
            )

    async def _describe_fixed_token(self) -> None:
        assert self._lease is not None
        started = self._clock.monotonic()
        try:
            body = await self._http.request(
                "GET", "auth/token/lookup-self", token=self._lease.token
            )
        except KekAccessDenied:
            # A token allowed only the transit paths; the probe will tell.
            return
        data = body.get("data") or {}
        ttl = float(data.get("ttl") or 0)
        if ttl <= 0:
            return  # a token that never expires
        creation_ttl = float(data.get("creation_ttl") or ttl)
        renewable = bool(data.get("renewable"))
        self._lease = Lease(
            self._lease.token, ttl, renewable, started, creation_ttl,
            final=not renewable,
        )

    def _warn_fixed_token_ends(self, lease: Lease) -> None:
        if self.renewals:
            return  # the capped renewal said so already
        _log.warning(
            "the configured Vault token cannot be renewed and will expire",
            expires_in_s=round(lease.expires_at - self._clock.monotonic()),
        )

    async def _quietly(self, step: Awaitable[Any]) -> None:
        try:
            await step
        except KekLoginFailed:
            await self._clock.sleep(LOGIN_BACKOFF_S)

    def _expired(self, lease: Lease) -> bool:
        return self._clock.monotonic() >= lease.expires_at - EXPIRY_MARGIN_S


def _retrieve(task: asyncio.Task[Lease]) -> None:
    # Every waiter may have been cancelled; the failure is logged already.
    if not task.cancelled():
        task.exception()


def _lease_from_auth(
    body: dict[str, Any], now: float, issued_ttl_s: float | None
) -> Lease:
    auth = body.get("auth")
    try:
        token = SecretStr(str(auth["client_token"]))  # type: ignore[index]
        ttl = float(auth["lease_duration"])  # type: ignore[index]
        renewable = bool(auth.get("renewable"))  # type: ignore[union-attr]
    except (KeyError, TypeError, ValueError):
        raise KekError("Vault answered a login or renewal without a token") from None
    if ttl <= 0:
        return Lease(token, math.inf, renewable, now, math.inf, final=True)
    issued = ttl if issued_ttl_s is None else issued_ttl_s
    # Capped: Vault granted less than asked, because of the max TTL. Vault
    # and OpenBao both say so in a warning as well, which also catches a
    # cap that rounding hid.
    warnings = body.get("warnings") or []
    capped = ttl < issued or any("capped" in str(w) for w in warnings)
    return Lease(token, ttl, renewable, now, issued, final=not renewable or capped)
