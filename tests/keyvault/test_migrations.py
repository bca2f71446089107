"""Schema migrations: applied once, in order, safely from replicas starting together."""

from __future__ import annotations

import asyncio
import os
import uuid

import asyncpg
import grpc
import pytest
from byok.keyvault.v1 import keyvault_pb2 as pb
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keyvault_service import envelope
from keyvault_service.envelope import KeyIdentity
from keyvault_service.errors import MigrationError
from keyvault_service.kek import LocalKek
from keyvault_service.migrate import Migration, apply_migrations, bundled_migrations
from tests.support.keyvault import keyvault_server, keyvault_stub

LIST_REQUEST = pb.ListProvidersRequest(tenant_id="acme")


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


async def test_a_key_sealed_before_generations_is_read_until_saved_again(
    pki, fresh_database_url, tmp_path, tenant, sentinels
):
    # The schema and the sealing of the first release.
    await apply_migrations(fresh_database_url, bundled_migrations()[:1])
    keyring = tmp_path / "keyring.json"
    key = sentinels.new()
    identity = KeyIdentity(uuid.uuid4(), tenant, "openai")
    data_key = AESGCM.generate_key(bit_length=256)
    wrapped = await LocalKek(keyring).wrap(data_key, tenant)
    nonce = os.urandom(12)
    sealed = nonce + AESGCM(data_key).encrypt(
        nonce, key.encode(), envelope.associated_data(1, identity)
    )
    old = (identity.row_id, tenant, "openai", 1, sealed, wrapped.text,
           wrapped.provider, wrapped.key_name, wrapped.version, key[-4:])
    connection = await asyncpg.connect(fresh_database_url)
    try:
        await connection.execute(
            "INSERT INTO provider_keys (id, tenant_id, provider, format_version,"
            " ciphertext, wrapped_key, kek_provider, kek_key_name, kek_version,"
            " fingerprint) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            *old,
        )
        async with keyvault_server(
            pki, fresh_database_url, KEK_LOCAL_KEYRING=str(keyring)
        ) as running:
            legacy = await reveal(pki, running, tenant)
            async with keyvault_stub(pki, running) as stub:
                await stub.SaveKey(pb.SaveKeyRequest(
                    tenant_id=tenant, provider="openai", api_key=sentinels.new()
                ))
            # The old row put back, generation and all.
            await connection.execute(
                "UPDATE provider_keys SET id = $1, format_version = $4,"
                " ciphertext = $5, wrapped_key = $6, kek_provider = $7,"
                " kek_key_name = $8, kek_version = $9, fingerprint = $10,"
                " generation = 0 WHERE tenant_id = $2 AND provider = $3",
                *old,
            )
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await reveal(pki, running, tenant)
    finally:
        await connection.close()

    assert legacy == key
    assert raised.value.code() == grpc.StatusCode.DATA_LOSS


async def reveal(pki, running, tenant: str) -> str:
    async with keyvault_stub(pki, running, identity="generation") as stub:
        response = await stub.GetDecryptedKey(
            pb.GetDecryptedKeyRequest(tenant_id=tenant, provider="openai")
        )
    return response.api_key
