"""Key lifecycle: expiry dates, disabling, provider rejections, last use."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from byok.keyvault.v1 import keyvault_pb2 as pb
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from shared.rpc import error_info
from tests.support.keyvault import keyvault_stub

S = pb.KeyStatus


def stamp(moment: dt.datetime) -> Timestamp:
    value = Timestamp()
    value.FromDatetime(moment)
    return value


def in_days(days: float) -> Timestamp:
    return stamp(dt.datetime.now(dt.UTC) + dt.timedelta(days=days))


async def read(pki, keyvault, tenant: str, provider: str = "openai"):
    """The GetDecryptedKey response, or the failure's (status, reason)."""
    async with keyvault_stub(pki, keyvault, identity="generation") as stub:
        try:
            return await stub.GetDecryptedKey(
                pb.GetDecryptedKeyRequest(tenant_id=tenant, provider=provider)
            )
        except grpc.aio.AioRpcError as error:
            return error.code(), error_info(error).reason


async def test_keys_expiring_within_the_window_are_flagged_in_the_listing(
    pki, keyvault, tenant, sentinels
):
    async with keyvault_stub(pki, keyvault) as stub:
        for provider, expiry in (
            ("openai", in_days(3)), ("google", in_days(90)), ("qwen", None),
        ):
            await stub.SaveKey(pb.SaveKeyRequest(
                tenant_id=tenant, provider=provider, api_key=sentinels.new(),
                expire_time=expiry,
            ))
        default = await stub.ListProviders(pb.ListProvidersRequest(tenant_id=tenant))
        wider = await stub.ListProviders(pb.ListProvidersRequest(
            tenant_id=tenant, expiring_within=Duration(seconds=120 * 86400)
        ))
        only = await stub.ListProviders(pb.ListProvidersRequest(
            tenant_id=tenant, expiring_only=True
        ))

    assert [(k.provider, k.expiring_soon) for k in default.keys] == [
        ("google", False), ("openai", True), ("qwen", False),
    ]
    assert [(k.provider, k.expiring_soon) for k in wider.keys] == [
        ("google", True), ("openai", True), ("qwen", False),
    ]
    assert [k.provider for k in only.keys] == ["openai"]
    assert default.keys[1].HasField("expire_time")
    assert not default.keys[2].HasField("expire_time")


async def expire_now(db, tenant: str, provider: str = "openai") -> None:
    """Let time pass: move the stored expiry date into the past."""
    await db.execute(
        "UPDATE provider_keys SET expires_at = now() - interval '1 day'"
        " WHERE tenant_id = $1 AND provider = $2",
        tenant,
        provider,
    )


async def test_an_expired_key_is_refused_without_a_fallback(
    pki, keyvault, db, tenant, sentinels
):
    async with keyvault_stub(pki, keyvault) as stub:
        await stub.SaveKey(pb.SaveKeyRequest(
            tenant_id=tenant, provider="openai", api_key=sentinels.new(),
            expire_time=in_days(1),
        ))
    await expire_now(db, tenant)

    assert await read(pki, keyvault, tenant) == (
        grpc.StatusCode.FAILED_PRECONDITION, "KEY_EXPIRED"
    )


async def test_a_disabled_key_is_refused_until_enabled_again(
    pki, keyvault, tenant, sentinels
):
    key = sentinels.new()
    async with keyvault_stub(pki, keyvault) as stub:
        await stub.SaveKey(
            pb.SaveKeyRequest(tenant_id=tenant, provider="openai", api_key=key)
        )
        disabled = await stub.UpdateKey(pb.UpdateKeyRequest(
            tenant_id=tenant, provider="openai", status=S.KEY_STATUS_DISABLED
        ))
        refused = await read(pki, keyvault, tenant)
        enabled = await stub.UpdateKey(pb.UpdateKeyRequest(
            tenant_id=tenant, provider="openai", status=S.KEY_STATUS_ACTIVE
        ))
    served = await read(pki, keyvault, tenant)

    assert disabled.key.status == S.KEY_STATUS_DISABLED
    assert refused == (grpc.StatusCode.FAILED_PRECONDITION, "KEY_DISABLED")
    assert enabled.key.status == S.KEY_STATUS_ACTIVE
    assert served.api_key == key


async def test_an_expiry_date_can_be_set_and_cleared_without_resaving(
    pki, keyvault, db, tenant, sentinels
):
    async with keyvault_stub(pki, keyvault) as stub:
        saved = await stub.SaveKey(pb.SaveKeyRequest(
            tenant_id=tenant, provider="openai", api_key=sentinels.new()
        ))
        expired = await stub.UpdateKey(pb.UpdateKeyRequest(
            tenant_id=tenant, provider="openai", expire_time=in_days(1)
        ))
        await expire_now(db, tenant)
        refused = await read(pki, keyvault, tenant)
        cleared = await stub.UpdateKey(pb.UpdateKeyRequest(
            tenant_id=tenant, provider="openai", clear_expire_time=True
        ))
    served = await read(pki, keyvault, tenant)

    assert expired.key.expiring_soon
    assert expired.key.key_id == saved.key.key_id
    assert refused == (grpc.StatusCode.FAILED_PRECONDITION, "KEY_EXPIRED")
    assert not cleared.key.HasField("expire_time")
    assert served.key.key_id == saved.key.key_id


