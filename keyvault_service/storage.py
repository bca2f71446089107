"""The ``provider_keys`` table and its generation counters.

Rows hold envelopes only (see :mod:`keyvault_service.envelope`). Every write
of a key first claims the ``key_generations`` row of its tenant and provider
with the generation the envelope was sealed for. The claim succeeds only if
that generation is newer than the recorded one, and it holds the counter's
lock until the write commits, so the row and its counter never disagree:
of two concurrent saves the later-sealed one wins, and a save sealed before
a delete can no longer resurrect the key.

Each write records its audit event and notifies the other replicas in the
same transaction (:mod:`keyvault_service.notices`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg

from keyvault_service import audit
from keyvault_service.database import UNAVAILABLE, open_pool, translated
from keyvault_service.envelope import Envelope, KeyIdentity
from keyvault_service.errors import TenantDeleted
from keyvault_service.kek.base import WrappedKey
from keyvault_service.notices import CHANNEL, NOTIFY, Notice

__all__ = ["UNAVAILABLE", "KeyMetadata", "KeyStore", "StoredKey", "translated"]

ACTIVE = "active"
DISABLED = "disabled"
REJECTED_BY_PROVIDER = "rejected_by_provider"
# A read stamps last_used_at at most this often, to spare a write per read.
LAST_USED_RESOLUTION = "60 seconds"


@dataclass(frozen=True)
class KeyMetadata:
    tenant_id: str
    provider: str
    fingerprint: str
    kek_version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    key_id: uuid.UUID | None = None
    status: str = ACTIVE
    status_reason: str = ""
    expires_at: dt.datetime | None = None
    last_used_at: dt.datetime | None = None


@dataclass(frozen=True)
class StoredKey:
    # identity.generation is the *current* generation, from key_generations.
    identity: KeyIdentity
    envelope: Envelope
    metadata: KeyMetadata
    row_generation: int
    counter_present: bool


_METADATA = """
    k.id, k.tenant_id, k.provider, k.fingerprint, k.kek_version, k.created_at,
    k.updated_at, k.status, k.status_reason, k.expires_at, k.last_used_at
