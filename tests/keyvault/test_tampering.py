"""Rows changed behind KeyVault's back are refused, never served to another tenant.

Each test stores real keys through the service, edits the ``provider_keys``
rows directly in PostgreSQL, and reads through the service again.
"""

from __future__ import annotations

import base64

import grpc
import pytest
from byok.keyvault.v1 import keyvault_pb2 as pb

from shared.rpc import error_info
from tests.support.keyvault import keyvault_stub
from tests.support.postgres import scratch_database

ENVELOPE_COLUMNS = (
    "id", "format_version", "ciphertext", "wrapped_key",
    "kek_provider", "kek_key_name", "kek_version",
)


@pytest.fixture(scope="module")
async def database_url():
    """A database of the module's own: the rows it edits stay edited."""
    async with scratch_database() as url:
        yield url


async def save(pki, running, tenant, provider, key):
    async with keyvault_stub(pki, running) as stub:
        await stub.SaveKey(
            pb.SaveKeyRequest(tenant_id=tenant, provider=provider, api_key=key)
        )


async def read_outcome(pki, running, tenant, provider) -> str | grpc.StatusCode:
    """The decrypted key, or the status the read failed with."""
    async with keyvault_stub(pki, running, identity="generation") as stub:
        try:
            response = await stub.GetDecryptedKey(
                pb.GetDecryptedKeyRequest(tenant_id=tenant, provider=provider)
            )
        except grpc.aio.AioRpcError as error:
            failure = error
        else:
            return response.api_key
    opaque = (failure.details(), error_info(failure).reason) == (
        "the stored key cannot be decrypted",
        "KEY_UNREADABLE",
    )
    if failure.code() == grpc.StatusCode.DATA_LOSS and not opaque:
        return f"DATA_LOSS with unexpected details {failure.details()!r}"
    return failure.code()


async def swap_envelopes(db, first: tuple[str, str], second: tuple[str, str]) -> None:
    """Exchange the sealed parts of two rows, leaving tenant and provider."""
    rows = [
        await db.fetchrow(
            f"SELECT {', '.join(ENVELOPE_COLUMNS)} FROM provider_keys"  # noqa: S608
            " WHERE tenant_id = $1 AND provider = $2",
            *where,
        )
        for where in (first, second)
    ]
    assignments = ", ".join(
        f"{column} = ${index + 3}" for index, column in enumerate(ENVELOPE_COLUMNS)
    )
    async with db.transaction():
        # Park one row on a temporary id so the primary key never collides.
        await db.execute(
            "UPDATE provider_keys SET id = gen_random_uuid()"
            " WHERE tenant_id = $1 AND provider = $2",
            *first,
        )
        for where, row in ((second, rows[0]), (first, rows[1])):
            await db.execute(
                f"UPDATE provider_keys SET {assignments}"  # noqa: S608
                " WHERE tenant_id = $1 AND provider = $2",
                *where,
                *row.values(),
            )


async def test_rows_are_sealed_by_the_configured_kek(
    pki, keyvault, db, tenant, sentinels, kek_overrides
):
    await save(pki, keyvault, tenant, "openai", sentinels.new())

    row = await db.fetchrow(
        "SELECT * FROM provider_keys WHERE tenant_id = $1", tenant
    )

    provider = kek_overrides["KEK_PROVIDER"]
    counter = await db.fetchval(
        "SELECT generation FROM key_generations WHERE tenant_id = $1", tenant
    )
    assert row["kek_provider"] == provider
    assert row["wrapped_key"].startswith(f"{provider}:v{row['kek_version']}:")
    assert row["format_version"] == 2
    assert row["generation"] == counter > 0
    assert len(row["ciphertext"]) == 12 + len(sentinels.issued[0]) + 16
    assert row["fingerprint"] == sentinels.issued[0][-4:]


@pytest.mark.parametrize("position", [0, 11, 12, 30, -17, -1])
async def test_a_flipped_ciphertext_byte_is_data_loss(
    pki, keyvault, db, tenant, sentinels, position
):
    await save(pki, keyvault, tenant, "openai", sentinels.new())

    await db.execute(
        "UPDATE provider_keys SET ciphertext = set_byte(ciphertext, i,"
        " get_byte(ciphertext, i) # 1)"
        " FROM (SELECT CASE WHEN $2::int < 0 THEN length(ciphertext) + $2::int"
        " ELSE $2::int END AS i FROM provider_keys WHERE tenant_id = $1) AS p"
        " WHERE tenant_id = $1",
        tenant,
        position,
    )

    assert await read_outcome(pki, keyvault, tenant, "openai") == (
        grpc.StatusCode.DATA_LOSS
    )