async def test_a_key_the_provider_rejected_is_marked_until_a_new_one_is_saved(
    pki, keyvault, tenant, sentinels
):
    async with keyvault_stub(pki, keyvault) as stub:
        await stub.SaveKey(pb.SaveKeyRequest(
            tenant_id=tenant, provider="openai", api_key=sentinels.new()
        ))
    used = await read(pki, keyvault, tenant)
    async with keyvault_stub(pki, keyvault, identity="generation") as generation:
        marked = await generation.ReportKeyRejected(pb.ReportKeyRejectedRequest(
            tenant_id=tenant, provider="openai", key_id=used.key.key_id,
            reason="http_401",
        ))
    refused = await read(pki, keyvault, tenant)
    fresh = sentinels.new()
    async with keyvault_stub(pki, keyvault) as stub:
        listed = await stub.ListProviders(pb.ListProvidersRequest(tenant_id=tenant))
        await stub.SaveKey(
            pb.SaveKeyRequest(tenant_id=tenant, provider="openai", api_key=fresh)
        )
    served = await read(pki, keyvault, tenant)

    assert marked.marked is True
    assert refused == (grpc.StatusCode.FAILED_PRECONDITION, "KEY_REJECTED_BY_PROVIDER")
    assert [(k.status, k.status_reason) for k in listed.keys] == [
        (S.KEY_STATUS_REJECTED_BY_PROVIDER, "http_401")
    ]
    assert served.api_key == fresh
    assert served.key.status == S.KEY_STATUS_ACTIVE


async def test_a_rejection_of_a_key_since_replaced_marks_nothing(
    pki, keyvault, tenant, sentinels
):
    async with keyvault_stub(pki, keyvault) as stub:
        await stub.SaveKey(pb.SaveKeyRequest(
            tenant_id=tenant, provider="openai", api_key=sentinels.new()
        ))
    old = await read(pki, keyvault, tenant)
    async with keyvault_stub(pki, keyvault) as stub:
        await stub.SaveKey(pb.SaveKeyRequest(
            tenant_id=tenant, provider="openai", api_key=sentinels.new()
        ))
    async with keyvault_stub(pki, keyvault, identity="generation") as generation:
        stale = await generation.ReportKeyRejected(pb.ReportKeyRejectedRequest(
            tenant_id=tenant, provider="openai", key_id=old.key.key_id,
            reason="http_401",
        ))

    assert stale.marked is False
    assert (await read(pki, keyvault, tenant)).key.status == S.KEY_STATUS_ACTIVE


@pytest.mark.parametrize(
    ("key_id", "reason", "field"),
    [
        ("not-a-uuid", "http_401", "key_id"),
        ("00000000-0000-0000-0000-000000000001", "", "reason"),
        ("00000000-0000-0000-0000-000000000001", "HTTP 401 Bad key", "reason"),
        ("00000000-0000-0000-0000-000000000001", "x" * 65, "reason"),
    ],
)
async def test_a_malformed_rejection_report_is_invalid(
    pki, keyvault, tenant, key_id, reason, field
):
    async with keyvault_stub(pki, keyvault, identity="generation") as generation:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await generation.ReportKeyRejected(pb.ReportKeyRejectedRequest(
                tenant_id=tenant, provider="openai", key_id=key_id, reason=reason
            ))

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(raised.value).metadata["field"] == field


@pytest.mark.parametrize("identity", ["platform", "intruder"])
async def test_only_the_decrypt_allow_list_may_report_rejections(
    pki, keyvault, tenant, identity
):
    async with keyvault_stub(pki, keyvault, identity=identity) as stub:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.ReportKeyRejected(pb.ReportKeyRejectedRequest(
                tenant_id=tenant, provider="openai",
                key_id="00000000-0000-0000-0000-000000000001", reason="http_401",
            ))

    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_a_read_stamps_the_last_use(pki, keyvault, tenant, sentinels):
    async with keyvault_stub(pki, keyvault) as stub:
        saved = await stub.SaveKey(pb.SaveKeyRequest(
            tenant_id=tenant, provider="openai", api_key=sentinels.new()
        ))
        await read(pki, keyvault, tenant)
        listed = await stub.ListProviders(pb.ListProvidersRequest(tenant_id=tenant))

    assert not saved.key.HasField("last_use_time")
    used = listed.keys[0].last_use_time.ToDatetime(tzinfo=dt.UTC)
    assert abs(used - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (pb.UpdateKeyRequest(tenant_id="a", provider="openai",
                             status=S.KEY_STATUS_REJECTED_BY_PROVIDER), "status"),
        (pb.UpdateKeyRequest(tenant_id="a", provider="openai", status=99), "status"),
        (pb.UpdateKeyRequest(tenant_id="a", provider="openai",
                             expire_time=in_days(1), clear_expire_time=True),
         "expire_time"),
    ],
    ids=["rejection is not settable", "unknown status", "set and clear"],
)
async def test_a_malformed_update_is_invalid(pki, keyvault, request_, field):
    async with keyvault_stub(pki, keyvault) as stub:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.UpdateKey(request_)

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(raised.value).metadata["field"] == field


