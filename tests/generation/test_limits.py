"""Per-tenant rate limits and budgets, reserved before the call.

The service keeps its limits in the time of an injected clock, so a test
never straddles a minute or a month by accident.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import grpc
import pytest
from byok.generation.v1 import generation_pb2
from byok.keyvault.v1 import keyvault_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from generation_service.compliance import Compliance
from generation_service.config import GenerationSettings
from generation_service.pricing import PriceTable
from generation_service.prompts import build_call
from generation_service.usage import CallUsage, reserve_estimate
from keyvault_service.server import RunningKeyVault
from provider_standin import Script, Standin
from tests.conftest import Pki
from tests.generation.conftest import request_for, save_key
from tests.support.generation import (
    Outcome,
    call_generate,
    generation_server,
    generation_stub,
)
from tests.support.keyvault import keyvault_stub
from tests.support.standin import provider_env, sentinel_key

# Late on the last day of a month: an hour before the monthly budget resets.
START = datetime(2026, 3, 31, 23, 0, 15, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def retry_delay_s(outcome: Outcome) -> float:
    assert outcome.error is not None
    status = rpc_status.from_call(outcome.error)
    for detail in status.details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return info.retry_delay.ToMilliseconds() / 1000
    raise AssertionError("no RetryInfo")


async def window(database_url: str, tenant: str, meter: str) -> tuple[Decimal, Decimal]:
    connection = await asyncpg.connect(database_url)
    try:
        row = await connection.fetchrow(
            "SELECT sum(used) AS used, sum(reserved) AS reserved"
            " FROM generation.limit_windows WHERE tenant_id = $1 AND meter = $2",
            tenant,
            meter,
        )
    finally:
        await connection.close()
    return row["used"] or Decimal(0), row["reserved"] or Decimal(0)


def estimate(request: generation_pb2.GenerateContentRequest) -> CallUsage:
    """What the service reserves for ``request`` on gpt-4o-mini.

    The tests here turn rewrites off, so one call per variant is reserved.
    """
    settings = GenerationSettings.from_env({})
    compliance = Compliance(request.brand_guide, request.adherence, (), 0)
    call = build_call(
        request,
        compliance,
        "gpt-4o-mini",
        "linkedin",
        0,
        1,
        settings.max_output_tokens,
    )
    return reserve_estimate(PriceTable.load(), "openai", call)


async def burst(
    pki: Pki,
    keyvault: RunningKeyVault,
    database_url: str,
    standin: Standin,
    tenant: str,
    policy: generation_pb2.TenantPolicy,
    count: int,
    clock: FakeClock,
) -> list[Outcome]:
    """``count`` concurrent requests of one tenant under ``policy``."""
    env = {
        **provider_env(standin),
        "GENERATION_DATABASE_URL": database_url,
        "GENERATION_MAX_REWRITES": "0",
    }
    async with (
        generation_server(pki, keyvault.address, clock, **env) as running,
        generation_stub(pki, running) as stub,
    ):
        await stub.SetTenantPolicy(generation_pb2.SetTenantPolicyRequest(policy=policy))
        return list(
            await asyncio.gather(
                *(
                    call_generate(stub, request_for(tenant, "openai"))
                    for _ in range(count)
                )
            )
        )


@pytest.fixture
async def keyed_tenant(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str
) -> str:
    key = sentinel_key("a")
    await save_key(pki, keyvault, tenant, "openai", key)
    # Slow enough that a burst is admitted before any request settles: a
    # settled request frees what it reserved but did not use.
    standin.script(key, Script(deltas=8, interval_s=0.1))
    return tenant


async def test_concurrent_requests_cannot_pass_the_requests_per_minute(
    pki: Pki,
    keyvault: RunningKeyVault,
    database_url: str,
    standin: Standin,
    keyed_tenant: str,
) -> None:
    policy = generation_pb2.TenantPolicy(
        tenant_id=keyed_tenant,
        limits=generation_pb2.TenantLimits(requests_per_minute=5),
    )

    outcomes = await burst(
        pki, keyvault, database_url, standin, keyed_tenant, policy, 20, FakeClock(START)
    )

    codes = [o.code for o in outcomes]
    assert codes.count(grpc.StatusCode.OK) == 5
    refused = [o for o in outcomes if o.code != grpc.StatusCode.OK]
    assert {o.code for o in refused} == {grpc.StatusCode.RESOURCE_EXHAUSTED}
    assert {o.reason for o in refused} == {"TENANT_RATE_LIMITED"}
    # Until the next minute: the clock is 15 s into this one.
    assert {retry_delay_s(o) for o in refused} == {45.0}
    assert len(standin.requests) == 5
    assert await window(database_url, keyed_tenant, "requests") == (5, 0)


async def test_concurrent_requests_cannot_overrun_the_spend_limit(
    pki: Pki,
    keyvault: RunningKeyVault,
    database_url: str,
    standin: Standin,
    keyed_tenant: str,
) -> None:
    cost = estimate(request_for(keyed_tenant, "openai")).cost_usd
    limit = float(cost * Decimal("3.5"))
    policy = generation_pb2.TenantPolicy(
        tenant_id=keyed_tenant,
        limits=generation_pb2.TenantLimits(
            spend_limit_usd=limit, spend_period=generation_pb2.SPEND_PERIOD_MONTH
        ),
    )

    outcomes = await burst(
        pki, keyvault, database_url, standin, keyed_tenant, policy, 12, FakeClock(START)
    )

    served = [o for o in outcomes if o.code == grpc.StatusCode.OK]
    refused = [o for o in outcomes if o.code != grpc.StatusCode.OK]
    assert len(served) == 3
    assert {o.reason for o in refused} == {"BUDGET_EXCEEDED"}
    # The month ends 45 minutes and 45 seconds after the clock's time.
    assert {retry_delay_s(o) for o in refused} == {3600.0 - 15}
    used, reserved = await window(database_url, keyed_tenant, "spend")
    assert reserved == 0
    spent = sum(o.summary.total_usage.cost_usd for o in served)
    assert float(used) == pytest.approx(spent, rel=1e-6)
    assert used <= Decimal(str(limit)) / Decimal("3.5") * 3


async def test_settling_frees_what_was_reserved_but_not_used(
    pki: Pki,
    keyvault: RunningKeyVault,
    database_url: str,
    standin: Standin,
    tenant: str,
) -> None:
    await save_key(pki, keyvault, tenant, "openai", sentinel_key("a"))
    cost = estimate(request_for(tenant, "openai")).cost_usd
    limit = cost * Decimal("3.5")
    policy = generation_pb2.TenantPolicy(
        tenant_id=tenant,
        limits=generation_pb2.TenantLimits(spend_limit_usd=float(limit)),
    )
    env = {
        **provider_env(standin),
        "GENERATION_DATABASE_URL": database_url,
        "GENERATION_MAX_REWRITES": "0",
    }
    async with (
        generation_server(pki, keyvault.address, FakeClock(START), **env) as running,
        generation_stub(pki, running) as stub,
    ):
        await stub.SetTenantPolicy(generation_pb2.SetTenantPolicyRequest(policy=policy))
        outcomes = [
            await call_generate(stub, request_for(tenant, "openai")) for _ in range(8)
        ]

    # One after another, each request gives back what it did not use.
    assert [o.code for o in outcomes] == [grpc.StatusCode.OK] * 8
    used, reserved = await window(database_url, tenant, "spend")
    assert reserved == 0
    assert 0 < used <= limit


async def test_the_tokens_per_minute_are_reserved_before_the_call(
    pki: Pki,
    keyvault: RunningKeyVault,
    database_url: str,
    standin: Standin,
    keyed_tenant: str,
) -> None:
    # Each request reserves its prompt and its whole output allowance.
    tokens = estimate(request_for(keyed_tenant, "openai")).tokens
    policy = generation_pb2.TenantPolicy(
        tenant_id=keyed_tenant,
        limits=generation_pb2.TenantLimits(tokens_per_minute=int(tokens * 2.5)),
    )

    outcomes = await burst(
        pki, keyvault, database_url, standin, keyed_tenant, policy, 10, FakeClock(START)
    )

    assert [o.code for o in outcomes].count(grpc.StatusCode.OK) == 2
    used, reserved = await window(database_url, keyed_tenant, "tokens")
    assert reserved == 0
    served = [o for o in outcomes if o.code == grpc.StatusCode.OK]
    assert used == sum(
        o.summary.total_usage.input_tokens + o.summary.total_usage.output_tokens
        for o in served
    )


async def test_a_new_minute_lets_the_tenant_in_again(
    pki: Pki,
    keyvault: RunningKeyVault,
    database_url: str,
    standin: Standin,
    keyed_tenant: str,
) -> None:
    clock = FakeClock(START)
    env = {
        **provider_env(standin),
        "GENERATION_DATABASE_URL": database_url,
        "GENERATION_MAX_REWRITES": "0",
    }
    policy = generation_pb2.TenantPolicy(
        tenant_id=keyed_tenant,
        limits=generation_pb2.TenantLimits(requests_per_minute=1),
    )
    async with (
        generation_server(pki, keyvault.address, clock, **env) as running,
        generation_stub(pki, running) as stub,
    ):
        await stub.SetTenantPolicy(generation_pb2.SetTenantPolicyRequest(policy=policy))
        first = await call_generate(stub, request_for(keyed_tenant, "openai"))
        second = await call_generate(stub, request_for(keyed_tenant, "openai"))
        clock.now += timedelta(seconds=45)
        third = await call_generate(stub, request_for(keyed_tenant, "openai"))

    assert [first.code, second.code, third.code] == [
        grpc.StatusCode.OK,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.OK,
    ]


async def test_a_reservation_left_by_a_stopped_replica_is_released_once_expired(
    pki: Pki,
    keyvault: RunningKeyVault,
    database_url: str,
    standin: Standin,
    keyed_tenant: str,
) -> None:
    minute = START.replace(second=0)
    connection = await asyncpg.connect(database_url)
    try:
        # What a replica that died mid-request leaves behind.
        await connection.execute(
            "INSERT INTO generation.limit_windows"
            " (tenant_id, meter, window_start, reserved)"
            " VALUES ($1, 'requests', $2, 1)",
            keyed_tenant,
            minute,
        )
        await connection.execute(
            "INSERT INTO generation.reservations (id, tenant_id, amounts, expires_at)"
            " VALUES ($1, $2, $3, $4)",
            uuid.uuid4(),
            keyed_tenant,
            f'[{{"meter": "requests", "window_start": "{minute.isoformat()}",'
            ' "amount": "1"}]',
            START - timedelta(seconds=1),
        )
    finally:
        await connection.close()
    policy = generation_pb2.TenantPolicy(
        tenant_id=keyed_tenant,
        limits=generation_pb2.TenantLimits(requests_per_minute=1),
    )

    (outcome,) = await burst(
        pki, keyvault, database_url, standin, keyed_tenant, policy, 1, FakeClock(START)
    )

    assert outcome.code == grpc.StatusCode.OK
    assert await window(database_url, keyed_tenant, "requests") == (1, 0)


async def test_service_default_limits_apply_to_tenants_without_their_own(
    pki: Pki,
    keyvault: RunningKeyVault,
    database_url: str,
    standin: Standin,
    keyed_tenant: str,
) -> None:
    env = {
        **provider_env(standin),
        "GENERATION_DATABASE_URL": database_url,
        "GENERATION_DEFAULT_REQUESTS_PER_MINUTE": "2",
    }
    async with (
        generation_server(pki, keyvault.address, FakeClock(START), **env) as running,
        generation_stub(pki, running) as stub,
    ):
        outcomes = await asyncio.gather(
            *(
                call_generate(stub, request_for(keyed_tenant, "openai"))
                for _ in range(6)
            )
        )

    assert [o.code for o in outcomes].count(grpc.StatusCode.OK) == 2


async def test_a_rate_limited_request_never_fetches_the_tenants_key(
    pki: Pki,
    keyvault: RunningKeyVault,
    database_url: str,
    standin: Standin,
    keyed_tenant: str,
) -> None:
    policy = generation_pb2.TenantPolicy(
        tenant_id=keyed_tenant,
        limits=generation_pb2.TenantLimits(requests_per_minute=1),
    )

    (first,) = await burst(
        pki, keyvault, database_url, standin, keyed_tenant, policy, 1, FakeClock(START)
    )
    refused = await burst(
        pki, keyvault, database_url, standin, keyed_tenant, policy, 3, FakeClock(START)
    )

    assert first.code == grpc.StatusCode.OK
    assert {o.reason for o in refused} == {"TENANT_RATE_LIMITED"}
    async with keyvault_stub(pki, keyvault) as admin:
        page = await admin.ListAuditEvents(
            keyvault_pb2.ListAuditEventsRequest(tenant_id=keyed_tenant)
        )
    granted = keyvault_pb2.AUDIT_EVENT_TYPE_DECRYPT_GRANTED
    assert [e.type for e in page.events].count(granted) == 1