async def test_a_truncated_ciphertext_is_data_loss(
    pki, keyvault, db, tenant, sentinels
):
    await save(pki, keyvault, tenant, "openai", sentinels.new())

    await db.execute(
        "UPDATE provider_keys SET ciphertext = substring(ciphertext from 1 for 20)"
        " WHERE tenant_id = $1",
        tenant,
    )

    assert await read_outcome(pki, keyvault, tenant, "openai") == (
        grpc.StatusCode.DATA_LOSS
    )


@pytest.mark.parametrize("position", [0, 11, 12, 40, -1])
async def test_a_flipped_wrapped_key_byte_is_data_loss(
    pki, keyvault, db, tenant, sentinels, position
):
    await save(pki, keyvault, tenant, "openai", sentinels.new())
    wrapped = await db.fetchval(
        "SELECT wrapped_key FROM provider_keys WHERE tenant_id = $1", tenant
    )
    prefix, version, body = wrapped.split(":")
    raw = bytearray(base64.b64decode(body))
    raw[position] ^= 0x01

    await db.execute(
        "UPDATE provider_keys SET wrapped_key = $2 WHERE tenant_id = $1",
        tenant,
        f"{prefix}:{version}:{base64.b64encode(bytes(raw)).decode()}",
    )

    assert await read_outcome(pki, keyvault, tenant, "openai") == (
        grpc.StatusCode.DATA_LOSS
    )


@pytest.mark.parametrize(
    "edit",
    [
        "wrapped_key = 'garbage'",
        "wrapped_key = regexp_replace(wrapped_key, ':v[0-9]+:', ':v99:')",
        "wrapped_key = left(wrapped_key, 30)",
        "format_version = 1",
        "format_version = 3",
        "id = gen_random_uuid()",
        "generation = generation - 1",
        "kek_version = kek_version + 1",
        "kek_provider = CASE kek_provider WHEN 'local' THEN 'vault' ELSE 'local' END",
        "kek_key_name = 'a-kek-never-used-here'",
    ],
)
async def test_an_edited_envelope_field_is_data_loss(
    pki, keyvault, db, tenant, sentinels, edit
):
    await save(pki, keyvault, tenant, "openai", sentinels.new())

    await db.execute(
        f"UPDATE provider_keys SET {edit} WHERE tenant_id = $1",  # noqa: S608
        tenant,
    )

    assert await read_outcome(pki, keyvault, tenant, "openai") == (
        grpc.StatusCode.DATA_LOSS
    )


async def test_envelopes_swapped_between_tenants_never_serve_the_other_key(
    pki, keyvault, db, sentinels, tenant
):
    victim, attacker = f"{tenant}-victim", f"{tenant}-attacker"
    await save(pki, keyvault, victim, "openai", sentinels.new())
    await save(pki, keyvault, attacker, "openai", sentinels.new())

    await swap_envelopes(db, (victim, "openai"), (attacker, "openai"))

    for reader in (victim, attacker):
        assert await read_outcome(pki, keyvault, reader, "openai") == (
            grpc.StatusCode.DATA_LOSS
        )


async def test_envelopes_swapped_between_providers_are_data_loss(
    pki, keyvault, db, sentinels, tenant
):
    await save(pki, keyvault, tenant, "openai", sentinels.new())
    await save(pki, keyvault, tenant, "anthropic", sentinels.new())

    await swap_envelopes(db, (tenant, "openai"), (tenant, "anthropic"))

    for provider in ("openai", "anthropic"):
        assert await read_outcome(pki, keyvault, tenant, provider) == (
            grpc.StatusCode.DATA_LOSS
        )


async def test_a_row_relabelled_to_another_tenant_is_data_loss(
    pki, keyvault, db, sentinels, tenant
):
    victim, attacker = f"{tenant}-victim", f"{tenant}-attacker"
    await save(pki, keyvault, victim, "openai", sentinels.new())

    await db.execute(
        "UPDATE provider_keys SET tenant_id = $2 WHERE tenant_id = $1", victim, attacker
    )

    assert await read_outcome(pki, keyvault, attacker, "openai") == (
        grpc.StatusCode.DATA_LOSS
    )


async def test_only_the_ciphertext_moved_across_tenants_is_data_loss(
    pki, keyvault, db, sentinels, tenant
):
    victim, attacker = f"{tenant}-victim", f"{tenant}-attacker"
    await save(pki, keyvault, victim, "openai", sentinels.new())
    await save(pki, keyvault, attacker, "openai", sentinels.new())

    await db.execute(
        "UPDATE provider_keys SET ciphertext = (SELECT ciphertext FROM provider_keys"
        " WHERE tenant_id = $1) WHERE tenant_id = $2",
        victim,
        attacker,
    )

    assert await read_outcome(pki, keyvault, attacker, "openai") == (
        grpc.StatusCode.DATA_LOSS
    )
    assert await read_outcome(pki, keyvault, victim, "openai") == sentinels.issued[0]


