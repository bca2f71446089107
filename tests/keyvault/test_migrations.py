"""Schema migrations: applied once, in order, safely from replicas starting together."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from byok.keyvault.v1 import keyvault_pb2 as pb

from keyvault_service.errors import MigrationError
from keyvault_service.migrate import Migration, apply_migrations, bundled_migrations
from tests.support.keyvault import keyvault_server, keyvault_stub
from tests.support.postgres import scratch_database

LIST_REQUEST = pb.ListProvidersRequest(tenant_id="acme")


@pytest.fixture
async def fresh_database_url():
    async with scratch_database() as url:
        yield url


async def ledger(url: str) -> list[tuple[str, str]]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT version, name FROM schema_migrations ORDER BY version"
        )
    finally:
        await connection.close()
    return [(row["version"], row["name"]) for row in rows]


def test_bundled_migrations_are_numbered_from_0001_without_gaps():
    versions = [migration.version for migration in bundled_migrations()]

    assert versions[0] == "0001"
    assert versions == [f"{n:04d}" for n in range(1, len(versions) + 1)]


async def test_migrations_are_applied_once_and_recorded(fresh_database_url):
    first = await apply_migrations(fresh_database_url)
    second = await apply_migrations(fresh_database_url)

    assert first == [m.name for m in bundled_migrations()]
    assert second == []
    assert await ledger(fresh_database_url) == [
        (m.version, m.name) for m in bundled_migrations()
    ]


async def test_replicas_migrating_together_apply_each_migration_once(
    fresh_database_url,
):
    results = await asyncio.gather(
        *(apply_migrations(fresh_database_url) for _ in range(4))
    )

    applied = [names for names in results if names]
    assert applied == [[m.name for m in bundled_migrations()]]
    assert len(await ledger(fresh_database_url)) == len(bundled_migrations())


async def test_two_servers_starting_together_on_a_new_database_both_serve(
    pki, fresh_database_url
):
    async with (
        keyvault_server(pki, fresh_database_url) as first,
        keyvault_server(pki, fresh_database_url) as second,
    ):
        for running in (first, second):
            async with keyvault_stub(pki, running) as stub:
                listed = await stub.ListProviders(LIST_REQUEST)
                assert list(listed.keys) == []


async def test_a_migration_changed_after_it_was_applied_stops_the_start(
    fresh_database_url,
):
    original = bundled_migrations()[0]
    await apply_migrations(fresh_database_url, [original])
    edited = Migration(original.version, original.name, original.sql + "\n-- edit\n")

    with pytest.raises(MigrationError, match="changed after it was applied"):
        await apply_migrations(fresh_database_url, [edited])


async def test_a_failing_migration_is_rolled_back_and_not_recorded(
    fresh_database_url,
):
    broken = Migration(
        "0001", "0001_broken.sql", "CREATE TABLE half_done (id int); SELECT nope;"
    )

    with pytest.raises(MigrationError, match=r"0001_broken\.sql"):
        await apply_migrations(fresh_database_url, [broken])

    connection = await asyncpg.connect(fresh_database_url)
    try:
        exists = await connection.fetchval("SELECT to_regclass('half_done')")
    finally:
        await connection.close()
    assert exists is None
    assert await ledger(fresh_database_url) == []
