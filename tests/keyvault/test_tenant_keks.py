"""Per-tenant KEKs, deleting a tenant, and shredding its KEK after the grace period."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path

import grpc
import pytest
from byok.keyvault.v1 import keyvault_pb2 as pb

from shared.rpc import error_info
from tests.support.keyvault import keyvault_server, keyvault_stub

PROVIDERS = ("openai", "anthropic", "google")


def tenant_keks(own_kek: dict[str, str], **extra: str) -> dict[str, str]:
    return {**own_kek, "KEYVAULT_TENANT_KEKS": "true", **extra}


async def save_all(stub, tenant: str, sentinels) -> None:
    for provider in PROVIDERS:
        await stub.SaveKey(pb.SaveKeyRequest(
            tenant_id=tenant, provider=provider, api_key=sentinels.new()
        ))


async def read(pki, running, tenant: str, provider: str) -> str | grpc.StatusCode:
    async with keyvault_stub(pki, running, identity="generation") as stub:
        try:
            response = await stub.GetDecryptedKey(
                pb.GetDecryptedKeyRequest(tenant_id=tenant, provider=provider)
            )
        except grpc.aio.AioRpcError as error:
            return error.code()
    return response.api_key


def tenant_kek_exists(own_kek: dict[str, str], vault_or_none, tenant: str) -> bool:
    if own_kek["KEK_PROVIDER"] == "local":
        folder = Path(own_kek["KEK_LOCAL_KEYRING"]).parent / "tenant-keks"
        return (folder / f"{tenant}.json").exists()
    found = vault_or_none.api("GET", f"transit/keys/byok-tenant-{tenant}-kek")
    return found.status_code == 200


async def restore(db, tenant: str, rows) -> None:
    """Put back rows and their generation counters, as a backup restore would."""
    for row in rows:
        columns = list(row.keys())
        await db.execute(
            f"INSERT INTO provider_keys ({', '.join(columns)})"  # noqa: S608
            f" VALUES ({', '.join(f'${i + 1}' for i in range(len(columns)))})",
            *row.values(),
        )
    await db.execute(
        "UPDATE key_generations g SET generation = k.generation"
        " FROM provider_keys k WHERE g.tenant_id = $1"
        " AND k.tenant_id = g.tenant_id AND k.provider = g.provider",
        tenant,
    )


def tenant_kek_name(own_kek: dict[str, str], tenant: str) -> str:
    if own_kek["KEK_PROVIDER"] == "local":
        return f"byok-local-kek/tenant/{tenant}"
    return f"transit/byok-tenant-{tenant}-kek"


@pytest.fixture
def vault_or_none(request: pytest.FixtureRequest, own_kek):
    if own_kek["KEK_PROVIDER"] == "vault":
        return request.getfixturevalue("vault")
    return None


async def test_a_shredded_tenants_backed_up_keys_can_never_be_read_again(
    pki, fresh_database_url, own_kek, vault_or_none, db_of, tenant, sentinels
):
    db = await db_of(fresh_database_url)
    other = f"{tenant}-other"
    settings = tenant_keks(own_kek, KEYVAULT_SHRED_GRACE_S="0")
    async with (
        keyvault_server(pki, fresh_database_url, **settings) as kv,
        keyvault_stub(pki, kv) as admin,
    ):
        await save_all(admin, tenant, sentinels)
        await save_all(admin, other, sentinels)
        kek_names = {r["kek_key_name"] for r in await db.fetch(
            "SELECT kek_key_name FROM provider_keys WHERE tenant_id = $1", tenant
        )}
        backup = await db.fetch(
            "SELECT * FROM provider_keys WHERE tenant_id = $1", tenant
        )
        existed = tenant_kek_exists(own_kek, vault_or_none, tenant)

        deleted = await admin.DeleteTenant(pb.DeleteTenantRequest(tenant_id=tenant))
        left = await db.fetchval(
            "SELECT count(*) FROM provider_keys WHERE tenant_id = $1", tenant
        )
        await restore(db, tenant, backup)
        after_restore = [await read(pki, kv, tenant, p) for p in PROVIDERS]
        others = [await read(pki, kv, other, p) for p in PROVIDERS]

    assert kek_names == {tenant_kek_name(own_kek, tenant)}
    assert existed is True
    assert deleted.deleted_keys == 3
    assert deleted.HasField("shred_time")
    assert left == 0
    assert not tenant_kek_exists(own_kek, vault_or_none, tenant)
    assert after_restore == [grpc.StatusCode.DATA_LOSS] * 3
    assert all(isinstance(key, str) for key in others)


async def test_during_the_grace_period_the_kek_lives_and_no_key_can_be_saved(
    pki, fresh_database_url, own_kek, vault_or_none, tenant, sentinels
):
    settings = tenant_keks(
        own_kek, KEYVAULT_SHRED_GRACE_S="1", KEYVAULT_SHRED_SWEEP_S="0.2"
    )
    async with (
        keyvault_server(pki, fresh_database_url, **settings) as kv,
        keyvault_stub(pki, kv) as admin,
    ):
        await save_all(admin, tenant, sentinels)
        asked_at = dt.datetime.now(dt.UTC)
        deleted = await admin.DeleteTenant(pb.DeleteTenantRequest(tenant_id=tenant))
        during = tenant_kek_exists(own_kek, vault_or_none, tenant)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await admin.SaveKey(pb.SaveKeyRequest(
                tenant_id=tenant, provider="openai", api_key=sentinels.new()
            ))

        deadline = time.monotonic() + 10
        while tenant_kek_exists(own_kek, vault_or_none, tenant):
            assert time.monotonic() < deadline, "the KEK was never shredded"
            await asyncio.sleep(0.1)
        # Once shredded, the tenant id may be used again, under a new KEK.
        key = sentinels.new()
        await admin.SaveKey(
            pb.SaveKeyRequest(tenant_id=tenant, provider="openai", api_key=key)
        )
        reborn = await read(pki, kv, tenant, "openai")
        events = await admin.ListAuditEvents(
            pb.ListAuditEventsRequest(tenant_id=tenant, page_size=4)
        )

    grace = deleted.shred_time.ToDatetime(tzinfo=dt.UTC) - asked_at
    assert dt.timedelta(seconds=0.8) < grace < dt.timedelta(seconds=1.5)
    assert during is True
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(refused.value).reason == "TENANT_DELETED"
    assert reborn == key
    assert [e.type for e in events.events] == [
        pb.AUDIT_EVENT_TYPE_DECRYPT_GRANTED,
        pb.AUDIT_EVENT_TYPE_SAVED,
        pb.AUDIT_EVENT_TYPE_TENANT_SHREDDED,
        pb.AUDIT_EVENT_TYPE_TENANT_DELETED,
    ]


async def test_without_tenant_keks_deletion_removes_the_rows_and_shreds_nothing(
    pki, keyvault, db, tenant, sentinels
):
    async with keyvault_stub(pki, keyvault) as admin:
        await save_all(admin, tenant, sentinels)
        deleted = await admin.DeleteTenant(pb.DeleteTenantRequest(tenant_id=tenant))
        again = await admin.DeleteTenant(pb.DeleteTenantRequest(tenant_id=tenant))
        listed = await admin.ListProviders(pb.ListProvidersRequest(tenant_id=tenant))

    assert deleted.deleted_keys == 3
    assert not deleted.HasField("shred_time")
    assert again.deleted_keys == 0
    assert list(listed.keys) == []
    assert await read(pki, keyvault, tenant, "openai") == grpc.StatusCode.NOT_FOUND


async def test_a_row_relabelled_to_another_tenants_kek_is_data_loss(
    pki, fresh_database_url, own_kek, db_of, tenant, sentinels
):
    db = await db_of(fresh_database_url)
    victim, thief = f"{tenant}-victim", f"{tenant}-thief"
    async with (
        keyvault_server(pki, fresh_database_url, **tenant_keks(own_kek)) as kv,
        keyvault_stub(pki, kv) as admin,
    ):
        for owner in (victim, thief):
            await admin.SaveKey(pb.SaveKeyRequest(
                tenant_id=owner, provider="openai", api_key=sentinels.new()
            ))
        # The victim's wrapped data key and KEK name, in the thief's row.
        await db.execute(
            "UPDATE provider_keys t SET wrapped_key = v.wrapped_key,"
            " kek_key_name = v.kek_key_name FROM provider_keys v"
            " WHERE v.tenant_id = $1 AND t.tenant_id = $2",
            victim,
            thief,
        )
        outcome = await read(pki, kv, thief, "openai")
        victims = await read(pki, kv, victim, "openai")

    assert outcome == grpc.StatusCode.DATA_LOSS
    assert victims == sentinels.issued[0]


async def test_keys_saved_before_tenant_keks_stay_readable_and_rekey_moves_them(
    pki, fresh_database_url, own_kek, db_of, tenant, sentinels
):
    db = await db_of(fresh_database_url)
    key = sentinels.new()
    async with (
        keyvault_server(pki, fresh_database_url, **own_kek) as kv,
        keyvault_stub(pki, kv) as admin,
    ):
        await admin.SaveKey(
            pb.SaveKeyRequest(tenant_id=tenant, provider="openai", api_key=key)
        )
    async with (
        keyvault_server(pki, fresh_database_url, **tenant_keks(own_kek)) as kv,
        keyvault_stub(pki, kv) as admin,
    ):
        before = await read(pki, kv, tenant, "openai")
        await admin.RekeyKey(pb.RekeyKeyRequest(tenant_id=tenant, provider="openai"))
        moved_to = await db.fetchval(
            "SELECT kek_key_name FROM provider_keys WHERE tenant_id = $1", tenant
        )
        after = await read(pki, kv, tenant, "openai")

    assert before == after == key
    assert moved_to == tenant_kek_name(own_kek, tenant)


async def test_deleting_a_tenant_without_keys_is_not_found_and_blocks_nothing(
    pki, keyvault, db, tenant, sentinels
):
    async with keyvault_stub(pki, keyvault) as admin:
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await admin.DeleteTenant(pb.DeleteTenantRequest(tenant_id=tenant))
        saved = await admin.SaveKey(pb.SaveKeyRequest(
            tenant_id=tenant, provider="openai", api_key=sentinels.new()
        ))
        events = await admin.ListAuditEvents(
            pb.ListAuditEventsRequest(tenant_id=tenant)
        )

    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_info(missing.value).reason == "TENANT_NOT_FOUND"
    assert saved.created is True
    assert await db.fetchval(
        "SELECT count(*) FROM tenant_deletions WHERE tenant_id = $1", tenant
    ) == 0
    assert [e.type for e in events.events] == [pb.AUDIT_EVENT_TYPE_SAVED]


async def test_deleting_a_tenant_again_records_nothing_and_keeps_the_date(
    pki, keyvault, tenant, sentinels
):
    async with keyvault_stub(pki, keyvault) as admin:
        await save_all(admin, tenant, sentinels)
        asked_at = dt.datetime.now(dt.UTC)
        first = await admin.DeleteTenant(pb.DeleteTenantRequest(tenant_id=tenant))
        again = await admin.DeleteTenant(pb.DeleteTenantRequest(tenant_id=tenant))
        events = await admin.ListAuditEvents(
            pb.ListAuditEventsRequest(tenant_id=tenant)
        )

    allowed = first.save_allowed_time.ToDatetime(tzinfo=dt.UTC)
    assert dt.timedelta(hours=23.9) < allowed - asked_at < dt.timedelta(hours=24.1)
    assert again.save_allowed_time == first.save_allowed_time
    assert (first.deleted_keys, again.deleted_keys) == (3, 0)
    assert [e.type for e in events.events].count(
        pb.AUDIT_EVENT_TYPE_TENANT_DELETED
    ) == 1
    assert len(events.events) == 7