async def test_updating_a_missing_key_is_not_found(pki, keyvault, tenant):
    async with keyvault_stub(pki, keyvault) as stub:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.UpdateKey(pb.UpdateKeyRequest(
                tenant_id=tenant, provider="openai", status=S.KEY_STATUS_DISABLED
            ))

    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


async def test_an_update_that_asks_for_no_change_is_invalid(pki, keyvault, tenant):
    async with keyvault_stub(pki, keyvault) as stub:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.UpdateKey(
                pb.UpdateKeyRequest(tenant_id=tenant, provider="openai")
            )

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details() == (
        "nothing to change: give status, expire_time or clear_expire_time"
    )


async def test_setting_what_is_already_set_changes_and_records_nothing(
    pki, keyvault, tenant, sentinels
):
    expiry = in_days(10)
    async with keyvault_stub(pki, keyvault) as stub:
        saved = await stub.SaveKey(pb.SaveKeyRequest(
            tenant_id=tenant, provider="openai", api_key=sentinels.new(),
            expire_time=expiry,
        ))
        same = await stub.UpdateKey(pb.UpdateKeyRequest(
            tenant_id=tenant, provider="openai", status=S.KEY_STATUS_ACTIVE,
            expire_time=expiry,
        ))
        await stub.SaveKey(pb.SaveKeyRequest(
            tenant_id=tenant, provider="qwen", api_key=sentinels.new()
        ))
        uncleared = await stub.UpdateKey(pb.UpdateKeyRequest(
            tenant_id=tenant, provider="qwen", clear_expire_time=True
        ))
        events = await stub.ListAuditEvents(
            pb.ListAuditEventsRequest(tenant_id=tenant)
        )

    assert same.key == saved.key
    assert not uncleared.key.HasField("expire_time")
    assert [e.type for e in events.events] == [pb.AUDIT_EVENT_TYPE_SAVED] * 2


async def test_every_change_moves_the_update_time_and_its_event_names_the_key(
    pki, keyvault, tenant, sentinels
):
    async with keyvault_stub(pki, keyvault) as stub:
        saved = await stub.SaveKey(pb.SaveKeyRequest(
            tenant_id=tenant, provider="openai", api_key=sentinels.new()
        ))
        disabled = await stub.UpdateKey(pb.UpdateKeyRequest(
            tenant_id=tenant, provider="openai", status=S.KEY_STATUS_DISABLED
        ))
        dated = await stub.UpdateKey(pb.UpdateKeyRequest(
            tenant_id=tenant, provider="openai", expire_time=in_days(5)
        ))
        events = await stub.ListAuditEvents(
            pb.ListAuditEventsRequest(tenant_id=tenant)
        )

    times = [r.key.update_time.ToDatetime() for r in (saved, disabled, dated)]
    assert times[0] < times[1] < times[2]
    assert [(e.type, e.key_id) for e in events.events] == [
        (pb.AUDIT_EVENT_TYPE_EXPIRY_CHANGED, saved.key.key_id),
        (pb.AUDIT_EVENT_TYPE_STATUS_CHANGED, saved.key.key_id),
        (pb.AUDIT_EVENT_TYPE_SAVED, saved.key.key_id),
    ]


async def test_an_expiry_date_in_the_past_is_refused(
    pki, keyvault, tenant, sentinels
):
    async with keyvault_stub(pki, keyvault) as stub:
        with pytest.raises(grpc.aio.AioRpcError) as on_save:
            await stub.SaveKey(pb.SaveKeyRequest(
                tenant_id=tenant, provider="openai", api_key=sentinels.new(),
                expire_time=in_days(-1),
            ))
        listed = await stub.ListProviders(pb.ListProvidersRequest(tenant_id=tenant))
        await stub.SaveKey(pb.SaveKeyRequest(
            tenant_id=tenant, provider="openai", api_key=sentinels.new()
        ))
        with pytest.raises(grpc.aio.AioRpcError) as on_update:
            await stub.UpdateKey(pb.UpdateKeyRequest(
                tenant_id=tenant, provider="openai", expire_time=in_days(-1)
            ))

    for raised in (on_save, on_update):
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_info(raised.value).metadata["field"] == "expire_time"
    assert list(listed.keys) == []
    assert (await read(pki, keyvault, tenant)).api_key
