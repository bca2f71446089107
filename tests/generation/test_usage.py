"""Usage and cost per variant, and the usage records in PostgreSQL."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import asyncpg
import grpc
import pytest
from byok.generation.v1 import generation_pb2

from generation_service.errors import StoreUnavailable
from keyvault_service.server import RunningKeyVault
from provider_standin import DEFAULT_TEXT, Behaviour, Script, Standin, UsageShape
from tests.conftest import Pki
from tests.generation.conftest import request_for, save_key
from tests.support.generation import (
    call_generate,
    generate,
    generation_server,
    generation_stub,
)
from tests.support.ports import free_port
from tests.support.standin import pieces_of, provider_env, sentinel_key

MILLION = Decimal(1_000_000)


async def usage_rows(database_url: str, tenant: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(database_url)
    try:
        return await connection.fetch(
            "SELECT * FROM generation.usage_records WHERE tenant_id = $1 ORDER BY id",
            tenant,
        )
    finally:
        await connection.close()


def cost(input_tokens: int, output_tokens: int, input_price: str, output: str) -> float:
    total = input_tokens * Decimal(input_price) + output_tokens * Decimal(output)
    return float(total / MILLION)


@pytest.mark.parametrize(
    "shape", [UsageShape.SEPARATE, UsageShape.ON_FINISH, UsageShape.CUMULATIVE]
)
async def test_reported_usage_is_priced_from_the_price_table(
    pki: Pki,
    keyvault: RunningKeyVault,
    standin: Standin,
    tenant: str,
    shape: UsageShape,
) -> None:
    key = sentinel_key("a")
    await save_key(pki, keyvault, tenant, "openai", key)
    standin.script(key, Script(usage_shape=shape, leading_empty=2))

    outcome = await generate(
        pki, keyvault.address, request_for(tenant, "openai"), **provider_env(standin)
    )

    usage = outcome.completed()[0].usage
    assert usage.output_tokens == 8
    assert usage.input_tokens == len(
        standin.requests[0].body["messages"][0]["content"].split()
    ) + len(standin.requests[0].body["messages"][1]["content"].split())
    assert not usage.estimated
    # gpt-4o-mini: $0.15 in, $0.60 out per million tokens.
    assert usage.cost_usd == pytest.approx(
        cost(usage.input_tokens, 8, "0.15", "0.60"), rel=1e-9
    )
    assert not usage.cost_estimated
    assert outcome.summary.total_usage.cost_usd == pytest.approx(usage.cost_usd)


async def test_anthropic_cache_reads_are_priced_at_the_cached_rate(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str
) -> None:
    key = sentinel_key("a")
    await save_key(pki, keyvault, tenant, "anthropic", key)
    standin.script(key, Script(cached_input_tokens=1000))

    outcome = await generate(
        pki,
        keyvault.address,
        request_for(tenant, "anthropic"),
        **provider_env(standin),
    )

    usage = outcome.completed()[0].usage
    assert usage.cached_input_tokens == 1000
    fresh = usage.input_tokens - 1000
    # claude-3-5-haiku: $0.80 in, $0.08 cached, $4.00 out per million.
    expected = (
        fresh * Decimal("0.80") + 1000 * Decimal("0.08") + 8 * Decimal("4.00")
    ) / MILLION
    assert usage.cost_usd == pytest.approx(float(expected), rel=1e-9)


async def test_missing_usage_is_estimated_flagged_and_never_zero(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str
) -> None:
    key = sentinel_key("a")
    await save_key(pki, keyvault, tenant, "qwen", key)
    standin.script(key, Script(usage=False))

    outcome = await generate(
        pki, keyvault.address, request_for(tenant, "qwen"), **provider_env(standin)
    )

    usage = outcome.completed()[0].usage
    assert usage.estimated
    assert usage.output_tokens == math.ceil(len(DEFAULT_TEXT) / 4)
    assert usage.input_tokens > 0
    assert usage.cost_usd > 0


async def test_a_model_without_a_price_gets_the_default_marked_estimated(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str
) -> None:
    await save_key(pki, keyvault, tenant, "openai", sentinel_key("a"))

    outcome = await generate(
        pki,
        keyvault.address,
        request_for(tenant, "openai", model="o9-preview"),
        **provider_env(standin),
    )

    usage = outcome.completed()[0].usage
    assert usage.cost_estimated
    assert usage.cost_usd == pytest.approx(
        cost(usage.input_tokens, usage.output_tokens, "15", "75"), rel=1e-9
    )


async def test_a_price_table_file_replaces_the_bundled_one(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str, tmp_path: Path
) -> None:
    table = tmp_path / "prices.toml"
    table.write_text(
        "[default]\ninput = 1\noutput = 1\n\n"
        '[openai]\n"gpt-4o-mini" = { input = 1000000, output = 2000000 }\n'
    )
    await save_key(pki, keyvault, tenant, "openai", sentinel_key("a"))
    env = {**provider_env(standin), "GENERATION_PRICE_TABLE": str(table)}

    outcome = await generate(
        pki, keyvault.address, request_for(tenant, "openai"), **env
    )

    usage = outcome.completed()[0].usage
    assert usage.cost_usd == usage.input_tokens + 2 * usage.output_tokens


async def test_every_provider_call_is_recorded_with_tenant_key_source_and_status(
    pki: Pki,
    keyvault: RunningKeyVault,
    database_url: str,
    standin: Standin,
    tenant: str,
) -> None:
    key = sentinel_key("a")
    await save_key(pki, keyvault, tenant, "openai", key)
    standin.script(
        key,
        Script(behaviour=Behaviour.OVERLOADED_MID_STREAM, fail_after=0),
        Script(),
        Script(behaviour=Behaviour.CUT, fail_after=3),
    )
    env = {**provider_env(standin), "GENERATION_DATABASE_URL": database_url}

    async with (
        generation_server(pki, keyvault.address, **env) as running,
        generation_stub(pki, running) as stub,
    ):
        ok = await call_generate(stub, request_for(tenant, "openai"))
        cut = await call_generate(stub, request_for(tenant, "openai"))
        totals = await stub.GetUsage(generation_pb2.GetUsageRequest(tenant_id=tenant))

    rows = await usage_rows(database_url, tenant)
    assert [(r["status"], r["outcome"]) for r in rows] == [
        ("failed", "PROVIDER_ERROR"),
        ("completed", "ok"),
        ("failed", "STREAM_INCOMPLETE"),
    ]
    assert {r["request_id"] for r in rows[:2]} == {ok.summary.request_id}
    assert rows[2]["request_id"] == cut.trailers["byok-request-id"]
    assert all(r["provider"] == "openai" for r in rows)
    assert all(r["model"] == "gpt-4o-mini" for r in rows)
    assert all(r["key_source"] == "tenant" for r in rows)
    assert all(r["key_fingerprint"] == key[-4:] for r in rows)
    completed = rows[1]
    assert completed["output_tokens"] == 8
    assert not completed["usage_estimated"]
    assert completed["cost_usd"] > 0
    # The cut stream streamed text: estimated, never zero.
    assert rows[2]["usage_estimated"]
    assert rows[2]["output_tokens"] > 0
    assert not pieces_of(key) & pieces_of(str([dict(r) for r in rows]))

    by_status = {generation_pb2.UsageStatus.Name(t.status): t for t in totals.totals}
    assert by_status["USAGE_STATUS_COMPLETED"].calls == 1
    assert by_status["USAGE_STATUS_FAILED"].calls == 2
    assert by_status["USAGE_STATUS_FAILED"].estimated_calls == 2
    assert by_status["USAGE_STATUS_COMPLETED"].cost_usd == pytest.approx(
        float(completed["cost_usd"])
    )


async def test_a_cancelled_call_is_recorded_with_what_was_received(
    pki: Pki,
    keyvault: RunningKeyVault,
    database_url: str,
    standin: Standin,
    tenant: str,
) -> None:
    key = sentinel_key("a")
    await save_key(pki, keyvault, tenant, "anthropic", key)
    standin.script(key, Script(deltas=64, interval_s=0.05))
    env = {**provider_env(standin), "GENERATION_DATABASE_URL": database_url}

    async with (
        generation_server(pki, keyvault.address, **env) as running,
        generation_stub(pki, running) as stub,
    ):
        call = stub.GenerateContent(request_for(tenant, "anthropic"), timeout=20)
        deltas = 0
        async for event in call:
            if event.WhichOneof("event") == "text_delta":
                deltas += 1
                if deltas == 3:
                    break
        call.cancel()
        assert await standin.requests[0].wait_ended(3)

    (row,) = await usage_rows(database_url, tenant)
    assert row["status"] == "cancelled"
    assert row["usage_estimated"]
    # Input from message_start; output only what had arrived.
    assert row["input_tokens"] > 1
    assert 0 < row["output_tokens"] < 64
    assert row["cost_usd"] > 0


async def test_without_a_database_usage_totals_say_so(
    pki: Pki, keyvault: RunningKeyVault, tenant: str
) -> None:
    async with (
        generation_server(pki, keyvault.address) as running,
        generation_stub(pki, running) as stub,
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.GetUsage(generation_pb2.GetUsageRequest(tenant_id=tenant))

    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_an_unreachable_database_stops_the_start(
    pki: Pki, keyvault: RunningKeyVault
) -> None:
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/none"

    with pytest.raises(StoreUnavailable):
        async with generation_server(
            pki, keyvault.address, GENERATION_DATABASE_URL=nowhere
        ):
            pass


async def test_generations_schema_lives_beside_keyvaults_in_one_database(
    pki: Pki, keyvault: RunningKeyVault, database_url: str
) -> None:
    # Started twice: the second start finds its migrations applied.
    for _ in range(2):
        async with generation_server(
            pki, keyvault.address, GENERATION_DATABASE_URL=database_url
        ):
            pass

    connection = await asyncpg.connect(database_url)
    try:
        ours = await connection.fetch(
            "SELECT name FROM generation.schema_migrations ORDER BY version"
        )
        ledgers = await connection.fetch(
            "SELECT table_schema FROM information_schema.tables"
            " WHERE table_name = 'schema_migrations' ORDER BY table_schema"
        )
    finally:
        await connection.close()
    assert [row["name"] for row in ours] == ["0001_usage_and_limits.sql"]
    assert [row["table_schema"] for row in ledgers] == ["generation", "public"]


async def test_usage_totals_count_the_calls_priced_at_the_default(
    pki: Pki,
    keyvault: RunningKeyVault,
    database_url: str,
    standin: Standin,
    tenant: str,
) -> None:
    await save_key(pki, keyvault, tenant, "openai", sentinel_key("a"))
    env = {**provider_env(standin), "GENERATION_DATABASE_URL": database_url}

    async with (
        generation_server(pki, keyvault.address, **env) as running,
        generation_stub(pki, running) as stub,
    ):
        unpriced = await call_generate(
            stub, request_for(tenant, "openai", model="o9-preview")
        )
        priced = await call_generate(stub, request_for(tenant, "openai"))
        totals = await stub.GetUsage(generation_pb2.GetUsageRequest(tenant_id=tenant))

    assert unpriced.completed()[0].usage.cost_estimated
    assert not priced.completed()[0].usage.cost_estimated
    by_model = {t.model: t for t in totals.totals}
    assert by_model["o9-preview"].cost_estimated_calls == 1
    assert by_model["o9-preview"].estimated_calls == 0
    assert by_model["gpt-4o-mini"].cost_estimated_calls == 0