"""

_CLAIM = """
INSERT INTO key_generations AS g (tenant_id, provider, generation)
VALUES ($1, $2, $3)
ON CONFLICT (tenant_id, provider) DO UPDATE SET generation = EXCLUDED.generation
WHERE g.generation < EXCLUDED.generation
RETURNING generation
"""

_UPSERT = f"""
INSERT INTO provider_keys AS k (
    id, tenant_id, provider, format_version, ciphertext, wrapped_key,
    kek_provider, kek_key_name, kek_version, fingerprint, generation, expires_at
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (tenant_id, provider) DO UPDATE SET
    id = EXCLUDED.id,
    format_version = EXCLUDED.format_version,
    ciphertext = EXCLUDED.ciphertext,
    wrapped_key = EXCLUDED.wrapped_key,
    kek_provider = EXCLUDED.kek_provider,
    kek_key_name = EXCLUDED.kek_key_name,
    kek_version = EXCLUDED.kek_version,
    fingerprint = EXCLUDED.fingerprint,
    generation = EXCLUDED.generation,
    expires_at = EXCLUDED.expires_at,
    status = 'active',
    status_reason = '',
    status_changed_at = NULL,
    last_used_at = NULL,
    updated_at = now()
RETURNING (xmax = 0) AS created, {_METADATA}
"""  # noqa: S608 - interpolates module constants only

_REPLACE_ENVELOPE = f"""
UPDATE provider_keys AS k SET
    id = $3, format_version = $4, ciphertext = $5, wrapped_key = $6,
    kek_provider = $7, kek_key_name = $8, kek_version = $9, generation = $10,
    updated_at = now()
WHERE tenant_id = $1 AND provider = $2 AND id = $11
RETURNING {_METADATA}
"""  # noqa: S608 - interpolates module constants only

_SELECT_ONE = f"""
SELECT {_METADATA}, k.format_version, k.ciphertext, k.wrapped_key,
       k.kek_provider, k.kek_key_name, k.generation,
       g.generation AS current_generation
FROM provider_keys k
LEFT JOIN key_generations g USING (tenant_id, provider)
WHERE k.tenant_id = $1 AND k.provider = $2
"""  # noqa: S608 - interpolates module constants only

_SELECT_METADATA = f"""
SELECT {_METADATA} FROM provider_keys k WHERE k.tenant_id = $1 ORDER BY k.provider
"""  # noqa: S608 - interpolates module constants only

_DELETING = """
SELECT true FROM tenant_deletions WHERE tenant_id = $1 AND shredded_at IS NULL
"""

_BUMP = """
UPDATE key_generations SET generation = nextval('key_generation_seq')
WHERE tenant_id = $1 AND provider = $2
"""

_DELETE = """
DELETE FROM provider_keys WHERE tenant_id = $1 AND provider = $2
RETURNING id, kek_provider, kek_key_name, kek_version
"""

_TOUCH_AND_RECORD = f"""
WITH touched AS (
    UPDATE provider_keys SET last_used_at = now()
    WHERE id = $10 AND (
        last_used_at IS NULL
        OR last_used_at < now() - interval '{LAST_USED_RESOLUTION}'
    )
    RETURNING 1
)
{audit.INSERT}
"""  # noqa: S608 - interpolates module constants only

_SET_STATUS = f"""
UPDATE provider_keys AS k SET
    status = $3, status_reason = $4, status_changed_at = now(), updated_at = now()
WHERE tenant_id = $1 AND provider = $2 AND ($5::uuid IS NULL OR id = $5)
RETURNING {_METADATA}
"""  # noqa: S608 - interpolates module constants only

_LOCK_ONE = f"""
SELECT {_METADATA} FROM provider_keys k
WHERE k.tenant_id = $1 AND k.provider = $2
FOR UPDATE
"""  # noqa: S608 - interpolates module constants only

# Right-hand sides read the old row: the status stamp moves only on a change.
_UPDATE = f"""
UPDATE provider_keys AS k SET
    status = $2,
    status_reason = CASE WHEN k.status = $2 THEN k.status_reason ELSE '' END,
    status_changed_at = CASE
        WHEN k.status = $2 THEN k.status_changed_at ELSE now() END,
    expires_at = $3,
    updated_at = now()
WHERE k.id = $1
RETURNING {_METADATA}
"""  # noqa: S608 - interpolates module constants only


class KeyStore:
    def __init__(self, pool: asyncpg.Pool, timeout_s: float) -> None:
        self.pool = pool
        self.timeout_s = timeout_s

    @classmethod
    @asynccontextmanager
    async def open(
        cls, database_url: str, max_size: int, timeout_s: float
    ) -> AsyncIterator[KeyStore]:
        async with open_pool(database_url, max_size, timeout_s) as pool:
            yield cls(pool, timeout_s)

    async def next_generation(self) -> int:
        with translated():
            value = await self.pool.fetchval(
                "SELECT nextval('key_generation_seq')", timeout=self.timeout_s
            )
        return int(value)

    async def save(
        self,
        identity: KeyIdentity,
        envelope: Envelope,
        fingerprint: str,
        expires_at: dt.datetime | None,
        caller: str,
    ) -> tuple[KeyMetadata, bool]:
        """Store the envelope; ``True`` when no key existed before.

        A save overtaken by a newer one (or by a delete) writes nothing and
        reports the key as it now is.
        """
        wrapped = envelope.wrapped_key
        with translated():
            async with self.pool.acquire() as connection, connection.transaction():
                if not await self._claim(connection, identity):
                    current = await self._metadata_of(connection, identity)
                    return current or _unsaved(identity, wrapped, fingerprint), False
                if await connection.fetchval(
                    _DELETING, identity.tenant_id, timeout=self.timeout_s
                ):
                    raise TenantDeleted("the tenant is being deleted")
                row = await connection.fetchrow(
                    _UPSERT,
                    identity.row_id,
                    identity.tenant_id,
                    identity.provider,
                    envelope.format_version,
                    envelope.ciphertext,
                    wrapped.text,
                    wrapped.provider,
                    wrapped.key_name,
                    wrapped.version,
                    fingerprint,
                    identity.generation,
                    expires_at,
                    timeout=self.timeout_s,
                )
                await self._record(connection, audit.Event.SAVED, identity, wrapped,
                                   caller)
                await self._notify(connection, Notice("key", *_names(identity)))
        return _metadata(row), bool(row["created"])

    async def replace_envelope(
        self,
        old_row_id: uuid.UUID,
        identity: KeyIdentity,
        envelope: Envelope,
        caller: str,
    ) -> KeyMetadata | None:
        """Swap in a re-keyed envelope; None if the key changed meanwhile."""
        try:
            return await self._replace(old_row_id, identity, envelope, caller)
        except _Superseded:
            return None

    async def _replace(
        self,
        old_row_id: uuid.UUID,
        identity: KeyIdentity,
        envelope: Envelope,
        caller: str,
    ) -> KeyMetadata | None:
        wrapped = envelope.wrapped_key
        with translated():
            async with self.pool.acquire() as connection, connection.transaction():
                if not await self._claim(connection, identity):
                    return None
                row = await connection.fetchrow(
                    _REPLACE_ENVELOPE,
                    identity.tenant_id,
                    identity.provider,
                    identity.row_id,
                    envelope.format_version,
                    envelope.ciphertext,
                    wrapped.text,
                    wrapped.provider,
                    wrapped.key_name,
                    wrapped.version,
                    identity.generation,
                    old_row_id,
                    timeout=self.timeout_s,
                )
                if row is None:
                    # Rolls the claim back with the transaction.
                    raise _Superseded()
                await self._record(connection, audit.Event.REKEYED, identity, wrapped,
                                   caller)
                await self._notify(connection, Notice("key", *_names(identity)))
        return _metadata(row)

    async def fetch(self, tenant_id: str, provider: str) -> StoredKey | None:
        with translated():
            row = await self.pool.fetchrow(
                _SELECT_ONE, tenant_id, provider, timeout=self.timeout_s
            )
        return None if row is None else _stored_key(row)

    async def delete(self, tenant_id: str, provider: str, caller: str) -> bool:
        with translated():
            async with self.pool.acquire() as connection, connection.transaction():
                await connection.execute(
                    _BUMP, tenant_id, provider, timeout=self.timeout_s
                )
                row = await connection.fetchrow(
                    _DELETE, tenant_id, provider, timeout=self.timeout_s
                )
                if row is None:
                    return False
                await audit.record(connection, audit.Entry(
                    audit.Event.DELETED,
                    tenant_id=tenant_id,
                    provider=provider,
                    caller=caller,
                    key_id=_uuid(row["id"]),
                    kek_provider=row["kek_provider"],
                    kek_key_name=row["kek_key_name"],
                    kek_version=row["kek_version"],
                ), self.timeout_s)
                await self._notify(connection, Notice("key", tenant_id, provider))
        return True

    async def list_metadata(self, tenant_id: str) -> list[KeyMetadata]:
        with translated():
            rows = await self.pool.fetch(
                _SELECT_METADATA, tenant_id, timeout=self.timeout_s
            )
        return [_metadata(row) for row in rows]

    async def record_use(self, stored: StoredKey, caller: str) -> None:
        """Stamp the key as used and record the granted decrypt, in one trip."""
        entry = _entry(audit.Event.DECRYPT_GRANTED, stored.identity,
                       stored.envelope.wrapped_key, caller)
        with translated():
            await self.pool.execute(
                _TOUCH_AND_RECORD,
                *audit.arguments(entry),
                stored.identity.row_id,
                timeout=self.timeout_s,
            )

    async def set_status(
        self,
        tenant_id: str,
        provider: str,
        status: str,
        reason: str,
        entry: audit.Entry,
        key_id: uuid.UUID | None = None,
    ) -> KeyMetadata | None:
        """Change the key's status; None when no (such) key is stored."""
        return await self._change(
            _SET_STATUS, (tenant_id, provider, status, reason, key_id), entry
        )

    async def update(
        self,
        tenant_id: str,
        provider: str,
        status: str | None,
        expiry: tuple[dt.datetime | None] | None,
        caller: str,
    ) -> KeyMetadata | None:
        """Set status and/or expiry (``expiry`` is a 1-tuple when given).

        Only what differs from the stored row is written and recorded: the
        same status or date set again leaves the row and the audit log as
        they were. None when no key is stored.
        """
        with translated():
            async with self.pool.acquire() as connection, connection.transaction():
                row = await connection.fetchrow(
                    _LOCK_ONE, tenant_id, provider, timeout=self.timeout_s
                )
                if row is None:
                    return None

                current = _metadata(row)
                entries = _changes(current, status, expiry, caller)
                if not entries:
                    return current

                row = await connection.fetchrow(
                    _UPDATE,
                    current.key_id,
                    status or current.status,
                    current.expires_at if expiry is None else expiry[0],
                    timeout=self.timeout_s,
                )
                await audit.record_many(connection, entries, self.timeout_s)
        return _metadata(row)

    async def register_kek(self, provider: str, key_name: str) -> None:
        with translated():
            await self.pool.execute(
                "INSERT INTO kek_registry (kek_provider, kek_key_name)"
                " VALUES ($1, $2) ON CONFLICT DO NOTHING",
                provider,
                key_name,
                timeout=self.timeout_s,
            )

    async def kek_registered(self, provider: str, key_name: str) -> bool:
        with translated():
            found = await self.pool.fetchval(
                "SELECT true FROM kek_registry"
                " WHERE kek_provider = $1 AND kek_key_name = $2",
                provider,
                key_name,
                timeout=self.timeout_s,
            )
        return bool(found)

    async def record(self, entry: audit.Entry) -> None:
        await audit.record(self.pool, entry, self.timeout_s)

    async def _change(
        self, statement: str, arguments: tuple[Any, ...], entry: audit.Entry
    ) -> KeyMetadata | None:
        with translated():
            async with self.pool.acquire() as connection, connection.transaction():
                row = await connection.fetchrow(
                    statement, *arguments, timeout=self.timeout_s
                )
                if row is None:
                    return None
                await audit.record(connection, entry, self.timeout_s)
        return _metadata(row)

    async def _claim(
        self, connection: asyncpg.Connection, identity: KeyIdentity
    ) -> bool:
        claimed = await connection.fetchval(
            _CLAIM,
            identity.tenant_id,
            identity.provider,
            identity.generation,
            timeout=self.timeout_s,
        )
        return claimed is not None

    async def _metadata_of(
        self, connection: asyncpg.Connection, identity: KeyIdentity
    ) -> KeyMetadata | None:
        row = await connection.fetchrow(
            f"SELECT {_METADATA} FROM provider_keys k"  # noqa: S608
            " WHERE k.tenant_id = $1 AND k.provider = $2",
            identity.tenant_id,
            identity.provider,
            timeout=self.timeout_s,
        )
        return None if row is None else _metadata(row)

    async def _record(
        self,
        connection: asyncpg.Connection,
        event: audit.Event,
        identity: KeyIdentity,
        wrapped: WrappedKey,
        caller: str,
    ) -> None:
        entry = _entry(event, identity, wrapped, caller)
        await audit.record(connection, entry, self.timeout_s)

    async def _notify(self, connection: asyncpg.Connection, notice: Notice) -> None:
        await connection.execute(NOTIFY, CHANNEL, notice.encode(),
                                 timeout=self.timeout_s)


class _Superseded(Exception):
    """Raised inside a transaction to roll it back; never leaves this module."""


def _entry(
    event: audit.Event, identity: KeyIdentity, wrapped: WrappedKey, caller: str
) -> audit.Entry:
    return audit.Entry(
        event,
        tenant_id=identity.tenant_id,
        provider=identity.provider,
        caller=caller,
        key_id=identity.row_id,
        kek_provider=wrapped.provider,
        kek_key_name=wrapped.key_name,
        kek_version=wrapped.version,
    )


def _names(identity: KeyIdentity) -> tuple[str, str]:
    return identity.tenant_id, identity.provider


def _uuid(value: Any) -> uuid.UUID:
    return uuid.UUID(bytes=value.bytes)


def _unsaved(
    identity: KeyIdentity, wrapped: WrappedKey, fingerprint: str
) -> KeyMetadata:
    now = dt.datetime.now(dt.UTC)
    return KeyMetadata(
        identity.tenant_id, identity.provider, fingerprint, wrapped.version, now, now
    )


def _changes(
    current: KeyMetadata,
    status: str | None,
    expiry: tuple[dt.datetime | None] | None,
    caller: str,
) -> list[audit.Entry]:
    """One event per field the update really changes."""
    entries = []
    if status is not None and status != current.status:
        entries.append(audit.Entry(
            audit.Event.STATUS_CHANGED, current.tenant_id, current.provider,
            caller, key_id=current.key_id, detail=status,
        ))
    if expiry is not None and expiry[0] != current.expires_at:
        expires_at = expiry[0]
        entries.append(audit.Entry(
            audit.Event.EXPIRY_CHANGED, current.tenant_id, current.provider,
            caller, key_id=current.key_id,
            detail="cleared" if expires_at is None else expires_at.isoformat(),
        ))
    return entries


def _metadata(row: asyncpg.Record) -> KeyMetadata:
    return KeyMetadata(
        tenant_id=row["tenant_id"],
        provider=row["provider"],
        fingerprint=row["fingerprint"],
        kek_version=row["kek_version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        key_id=_uuid(row["id"]),
        status=row["status"],
        status_reason=row["status_reason"],
        expires_at=row["expires_at"],
        last_used_at=row["last_used_at"],
    )


def _stored_key(row: asyncpg.Record) -> StoredKey:
    current = row["current_generation"]
    identity = KeyIdentity(
        row_id=_uuid(row["id"]),
        tenant_id=row["tenant_id"],
        provider=row["provider"],
        generation=row["generation"] if current is None else current,
    )
    wrapped = WrappedKey(
        text=row["wrapped_key"],
        provider=row["kek_provider"],
        key_name=row["kek_key_name"],
        version=row["kek_version"],
    )
    envelope = Envelope(row["format_version"], bytes(row["ciphertext"]), wrapped)
    return StoredKey(
        identity, envelope, _metadata(row), row["generation"], current is not None
    )
