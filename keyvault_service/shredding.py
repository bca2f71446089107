"""Deleting a tenant, and destroying what could still read its keys.

``DeleteTenant`` removes every key row of the tenant in one transaction. The
same transaction moves each key's generation on (so no earlier row can be
put back), records the events, schedules the shred at
``now + KEYVAULT_SHRED_GRACE_S`` in ``tenant_deletions``, and tells every
replica to drop the tenant's cached data keys. Until the shred, saving a key
for the tenant is refused with ``TENANT_DELETED``; the response says when that
ends, with or without a tenant KEK. Deleting again while a deletion is known
changes and records nothing; a tenant with neither keys nor a deletion is
``TENANT_NOT_FOUND``, so a mistyped id blocks no one.

Crypto-shredding, with per-tenant KEKs (``KEYVAULT_TENANT_KEKS=true``): the
tenant's own KEK wraps every data key the tenant had since, so destroying it
leaves every copy of those rows (database backups, replicas, WAL archives)
undecryptable. A sweeper on each replica destroys due KEKs every
``KEYVAULT_SHRED_SWEEP_S``; ``FOR UPDATE SKIP LOCKED`` gives each to one
replica. The grace period (24 hours by default) is the window in which a
mistaken deletion can still be undone: restore the rows from a backup and
clear the ``tenant_deletions`` row while the KEK exists. Vault's own storage
snapshots keep the key until they expire; count their retention in.

Without per-tenant KEKs the equivalent is weaker, and documented here: the
rows, and with them the only copies of the data keys in the live database,
are gone at once; a backup still holds data keys wrapped by the shared KEK.
Those become unreadable once the shared KEK has been rotated and its
``min_decryption_version`` raised (``RotateKek`` with
``raise_min_decryption_version``) after the backup retention period, and
are gone for good after transit's ``trim``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
import structlog

from keyvault_service import audit
from keyvault_service.database import translated
from keyvault_service.errors import KekError, KeyVaultError, TenantNotFound
from keyvault_service.kek import KekSet
from keyvault_service.notices import CHANNEL, NOTIFY, Notice
from keyvault_service.storage import KeyStore

SWEEP_LIMIT = 100

_log = structlog.get_logger("byok.keyvault.shredding")

_SCHEDULE = """
INSERT INTO tenant_deletions AS d (tenant_id, shred_after, kek_provider, kek_key_name)
VALUES ($1, now() + make_interval(secs => $2), $3, $4)
ON CONFLICT (tenant_id) DO UPDATE SET
    requested_at = now(),
    shred_after = EXCLUDED.shred_after,
    kek_provider = EXCLUDED.kek_provider,
    kek_key_name = EXCLUDED.kek_key_name,
    shredded_at = NULL