async def test_a_row_wrapped_by_a_kek_this_deployment_used_before_is_a_mismatch(
    pki, keyvault, db, sentinels, tenant
):
    await save(pki, keyvault, tenant, "openai", sentinels.new())
    # The KEK the service ran with before a configuration change.
    await db.execute(
        "INSERT INTO kek_registry (kek_provider, kek_key_name)"
        " SELECT kek_provider, 'retired-kek' FROM provider_keys WHERE tenant_id = $1"
        " ON CONFLICT DO NOTHING",
        tenant,
    )

    await db.execute(
        "UPDATE provider_keys SET kek_key_name = 'retired-kek' WHERE tenant_id = $1",
        tenant,
    )

    assert await read_outcome(pki, keyvault, tenant, "openai") == (
        grpc.StatusCode.INTERNAL
    )


async def test_an_old_envelope_restored_into_a_replaced_row_is_data_loss(
    pki, keyvault, db, sentinels, tenant
):
    await save(pki, keyvault, tenant, "openai", sentinels.new())
    old = await db.fetchrow(
        "SELECT id, ciphertext, wrapped_key FROM provider_keys WHERE tenant_id = $1",
        tenant,
    )
    await save(pki, keyvault, tenant, "openai", sentinels.new())

    await db.execute(
        "UPDATE provider_keys SET ciphertext = $2, wrapped_key = $3"
        " WHERE tenant_id = $1",
        tenant,
        old["ciphertext"],
        old["wrapped_key"],
    )

    new_id = await db.fetchval(
        "SELECT id FROM provider_keys WHERE tenant_id = $1", tenant
    )
    assert new_id != old["id"]
    assert await read_outcome(pki, keyvault, tenant, "openai") == (
        grpc.StatusCode.DATA_LOSS
    )


async def test_a_whole_row_rolled_back_to_an_earlier_save_is_data_loss(
    pki, keyvault, db, sentinels, tenant
):
    await save(pki, keyvault, tenant, "openai", sentinels.new())
    earlier = await db.fetchrow(
        "SELECT * FROM provider_keys WHERE tenant_id = $1", tenant
    )
    await save(pki, keyvault, tenant, "openai", sentinels.new())

    # Every column back as it was: what a partial restore or a replayed
    # write would do.
    row = dict(earlier)
    columns = [name for name in row if name not in ("tenant_id", "provider")]
    assignments = ", ".join(f"{c} = ${i + 2}" for i, c in enumerate(columns))
    await db.execute(
        f"UPDATE provider_keys SET {assignments} WHERE tenant_id = $1",  # noqa: S608
        tenant,
        *(row[c] for c in columns),
    )

    assert await read_outcome(pki, keyvault, tenant, "openai") == (
        grpc.StatusCode.DATA_LOSS
    )


async def test_a_deleted_key_put_back_is_data_loss(
    pki, keyvault, db, sentinels, tenant
):
    await save(pki, keyvault, tenant, "openai", sentinels.new())
    earlier = await db.fetchrow(
        "SELECT * FROM provider_keys WHERE tenant_id = $1", tenant
    )
    async with keyvault_stub(pki, keyvault) as stub:
        await stub.DeleteKey(pb.DeleteKeyRequest(tenant_id=tenant, provider="openai"))

    columns = list(earlier.keys())
    await db.execute(
        f"INSERT INTO provider_keys ({', '.join(columns)})"  # noqa: S608
        f" VALUES ({', '.join(f'${i + 1}' for i in range(len(columns)))})",
        *earlier.values(),
    )

    assert await read_outcome(pki, keyvault, tenant, "openai") == (
        grpc.StatusCode.DATA_LOSS
    )


@pytest.mark.parametrize(
    "edit",
    [
        "DELETE FROM key_generations WHERE tenant_id = $1",
        "UPDATE key_generations SET generation = generation + 1 WHERE tenant_id = $1",
    ],
    ids=["counter deleted", "counter moved on"],
)
async def test_a_generation_counter_that_disagrees_is_data_loss(
    pki, keyvault, db, sentinels, tenant, edit
):
    await save(pki, keyvault, tenant, "openai", sentinels.new())

    await db.execute(edit, tenant)

    assert await read_outcome(pki, keyvault, tenant, "openai") == (
        grpc.StatusCode.DATA_LOSS
    )


async def test_a_tampered_read_is_recorded_as_a_failed_decrypt(
    pki, keyvault, db, sentinels, tenant
):
    await save(pki, keyvault, tenant, "openai", sentinels.new())
    await db.execute(
        "UPDATE provider_keys SET ciphertext ="
        " set_byte(ciphertext, 20, get_byte(ciphertext, 20) # 1) WHERE tenant_id = $1",
        tenant,
    )

    await read_outcome(pki, keyvault, tenant, "openai")

    events = await db.fetch(
        "SELECT event, caller, detail FROM key_events WHERE tenant_id = $1"
        " ORDER BY id",
        tenant,
    )
    assert [tuple(e.values()) for e in events][-1] == (
        "decrypt_failed", "generation", "KEY_UNREADABLE"
    )
