"""The data-key cache: fewer Vault calls, per tenant, and told of changes.

Vault calls are counted by a proxy in front of the real ``bao``, so the
counts come from the wire, not from the code under test. Replicas are two
real servers on one database.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import grpc
import pytest
from byok.keyvault.v1 import keyvault_pb2 as pb

from keyvault_service.cache import DataKeyCache
from keyvault_service.server import RunningKeyVault
from tests.keyvault.conftest import TEST_TRANSIT_KEY, vault_overrides
from tests.keyvault.proxy import TcpProxy, tcp_proxy
from tests.keyvault.test_availability import through
from tests.support.keyvault import keyvault_server, keyvault_stub

DECRYPT = f"/v1/transit/decrypt/{TEST_TRANSIT_KEY}"


@asynccontextmanager
async def counted_replica(
    pki, database_url: str, vault, **overrides: str
) -> AsyncIterator[tuple[RunningKeyVault, TcpProxy]]:
    """A KeyVault whose Vault calls pass through a counting proxy."""
    port = urlsplit(vault.address).port
    async with tcp_proxy("127.0.0.1", port) as proxy:
        settings = vault_overrides(
            vault, VAULT_ADDR=f"http://127.0.0.1:{proxy.port}", **overrides
        )
        async with keyvault_server(pki, database_url, **settings) as running:
            yield running, proxy


async def save(pki, running, tenant: str, key: str, provider: str = "openai") -> None:
    async with keyvault_stub(pki, running) as stub:
        await stub.SaveKey(
            pb.SaveKeyRequest(tenant_id=tenant, provider=provider, api_key=key)
        )


async def reveal(pki, running, tenant: str, provider: str = "openai") -> str:
    async with keyvault_stub(pki, running, identity="generation") as stub:
        response = await stub.GetDecryptedKey(
            pb.GetDecryptedKeyRequest(tenant_id=tenant, provider=provider)
        )
    return response.api_key


async def eventually(condition: Callable[[], bool], timeout_s: float = 5) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize(
    ("settings", "reads", "unwraps"),
    [
        pytest.param({}, 10, 1, id="warm cache"),
        pytest.param({"KEYVAULT_DK_CACHE_MAX_AGE_S": "0"}, 10, 10, id="cache off"),
        pytest.param({"KEYVAULT_DK_CACHE_MAX_USES": "3"}, 10, 3, id="three uses"),
    ],
)
async def test_a_warm_cache_cuts_vault_calls_within_its_limits(
    pki, database_url, vault, tenant, sentinels, settings, reads, unwraps
):
    key = sentinels.new()
    async with counted_replica(pki, database_url, vault, **settings) as (kv, proxy):
        await save(pki, kv, tenant, key)
        before = proxy.count("POST", DECRYPT)

        revealed = [await reveal(pki, kv, tenant) for _ in range(reads)]

        used = proxy.count("POST", DECRYPT) - before

    assert revealed == [key] * reads
    assert used == unwraps


async def test_a_cached_data_key_expires_at_its_max_age(
    pki, database_url, vault, tenant, sentinels
):
    settings = {"KEYVAULT_DK_CACHE_MAX_AGE_S": "0.3"}
    async with counted_replica(pki, database_url, vault, **settings) as (kv, proxy):
        await save(pki, kv, tenant, sentinels.new())
        before = proxy.count("POST", DECRYPT)

        await reveal(pki, kv, tenant)
        await reveal(pki, kv, tenant)
        await asyncio.sleep(0.4)
        await reveal(pki, kv, tenant)

        used = proxy.count("POST", DECRYPT) - before

    assert used == 2


async def test_another_tenants_read_never_uses_a_cached_data_key(
    pki, database_url, vault, db, tenant, sentinels
):
    victim, thief = f"{tenant}-victim", f"{tenant}-thief"
    async with counted_replica(pki, database_url, vault) as (kv, proxy):
        await save(pki, kv, victim, sentinels.new())
        await save(pki, kv, thief, sentinels.new())
        await reveal(pki, kv, victim)
        # The victim's sealed key and wrapped data key, in the thief's row.
        await db.execute(
            "UPDATE provider_keys t SET ciphertext = v.ciphertext,"
            " wrapped_key = v.wrapped_key FROM provider_keys v"
            " WHERE v.tenant_id = $1 AND t.tenant_id = $2",
            victim,
            thief,
        )
        before = proxy.count("POST", DECRYPT)

        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await reveal(pki, kv, thief)

        used = proxy.count("POST", DECRYPT) - before

    assert raised.value.code() == grpc.StatusCode.DATA_LOSS
    assert used == 1


async def test_a_save_on_one_replica_is_seen_by_the_others_next_read(
    pki, database_url, vault, tenant, sentinels
):
    first, second = sentinels.new(), sentinels.new()
    async with (
        counted_replica(pki, database_url, vault) as (writer, _),
        counted_replica(pki, database_url, vault) as (reader, reader_vault),
    ):
        cache = reader.cache
        assert isinstance(cache, DataKeyCache)
        await save(pki, writer, tenant, first)
        before = reader_vault.count("POST", DECRYPT)
        warm = [await reveal(pki, reader, tenant) for _ in range(3)]
        held_before = cache.holds(tenant)

        await save(pki, writer, tenant, second)
        # The writer's notice reaches the reader and evicts the old entry.
        await eventually(lambda: cache.holds(tenant) == 0)
        after = await reveal(pki, reader, tenant)

        unwraps = reader_vault.count("POST", DECRYPT) - before

    assert warm == [first] * 3
    assert held_before == 1
    assert after == second
    assert unwraps == 2


async def test_a_delete_on_one_replica_evicts_the_others_data_keys(
    pki, database_url, vault, tenant, sentinels
):
    async with (
        counted_replica(pki, database_url, vault) as (writer, _),
        counted_replica(pki, database_url, vault) as (reader, _),
    ):
        await save(pki, writer, tenant, sentinels.new(), provider="openai")
        await save(pki, writer, tenant, sentinels.new(), provider="google")
        await reveal(pki, reader, tenant, "openai")
        await reveal(pki, reader, tenant, "google")
        cache = reader.cache
        assert isinstance(cache, DataKeyCache)
        held = cache.holds(tenant)

        async with keyvault_stub(pki, writer) as stub:
            await stub.DeleteKey(
                pb.DeleteKeyRequest(tenant_id=tenant, provider="openai")
            )
        await eventually(lambda: cache.holds(tenant) == 1)
        async with keyvault_stub(pki, writer) as stub:
            await stub.DeleteTenant(pb.DeleteTenantRequest(tenant_id=tenant))
        await eventually(lambda: cache.holds(tenant) == 0)

    assert held == 2


async def test_the_cache_is_off_while_the_invalidation_channel_is_down(
    pki, database_url, vault, tenant, sentinels
):
    port = urlsplit(database_url).port
    async with tcp_proxy("127.0.0.1", port) as database:
        url = through(database_url, database.port)
        async with counted_replica(pki, url, vault) as (kv, proxy):
            cache = kv.cache
            assert isinstance(cache, DataKeyCache)
            await save(pki, kv, tenant, sentinels.new())
            await reveal(pki, kv, tenant)
            enabled_before = cache.enabled

            await database.cut()
            await eventually(lambda: not cache.enabled)
            held_while_down = len(cache)
            await database.restore()
            await eventually(lambda: cache.enabled, timeout_s=15)

            before = proxy.count("POST", DECRYPT)
            await reveal(pki, kv, tenant)
            await reveal(pki, kv, tenant)
            used = proxy.count("POST", DECRYPT) - before

    assert enabled_before is True
    assert held_while_down == 0
    assert used == 1


def test_entries_are_found_only_by_tenant_and_exact_wrapped_key():
    now = [0.0]
    cache = DataKeyCache(60, 100, 10, clock=lambda: now[0])
    cache.enabled = True

    cache.put("acme", "openai", "vault:v1:AAAA", b"k" * 32)

    assert cache.get("acme", "vault:v1:AAAA") == b"k" * 32
    assert cache.get("globex", "vault:v1:AAAA") is None
    assert cache.get("acme", "vault:v2:AAAA") is None
    now[0] = 60.0
    assert cache.get("acme", "vault:v1:AAAA") is None


def test_the_cache_holds_at_most_its_maximum_of_entries():
    cache = DataKeyCache(60, 100, max_entries=3)
    cache.enabled = True

    for index in range(5):
        cache.put(f"tenant-{index}", "openai", f"vault:v1:{index}", b"k" * 32)

    assert len(cache) == 3
    assert cache.get("tenant-0", "vault:v1:0") is None
    assert cache.get("tenant-4", "vault:v1:4") == b"k" * 32
