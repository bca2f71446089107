"""The append-only record of what happened to keys, and who asked.

Each event is one ``key_events`` row: what happened, to which tenant and
provider, the caller's certificate name, the stored key's id, the KEK and
its version, and a short reason code. Never key material, fingerprints or
request text. A trigger refuses ``UPDATE``, ``DELETE`` and ``TRUNCATE`` on
the table, so the service itself cannot rewrite history; deleting a tenant
keeps its events.

Events that change keys are written in the same transaction as the change.
A granted decrypt is written before the key is returned: no record, no key.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from keyvault_service.database import translated


class Event(enum.StrEnum):
    SAVED = "saved"
    DELETED = "deleted"
    DECRYPT_GRANTED = "decrypt_granted"
    DECRYPT_DENIED = "decrypt_denied"
    DECRYPT_FAILED = "decrypt_failed"
    ROTATED = "rotated"
    REWRAPPED = "rewrapped"
    REWRAP_FAILED = "rewrap_failed"
    MIN_VERSION_RAISED = "min_decryption_version_raised"
    REKEYED = "rekeyed"
    STATUS_CHANGED = "status_changed"
    EXPIRY_CHANGED = "expiry_changed"
    REJECTED_BY_PROVIDER = "rejected_by_provider"
    TENANT_DELETED = "tenant_deleted"
    TENANT_SHREDDED = "tenant_shredded"


@dataclass(frozen=True)
class Entry:
    """One event to record."""

    event: Event
    tenant_id: str = ""
    provider: str = ""
    caller: str = ""
    key_id: uuid.UUID | None = None
    kek_provider: str = ""
    kek_key_name: str = ""
    kek_version: int | None = None
    detail: str = ""


@dataclass(frozen=True)
class Record:
    """One recorded event, as listed back."""

    id: int
    occurred_at: dt.datetime
    entry: Entry


INSERT = """
INSERT INTO key_events (
    event, tenant_id, provider, caller, key_id,
    kek_provider, kek_key_name, kek_version, detail
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
"""

_SELECT = """
SELECT id, occurred_at, event, tenant_id, provider, caller, key_id,
       kek_provider, kek_key_name, kek_version, detail
FROM key_events
WHERE tenant_id = $1 AND id < $2
ORDER BY id DESC
LIMIT $3
"""


def arguments(entry: Entry) -> tuple[Any, ...]:
    return (
        entry.event.value,
        entry.tenant_id,
        entry.provider,
        entry.caller,
        entry.key_id,
        entry.kek_provider,
        entry.kek_key_name,
        entry.kek_version,
        entry.detail,
    )


async def record(
    connection: asyncpg.Connection | asyncpg.Pool, entry: Entry, timeout_s: float
) -> None:
    with translated():
        await connection.execute(INSERT, *arguments(entry), timeout=timeout_s)


async def record_many(
    connection: asyncpg.Connection | asyncpg.Pool,
    entries: Iterable[Entry],
    timeout_s: float,
) -> None:
    rows = [arguments(entry) for entry in entries]
    if not rows:
        return
    with translated():
        await connection.executemany(INSERT, rows, timeout=timeout_s)


async def list_events(
    pool: asyncpg.Pool,
    tenant_id: str,
    before_id: int | None,
    limit: int,
    timeout_s: float,
) -> Sequence[Record]:
    """Newest first; ``before_id`` continues a listing after its last event."""
    upper = before_id if before_id is not None else 2**63 - 1
    with translated():
        rows = await pool.fetch(_SELECT, tenant_id, upper, limit, timeout=timeout_s)
    return [_record(row) for row in rows]


def _record(row: asyncpg.Record) -> Record:
    key_id = row["key_id"]
    entry = Entry(
        event=Event(row["event"]),
        tenant_id=row["tenant_id"],
        provider=row["provider"],
        caller=row["caller"],
        key_id=None if key_id is None else uuid.UUID(bytes=key_id.bytes),
        kek_provider=row["kek_provider"],
        kek_key_name=row["kek_key_name"],
        kek_version=row["kek_version"],
        detail=row["detail"],
    )
    return Record(row["id"], row["occurred_at"], entry)
