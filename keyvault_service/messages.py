"""Conversions between KeyVault's values and its protobuf messages."""

from __future__ import annotations

import base64
import datetime as dt
import uuid

from byok.keyvault.v1 import keyvault_pb2 as pb
from google.protobuf.timestamp_pb2 import Timestamp

from keyvault_service import audit
from keyvault_service.errors import InvalidField
from keyvault_service.rotation import KekReport, RotationReport
from keyvault_service.storage import ACTIVE, DISABLED, REJECTED_BY_PROVIDER, KeyMetadata

_FOREIGN_TOKEN = "page_token is not one this service made"  # noqa: S105

STATUS_TO_PB = {
    ACTIVE: pb.KEY_STATUS_ACTIVE,
    DISABLED: pb.KEY_STATUS_DISABLED,
    REJECTED_BY_PROVIDER: pb.KEY_STATUS_REJECTED_BY_PROVIDER,
}
# What UpdateKey may set; rejection is only ever reported by a provider.
SETTABLE_STATUS = {pb.KEY_STATUS_ACTIVE: ACTIVE, pb.KEY_STATUS_DISABLED: DISABLED}

EVENT_TO_PB = {
    audit.Event.SAVED: pb.AUDIT_EVENT_TYPE_SAVED,
    audit.Event.DELETED: pb.AUDIT_EVENT_TYPE_DELETED,
    audit.Event.DECRYPT_GRANTED: pb.AUDIT_EVENT_TYPE_DECRYPT_GRANTED,
    audit.Event.DECRYPT_DENIED: pb.AUDIT_EVENT_TYPE_DECRYPT_DENIED,
    audit.Event.DECRYPT_FAILED: pb.AUDIT_EVENT_TYPE_DECRYPT_FAILED,
    audit.Event.ROTATED: pb.AUDIT_EVENT_TYPE_ROTATED,
    audit.Event.REWRAPPED: pb.AUDIT_EVENT_TYPE_REWRAPPED,
    audit.Event.REWRAP_FAILED: pb.AUDIT_EVENT_TYPE_REWRAP_FAILED,
    audit.Event.MIN_VERSION_RAISED: pb.AUDIT_EVENT_TYPE_MIN_DECRYPTION_VERSION_RAISED,
    audit.Event.REKEYED: pb.AUDIT_EVENT_TYPE_REKEYED,
    audit.Event.STATUS_CHANGED: pb.AUDIT_EVENT_TYPE_STATUS_CHANGED,
    audit.Event.EXPIRY_CHANGED: pb.AUDIT_EVENT_TYPE_EXPIRY_CHANGED,
    audit.Event.REJECTED_BY_PROVIDER: pb.AUDIT_EVENT_TYPE_REJECTED_BY_PROVIDER,
    audit.Event.TENANT_DELETED: pb.AUDIT_EVENT_TYPE_TENANT_DELETED,
    audit.Event.TENANT_SHREDDED: pb.AUDIT_EVENT_TYPE_TENANT_SHREDDED,
}


def timestamp(moment: dt.datetime | None) -> Timestamp | None:
    if moment is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def moment(stamp: Timestamp, field: str) -> dt.datetime:
    try:
        return stamp.ToDatetime(tzinfo=dt.UTC)
    except (ValueError, OverflowError):
        raise InvalidField(field, f"{field} is not a valid time") from None


def key_metadata(metadata: KeyMetadata, expiring_soon: bool) -> pb.KeyMetadata:
    return pb.KeyMetadata(
        tenant_id=metadata.tenant_id,
        provider=metadata.provider,
        fingerprint=metadata.fingerprint,
        create_time=timestamp(metadata.created_at),
        update_time=timestamp(metadata.updated_at),
        kek_version=metadata.kek_version,
        key_id=str(metadata.key_id or ""),
        status=STATUS_TO_PB.get(metadata.status, pb.KEY_STATUS_UNSPECIFIED),
        status_reason=metadata.status_reason,
        expire_time=timestamp(metadata.expires_at),
        last_use_time=timestamp(metadata.last_used_at),
        expiring_soon=expiring_soon,
    )


def kek_state(report: KekReport) -> pb.KekState:
    return pb.KekState(
        kek_provider=report.provider,
        kek_key_name=report.key_name,
        latest_version=report.latest_version,
        min_decryption_version=report.min_decryption_version,
        rewrapped=report.rewrapped,
        remaining=report.remaining,
        min_decryption_version_raised=report.min_raised,
    )


def rotation_parts(
    report: RotationReport,
) -> tuple[list[pb.KekState], list[pb.RewrapFailure]]:
    failures = [
        pb.RewrapFailure(
            key_id=str(failure.key_id),
            tenant_id=failure.tenant_id,
            provider=failure.provider,
            kek_version=failure.kek_version,
            reason=failure.reason,
        )
        for failure in report.failures
    ]
    return [kek_state(kek) for kek in report.keks], failures


def audit_event(record: audit.Record) -> pb.AuditEvent:
    entry = record.entry
    return pb.AuditEvent(
        sequence=record.id,
        type=EVENT_TO_PB.get(entry.event, pb.AUDIT_EVENT_TYPE_UNSPECIFIED),
        time=timestamp(record.occurred_at),
        tenant_id=entry.tenant_id,
        provider=entry.provider,
        caller=entry.caller,
        key_id=str(entry.key_id or ""),
        kek_provider=entry.kek_provider,
        kek_key_name=entry.kek_key_name,
        kek_version=entry.kek_version or 0,
        detail=entry.detail,
    )


def page_token(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"before:{last_id}".encode()).decode()


def before_id(token: str) -> int | None:
    if not token:
        return None
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        label, _, number = text.partition(":")
        value = int(number)
    except (ValueError, UnicodeDecodeError):
        raise InvalidField("page_token", _FOREIGN_TOKEN) from None
    if label != "before" or value < 1:
        raise InvalidField("page_token", _FOREIGN_TOKEN)
    return value


def key_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidField(
            "key_id", "key_id must be the key_id KeyVault returned"
        ) from None
