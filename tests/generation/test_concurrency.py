"""Many tenants at once: every request carries its own tenant's key."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import asyncpg
import grpc

from keyvault_service.server import RunningKeyVault
from provider_standin import Script, Standin
from tests.conftest import Pki
from tests.generation.conftest import CapturedLogs, request_for, save_key
from tests.support.generation import call_generate, generation_server, generation_stub
from tests.support.standin import provider_env, sentinel_key

REQUESTS_PER_TENANT = 100
# Both wire protocols, and two hosts of the OpenAI-compatible one.
PROVIDERS = ("openai", "anthropic", "deepseek")


async def test_300_interleaved_requests_of_three_tenants_each_carry_their_own_key(
    pki: Pki,
    keyvault: RunningKeyVault,
    database_url: str,
    standin: Standin,
    captured_logs: CapturedLogs,
    tenant: str,
) -> None:
    tenants = {
        f"{tenant}-{index}": provider for index, provider in enumerate(PROVIDERS)
    }
    keys = {name: sentinel_key(name[-1]) for name in tenants}
    for name, provider in tenants.items():
        await save_key(pki, keyvault, name, provider, keys[name])
        # The provider writes each tenant's own text, so a response shows
        # whose key produced it.
        standin.script(
            keys[name], Script(text=f"Written for {name}.", deltas=4, interval_s=0.01)
        )
    order = [name for name in tenants for _ in range(REQUESTS_PER_TENANT)]
    random.Random(7).shuffle(order)  # noqa: S311 - an order, not a secret
    env = {**provider_env(standin), "GENERATION_DATABASE_URL": database_url}

    async with (
        generation_server(pki, keyvault.address, **env) as running,
        generation_stub(pki, running) as stub,
    ):
        outcomes = await asyncio.gather(
            *(
                call_generate(stub, request_for(name, tenants[name]), deadline_s=60)
                for name in order
            )
        )
        cache = running.adapters.cache_stats()

    for name, outcome in zip(order, outcomes, strict=True):
        assert outcome.code == grpc.StatusCode.OK, outcome.error
        (completed,) = outcome.completed()
        assert completed.text == f"Written for {name}."
        assert completed.key_fingerprint == keys[name][-4:]
        assert outcome.trailers["byok-key-fingerprint"] == keys[name][-4:]
    # Every key reached the provider exactly as often as its tenant asked.
    assert Counter(r.api_key for r in standin.requests) == {
        keys[name]: REQUESTS_PER_TENANT for name in tenants
    }
    paths = {(r.api_key, r.path) for r in standin.requests}
    assert paths == {
        (
            keys[name],
            "/v1/messages" if provider == "anthropic" else "/v1/chat/completions",
        )
        for name, provider in tenants.items()
    }
    # Concurrent requests of a tenant shared their KeyVault lookups.
    lookups = [line for line in captured_logs.rpc_lines() if "GetDecryptedKey" in line]
    assert 3 <= len(lookups) < len(order) / 2
    # One SDK client per key, reused by all its tenant's requests.
    assert cache.misses == 3
    assert cache.hits == 3 * REQUESTS_PER_TENANT - 3

    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT tenant_id, key_fingerprint, count(*) AS calls"
            " FROM generation.usage_records WHERE tenant_id = ANY($1::text[])"
            " GROUP BY tenant_id, key_fingerprint",
            list(tenants),
        )
    finally:
        await connection.close()
    assert {(r["tenant_id"], r["key_fingerprint"], r["calls"]) for r in rows} == {
        (name, keys[name][-4:], REQUESTS_PER_TENANT) for name in tenants
    }
