"""The audit trail: every key event, by whom, queryable by tenant, append-only."""

from __future__ import annotations

import asyncpg
import grpc
import pytest
from byok.keyvault.v1 import keyvault_pb2 as pb

from shared.rpc import error_info
from tests.keyvault.conftest import all_rows_text
from tests.support.keyvault import keyvault_stub

E = pb.AuditEventType


async def events_of(pki, keyvault, tenant: str, page_size: int = 0):
    events, token = [], ""
    async with keyvault_stub(pki, keyvault, identity="platform") as admin:
        while True:
            page = await admin.ListAuditEvents(pb.ListAuditEventsRequest(
                tenant_id=tenant, page_size=page_size, page_token=token
            ))
            events += page.events
            token = page.next_page_token
            if not token:
                return events


async def test_each_key_event_is_recorded_with_its_caller_newest_first(
    pki, keyvault, tenant, sentinels
):
    async with keyvault_stub(pki, keyvault, identity="platform") as platform:
        saved = await platform.SaveKey(pb.SaveKeyRequest(
            tenant_id=tenant, provider="openai", api_key=sentinels.new()
        ))
    read = pb.GetDecryptedKeyRequest(tenant_id=tenant, provider="openai")
    async with keyvault_stub(pki, keyvault, identity="generation") as generation:
        await generation.GetDecryptedKey(read)
    async with keyvault_stub(pki, keyvault, identity="intruder") as intruder:
        with pytest.raises(grpc.aio.AioRpcError):
            await intruder.GetDecryptedKey(read)
    async with keyvault_stub(pki, keyvault, identity="platform") as platform:
        await platform.DeleteKey(
            pb.DeleteKeyRequest(tenant_id=tenant, provider="openai")
        )

    events = await events_of(pki, keyvault, tenant)

    assert [(e.type, e.caller, e.provider) for e in events] == [
        (E.AUDIT_EVENT_TYPE_DELETED, "platform", "openai"),
        (E.AUDIT_EVENT_TYPE_DECRYPT_DENIED, "intruder", "openai"),
        (E.AUDIT_EVENT_TYPE_DECRYPT_GRANTED, "generation", "openai"),
        (E.AUDIT_EVENT_TYPE_SAVED, "platform", "openai"),
    ]
    assert {e.key_id for e in events if e.key_id} == {saved.key.key_id}
    assert events[-1].kek_version == saved.key.kek_version >= 1
    assert events[-1].kek_key_name
    assert events[1].detail == "CALLER_NOT_ALLOWED"
    assert [e.sequence for e in events] == sorted(
        (e.sequence for e in events), reverse=True
    )
    assert all(e.tenant_id == tenant for e in events)
    assert sentinels.leaks_in(str(events)) == []


async def test_rotations_are_listed_under_no_tenant_and_rewraps_under_each(
    pki, fresh_database_url, own_kek, tenant, sentinels
):
    from tests.support.keyvault import keyvault_server

    async with (
        keyvault_server(pki, fresh_database_url, **own_kek) as kv,
        keyvault_stub(pki, kv) as admin,
    ):
        await admin.SaveKey(pb.SaveKeyRequest(
            tenant_id=tenant, provider="openai", api_key=sentinels.new()
        ))
        await admin.RotateKek(pb.RotateKekRequest(raise_min_decryption_version=True))
        kek_events = await events_of(pki, kv, "")
        tenant_events = await events_of(pki, kv, tenant)

    assert [(e.type, e.kek_version) for e in kek_events] == [
        (E.AUDIT_EVENT_TYPE_MIN_DECRYPTION_VERSION_RAISED, 2),
        (E.AUDIT_EVENT_TYPE_ROTATED, 2),
    ]
    assert all(e.caller == "platform" for e in kek_events)
    assert [(e.type, e.kek_version) for e in tenant_events] == [
        (E.AUDIT_EVENT_TYPE_REWRAPPED, 2),
        (E.AUDIT_EVENT_TYPE_SAVED, 1),
    ]


async def test_events_are_listed_in_pages(pki, keyvault, tenant, sentinels):
    async with keyvault_stub(pki, keyvault) as admin:
        for _ in range(5):
            await admin.SaveKey(pb.SaveKeyRequest(
                tenant_id=tenant, provider="google", api_key=sentinels.new()
            ))
        first = await admin.ListAuditEvents(
            pb.ListAuditEventsRequest(tenant_id=tenant, page_size=2)
        )

    paged = await events_of(pki, keyvault, tenant, page_size=2)
    whole = await events_of(pki, keyvault, tenant, page_size=100)

    assert len(first.events) == 2
    assert first.next_page_token
    assert [e.sequence for e in paged] == [e.sequence for e in whole]
    assert len(whole) == 5


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (pb.ListAuditEventsRequest(tenant_id="a", page_token="bm9wZQ=="), "page_token"),
        (pb.ListAuditEventsRequest(tenant_id="a", page_size=501), "page_size"),
        (pb.ListAuditEventsRequest(tenant_id="-a"), "tenant_id"),
    ],
    ids=["foreign token", "page too large", "bad tenant"],
)
async def test_a_malformed_listing_is_invalid(pki, keyvault, request_, field):
    async with keyvault_stub(pki, keyvault) as admin:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await admin.ListAuditEvents(request_)

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(raised.value).metadata["field"] == field


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE key_events SET caller = 'someone-else'",
        "DELETE FROM key_events",
        "TRUNCATE key_events",
    ],
)
async def test_the_audit_table_refuses_to_be_rewritten(
    pki, keyvault, db, tenant, sentinels, statement
):
    async with keyvault_stub(pki, keyvault) as admin:
        await admin.SaveKey(pb.SaveKeyRequest(
            tenant_id=tenant, provider="openai", api_key=sentinels.new()
        ))
    before = await db.fetchval("SELECT count(*) FROM key_events")

    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await db.execute(statement)

    assert await db.fetchval("SELECT count(*) FROM key_events") == before


async def test_audit_rows_hold_no_key_material(pki, keyvault, db, tenant, sentinels):
    async with keyvault_stub(pki, keyvault) as admin:
        await admin.SaveKey(pb.SaveKeyRequest(
            tenant_id=tenant, provider="openai", api_key=sentinels.new()
        ))
    async with keyvault_stub(pki, keyvault, identity="generation") as generation:
        await generation.GetDecryptedKey(
            pb.GetDecryptedKeyRequest(tenant_id=tenant, provider="openai")
        )

    events = await db.fetch(
        "SELECT e::text AS row FROM key_events e WHERE tenant_id = $1", tenant
    )

    assert len(events) == 2
    assert sentinels.leaks_in("\n".join(e["row"] for e in events)) == []
    assert sentinels.leaks_in(await all_rows_text(db)) == []