-- A deletion already pending keeps its date: deleting again is no reprieve.
WHERE d.shredded_at IS NOT NULL
RETURNING shred_after
"""

_PENDING = "SELECT shred_after FROM tenant_deletions WHERE tenant_id = $1"

_EARLIER = """
SELECT shred_after, shredded_at, kek_key_name FROM tenant_deletions
WHERE tenant_id = $1
"""

_BUMP_ALL = """
UPDATE key_generations SET generation = nextval('key_generation_seq')
WHERE tenant_id = $1
"""

_DELETE_ALL = """
DELETE FROM provider_keys WHERE tenant_id = $1
RETURNING id, provider, kek_provider, kek_key_name, kek_version
"""

_DUE = """
SELECT tenant_id, kek_provider, kek_key_name FROM tenant_deletions
WHERE shredded_at IS NULL AND shred_after <= now()
ORDER BY shred_after
LIMIT $1
FOR UPDATE SKIP LOCKED
"""

_DONE = "UPDATE tenant_deletions SET shredded_at = now() WHERE tenant_id = $1"


@dataclass(frozen=True)
class TenantDeletion:
    """What deleting a tenant did, and when its id may hold keys again."""

    deleted_keys: int
    save_allowed_at: dt.datetime
    # When the tenant's own KEK is destroyed; None without one.
    shred_at: dt.datetime | None


class TenantShredder:
    def __init__(
        self,
        store: KeyStore,
        keks: KekSet,
        grace_s: float,
        invalidate: Callable[[Notice], None],
    ) -> None:
        self._store = store
        self._keks = keks
        self._grace_s = grace_s
        self._invalidate = invalidate

    async def delete_tenant(self, tenant_id: str, caller: str) -> TenantDeletion:
        """Delete the tenant's keys and schedule the shred.

        Deleting again while a deletion is known changes nothing and records
        nothing; a tenant with neither keys nor a deletion is not found.
        """
        kek_name = self._keks.tenant_kek_name(tenant_id) or ""
        kek_provider = self._keks.provider if kek_name else ""
        timeout = self._store.timeout_s
        with translated():
            async with (
                self._store.pool.acquire() as connection,
                connection.transaction(),
            ):
                rows = await connection.fetch(
                    _DELETE_ALL, tenant_id, timeout=timeout
                )
                if not rows:
                    return await _earlier_deletion(connection, tenant_id, timeout)

                await connection.execute(_BUMP_ALL, tenant_id, timeout=timeout)
                shred_after = await connection.fetchval(
                    _SCHEDULE, tenant_id, self._grace_s, kek_provider, kek_name,
                    timeout=timeout,
                ) or await connection.fetchval(
                    _PENDING, tenant_id, timeout=timeout
                )
                await audit.record_many(
                    connection, _deleted_entries(tenant_id, rows, caller), timeout
                )
                await audit.record(connection, audit.Entry(
                    audit.Event.TENANT_DELETED, tenant_id=tenant_id,
                    caller=caller, kek_provider=kek_provider,
                    kek_key_name=kek_name, detail=f"{len(rows)} keys",
                ), timeout)
                await connection.execute(
                    NOTIFY, CHANNEL, Notice("tenant", tenant_id).encode(),
                    timeout=timeout,
                )
        self._invalidate(Notice("tenant", tenant_id))
        _log.info("tenant deleted", tenant=tenant_id, keys=len(rows))
        if self._grace_s == 0:
            await self.sweep()
        return TenantDeletion(
            len(rows), shred_after, shred_after if kek_name else None
        )

    async def sweep(self) -> list[str]:
        """Shred every deletion whose grace period is over; the tenants shredded."""
        shredded = []
        timeout = self._store.timeout_s
        with translated():
            async with (
                self._store.pool.acquire() as connection,
                connection.transaction(),
            ):
                due = await connection.fetch(_DUE, SWEEP_LIMIT, timeout=timeout)
                for row in due:
                    if await self._shred(connection, row):
                        shredded.append(row["tenant_id"])
        return shredded

    async def run_sweeper(self, interval_s: float) -> None:
        """Sweep every ``interval_s`` until cancelled."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.sweep()
            except KeyVaultError as error:
                _log.warning("tenant shred sweep failed", error=str(error))

    async def _shred(self, connection: asyncpg.Connection, row: asyncpg.Record) -> bool:
        tenant_id, kek_name = row["tenant_id"], row["kek_key_name"]
        timeout = self._store.timeout_s
        if kek_name:
            if self._keks.tenant_kek_name(tenant_id) != kek_name or (
                row["kek_provider"] != self._keks.provider
            ):
                _log.error(
                    "cannot destroy a deleted tenant's KEK with this configuration",
                    tenant=tenant_id, kek=kek_name,
                )
                return False
            try:
                await self._keks.destroy_tenant(tenant_id)
            except KekError as error:
                _log.warning("tenant KEK not destroyed yet", tenant=tenant_id,
                             error=str(error))
                return False
        await connection.execute(_DONE, tenant_id, timeout=timeout)
        await audit.record(connection, audit.Entry(
            audit.Event.TENANT_SHREDDED, tenant_id=tenant_id,
            caller="keyvault:shredder", kek_provider=row["kek_provider"],
            kek_key_name=kek_name,
        ), timeout)
        await connection.execute(
            NOTIFY, CHANNEL, Notice("tenant", tenant_id).encode(), timeout=timeout
        )
        self._invalidate(Notice("tenant", tenant_id))
        _log.info("tenant shredded", tenant=tenant_id, kek=kek_name or None)
        return True


async def _earlier_deletion(
    connection: asyncpg.Connection, tenant_id: str, timeout_s: float
) -> TenantDeletion:
    row = await connection.fetchrow(_EARLIER, tenant_id, timeout=timeout_s)
    if row is None:
        raise TenantNotFound("the tenant has no keys and was never deleted")
    allowed = row["shredded_at"] or row["shred_after"]
    shred_at = allowed if row["kek_key_name"] else None
    return TenantDeletion(0, allowed, shred_at)


def _deleted_entries(
    tenant_id: str, rows: list[asyncpg.Record], caller: str
) -> list[audit.Entry]:
    return [
        audit.Entry(
            audit.Event.DELETED,
            tenant_id=tenant_id,
            provider=row["provider"],
            caller=caller,
            key_id=uuid.UUID(bytes=row["id"].bytes),
            kek_provider=row["kek_provider"],
            kek_key_name=row["kek_key_name"],
            kek_version=row["kek_version"],
            detail="tenant deleted",
        )
        for row in rows
    ]
