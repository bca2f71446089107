"""Vault tokens keep working: renewal, re-login, one login at a time.

Everything runs against the real ``bao``. Logins are counted by Vault (the
uses left on the role's secret id), not by the code under test. Schedules
are driven by an injected clock where that suffices; one test lets real
tokens reach their real TTL and max TTL.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable

import grpc
import pytest
from byok.keyvault.v1 import keyvault_pb2 as pb

from keyvault_service.errors import KekAccessDenied, KekLoginFailed
from keyvault_service.kek import TransitKek, VaultSession
from shared.rpc import error_info
from shared.secrets import SecretStr
from tests.keyvault.conftest import TEST_TRANSIT_KEY, vault_overrides
from tests.keyvault.test_availability import retry_delay_s
from tests.keyvault.vault_roles import (
    create_role,
    destroy_secret_id,
    logins,
    revoke_role_tokens,
    service_policy,
)
from tests.support.keyvault import keyvault_server, keyvault_stub

CALLERS = 50


class FakeClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._moved = asyncio.Condition()

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        until = self.now + seconds
        async with self._moved:
            await self._moved.wait_for(lambda: self.now >= until)

    async def advance(self, seconds: float) -> None:
        async with self._moved:
            self.now += seconds
            self._moved.notify_all()
        # Let the woken tasks reach their next await.
        await asyncio.sleep(0.05)


async def eventually(condition: Callable[[], bool], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def approle_session(vault, role, clock=None, timeout_s: float = 5) -> VaultSession:
    return VaultSession.with_approle(
        vault.address, "approle", role.role_id, SecretStr(role.secret_id),
        timeout_s, clock,
    )


def approle_overrides(vault, role, **extra: str) -> dict[str, str]:
    # No data-key cache: every read must reach Vault with the current token.
    # One stub both saves and reads, so generation may save here too.
    settings = {
        **role.settings(),
        "KEYVAULT_DK_CACHE_MAX_AGE_S": "0",
        "KEYVAULT_ADMIN_ALLOWED_CLIENTS": "platform,generation",
        **extra,
    }
    return vault_overrides(vault, **settings)


async def let_vault_time_pass() -> None:
    # Vault rounds TTLs to seconds: a renewal a moment after login is not
    # capped yet by its reckoning, whatever the injected clock says.
    await asyncio.sleep(2)


async def reveal_all(stub, tenant: str, count: int) -> list[str | grpc.StatusCode]:
    async def one() -> str | grpc.StatusCode:
        try:
            response = await stub.GetDecryptedKey(
                pb.GetDecryptedKeyRequest(tenant_id=tenant, provider="openai"),
                timeout=10,
            )
        except grpc.aio.AioRpcError as error:
            return error.code()
        return response.api_key

    return await asyncio.gather(*(one() for _ in range(count)))


# -- the schedule, with an injected clock ------------------------------------


async def test_a_token_is_renewed_at_two_thirds_of_its_ttl(vault):
    role = create_role(vault, TEST_TRANSIT_KEY, ttl="30s", max_ttl="10m")
    clock = FakeClock()
    session = approle_session(vault, role, clock)

    try:
        await session.start()
        first = await session.auth.token()
        await clock.advance(19.5)
        before = session.auth.renewals
        await clock.advance(0.6)
        await eventually(lambda: session.auth.renewals == 1)
        after = await session.auth.token()
    finally:
        await session.aclose()

    assert before == 0
    assert after == first
    assert logins(vault, role) == 1


async def test_a_renewal_capped_at_max_ttl_leads_to_one_fresh_login(vault):
    # TTL equal to max TTL: the first renewal is already capped.
    role = create_role(vault, TEST_TRANSIT_KEY, ttl="30s", max_ttl="30s")
    clock = FakeClock()
    session = approle_session(vault, role, clock)
    kek = TransitKek(session, "transit", TEST_TRANSIT_KEY)

    try:
        await session.start()
        first = await session.auth.token()
        await let_vault_time_pass()
        await clock.advance(20)
        await eventually(lambda: session.auth.renewals == 1)
        logins_after_capped_renewal = logins(vault, role)
        await clock.advance(20)
        await eventually(lambda: session.auth.logins == 2)
        second = await session.auth.token()
        wrapped = await kek.wrap(b"k" * 32, "tenant-a")
    finally:
        await session.aclose()

    assert logins_after_capped_renewal == 1
    assert second != first
    assert logins(vault, role) == 2
    assert wrapped.text.startswith("vault:v")


async def test_a_refused_renewal_logs_in_again_at_once(vault):
    role = create_role(vault, TEST_TRANSIT_KEY, ttl="30s", max_ttl="10m")
    clock = FakeClock()
    session = approle_session(vault, role, clock)

    try:
        await session.start()
        assert revoke_role_tokens(vault, role) == 1
        await clock.advance(20)
        await eventually(lambda: session.auth.logins == 2)
        kek = TransitKek(session, "transit", TEST_TRANSIT_KEY)
        wrapped = await kek.wrap(b"k" * 32, "tenant-a")
    finally:
        await session.aclose()

    assert logins(vault, role) == 2
    assert wrapped.version >= 1


async def test_a_fixed_token_is_renewed_and_its_cap_is_reported(vault, captured_logs):
    vault.api("PUT", "sys/policies/acl/keyvault-fixed", {
        "policy": service_policy(TEST_TRANSIT_KEY),
    })
    token = vault.api("POST", "auth/token/create", {
        "policies": ["keyvault-fixed"], "ttl": "30s", "explicit_max_ttl": "30s",
    }).json()["auth"]["client_token"]
    clock = FakeClock()
    session = VaultSession.with_token(vault.address, SecretStr(token), 5, clock)

    try:
        await session.start()
        await let_vault_time_pass()
        await clock.advance(20)
        await eventually(lambda: session.auth.renewals == 1)
    finally:
        await session.aclose()

    assert "reached its max TTL" in captured_logs.text
    assert token not in captured_logs.text


# -- 403 from a data call ----------------------------------------------------


async def test_a_revoked_token_brings_one_login_however_many_callers_wait(
    pki, database_url, vault, tenant, sentinels, captured_logs
):
    role = create_role(vault, TEST_TRANSIT_KEY, ttl="10m", max_ttl="30m")
    key = sentinels.new()

    async with (
        keyvault_server(pki, database_url, **approle_overrides(vault, role)) as kv,
        keyvault_stub(pki, kv, identity="generation") as stub,
    ):
        await stub.SaveKey(
            pb.SaveKeyRequest(tenant_id=tenant, provider="openai", api_key=key)
        )
        logins_before = logins(vault, role)
        assert revoke_role_tokens(vault, role) == 1

        outcomes = await reveal_all(stub, tenant, CALLERS)

    assert logins_before == 1
    assert outcomes == [key] * CALLERS
    assert logins(vault, role) == 2
    assert "vault refused the token" in captured_logs.text


async def test_a_policy_refusal_stays_refused_after_one_fresh_login(vault):
    role = create_role(vault, f"elsewhere-{secrets.token_hex(3)}", "10m", "30m")
    session = approle_session(vault, role)
    kek = TransitKek(session, "transit", TEST_TRANSIT_KEY)

    try:
        await session.start()
        with pytest.raises(KekAccessDenied):
            await kek.wrap(b"k" * 32, "tenant-a")
    finally:
        await session.aclose()

    assert logins(vault, role) == 2


async def test_a_failed_login_is_unavailable_with_retry_info(
    pki, database_url, vault, tenant, sentinels, captured_logs
):
    role = create_role(vault, TEST_TRANSIT_KEY, ttl="10m", max_ttl="30m")

    async with (
        keyvault_server(pki, database_url, **approle_overrides(vault, role)) as kv,
        keyvault_stub(pki, kv, identity="generation") as stub,
    ):
        await stub.SaveKey(pb.SaveKeyRequest(
            tenant_id=tenant, provider="openai", api_key=sentinels.new()
        ))
        destroy_secret_id(vault, role)
        revoke_role_tokens(vault, role)

        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.GetDecryptedKey(
                pb.GetDecryptedKeyRequest(tenant_id=tenant, provider="openai")
            )

    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert error_info(raised.value).reason == "KEK_LOGIN_FAILED"
    assert retry_delay_s(raised.value) == 1.0
    assert role.secret_id not in captured_logs.text


async def test_bad_approle_credentials_stop_the_start(pki, database_url, vault):
    role = create_role(vault, TEST_TRANSIT_KEY, ttl="10m", max_ttl="30m")
    overrides = approle_overrides(vault, role, VAULT_SECRET_ID="not-the-secret-id")

    with pytest.raises(KekLoginFailed):
        async with keyvault_server(pki, database_url, **overrides):
            pass


# -- real time ---------------------------------------------------------------


async def test_a_30s_token_with_60s_max_ttl_keeps_serving_50_callers_past_both(
    pki, database_url, vault, tenant, sentinels, captured_logs
):
    role = create_role(vault, TEST_TRANSIT_KEY, ttl="30s", max_ttl="60s")
    key = sentinels.new()
    outcomes: list[str | grpc.StatusCode] = []

    async with (
        keyvault_server(pki, database_url, **approle_overrides(vault, role)) as kv,
        keyvault_stub(pki, kv, identity="generation") as stub,
    ):
        started = time.monotonic()
        await stub.SaveKey(
            pb.SaveKeyRequest(tenant_id=tenant, provider="openai", api_key=key)
        )
        # A wave of 50 concurrent reads every second, until the first
        # token's max TTL is well behind us.
        while time.monotonic() - started < 66:
            wave = asyncio.create_task(reveal_all(stub, tenant, CALLERS))
            await asyncio.sleep(1)
            outcomes += await wave

    assert len(outcomes) >= 60 * CALLERS
    assert [o for o in outcomes if o != key] == []
    # The first login, and one more before the first token's max TTL.
    assert logins(vault, role) == 2
    assert captured_logs.text.count('"event": "vault token renewed"') >= 1
    # Replaced before it expired: no call ever had to find out by a 403.
    assert "vault refused the token" not in captured_logs.text
