"""The ``provider_keys`` table, reached through an asyncpg pool.

Rows hold envelopes only (see :mod:`keyvault_service.envelope`). Every
asyncpg failure is translated by :func:`translated`, the one boundary between
PostgreSQL's errors and ours: unreachable or overloaded means
:class:`StorageUnavailable` (retry later), anything else :class:`StorageError`.
Messages keep the SQLSTATE and drop the server's text, which may quote row
values.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

import asyncpg

from keyvault_service.envelope import Envelope, KeyIdentity
from keyvault_service.errors import StorageError, StorageUnavailable
from keyvault_service.kek.base import WrappedKey

# Failures after which the same statement may succeed later.
UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.TooManyConnectionsError,
)


@contextmanager
def translated() -> Iterator[None]:
    """Turn asyncpg and socket errors raised inside the block into ours."""
    try:
        yield
    except UNAVAILABLE as exc:
        raise StorageUnavailable(
            f"PostgreSQL is unavailable ({type(exc).__name__})"
        ) from None
    except asyncpg.PostgresError as exc:
        raise StorageError(
            f"PostgreSQL rejected a statement ({exc.sqlstate} {type(exc).__name__})"
        ) from None
    except asyncpg.InterfaceError as exc:
        raise StorageError(f"PostgreSQL client failed ({type(exc).__name__})") from None


@dataclass(frozen=True)
class KeyMetadata:
    tenant_id: str
    provider: str
    fingerprint: str
    kek_version: int
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class StoredKey:
    identity: KeyIdentity
    envelope: Envelope
    metadata: KeyMetadata


_UPSERT = """
INSERT INTO provider_keys AS k (
    id, tenant_id, provider, format_version, ciphertext, wrapped_key,
    kek_provider, kek_key_name, kek_version, fingerprint
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (tenant_id, provider) DO UPDATE SET
    id = EXCLUDED.id,
    format_version = EXCLUDED.format_version,
    ciphertext = EXCLUDED.ciphertext,
    wrapped_key = EXCLUDED.wrapped_key,
    kek_provider = EXCLUDED.kek_provider,
    kek_key_name = EXCLUDED.kek_key_name,
    kek_version = EXCLUDED.kek_version,
    fingerprint = EXCLUDED.fingerprint,
    updated_at = now()
RETURNING (xmax = 0) AS created, created_at, updated_at
"""

_SELECT_ONE = """
SELECT id, tenant_id, provider, format_version, ciphertext, wrapped_key,
       kek_provider, kek_key_name, kek_version, fingerprint, created_at, updated_at
FROM provider_keys WHERE tenant_id = $1 AND provider = $2
"""

_SELECT_METADATA = """
SELECT tenant_id, provider, fingerprint, kek_version, created_at, updated_at
FROM provider_keys WHERE tenant_id = $1 ORDER BY provider
"""

_DELETE = "DELETE FROM provider_keys WHERE tenant_id = $1 AND provider = $2"


class KeyStore:
    def __init__(self, pool: asyncpg.Pool, timeout_s: float) -> None:
        self._pool = pool
        self._timeout_s = timeout_s

    @classmethod
    @asynccontextmanager
    async def open(
        cls, database_url: str, max_size: int, timeout_s: float
    ) -> AsyncIterator[KeyStore]:
        with translated():
            pool = await asyncpg.create_pool(
                database_url,
                min_size=1,
                max_size=max_size,
                command_timeout=timeout_s,
                timeout=timeout_s,
                server_settings={"application_name": "byok-keyvault"},
            )
        try:
            yield cls(pool, timeout_s)
        finally:
            await pool.close()

    async def upsert(
        self, identity: KeyIdentity, envelope: Envelope, fingerprint: str
    ) -> tuple[KeyMetadata, bool]:
        """Store the envelope; ``True`` when no key existed before."""
        wrapped = envelope.wrapped_key
        with translated():
            row = await self._pool.fetchrow(
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
                timeout=self._timeout_s,
            )
        metadata = KeyMetadata(
            tenant_id=identity.tenant_id,
            provider=identity.provider,
            fingerprint=fingerprint,
            kek_version=wrapped.version,
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )
        return metadata, bool(row["created"])

    async def fetch(self, tenant_id: str, provider: str) -> StoredKey | None:
        with translated():
            row = await self._pool.fetchrow(
                _SELECT_ONE, tenant_id, provider, timeout=self._timeout_s
            )
        return None if row is None else _stored_key(row)

    async def delete(self, tenant_id: str, provider: str) -> bool:
        with translated():
            status = await self._pool.execute(
                _DELETE, tenant_id, provider, timeout=self._timeout_s
            )
        return status != "DELETE 0"

    async def list_metadata(self, tenant_id: str) -> list[KeyMetadata]:
        with translated():
            rows = await self._pool.fetch(
                _SELECT_METADATA, tenant_id, timeout=self._timeout_s
            )
        return [_metadata(row) for row in rows]


def _metadata(row: asyncpg.Record) -> KeyMetadata:
    return KeyMetadata(
        tenant_id=row["tenant_id"],
        provider=row["provider"],
        fingerprint=row["fingerprint"],
        kek_version=row["kek_version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _stored_key(row: asyncpg.Record) -> StoredKey:
    identity = KeyIdentity(
        row_id=uuid.UUID(bytes=row["id"].bytes),
        tenant_id=row["tenant_id"],
        provider=row["provider"],
    )
    wrapped = WrappedKey(
        text=row["wrapped_key"],
        provider=row["kek_provider"],
        key_name=row["kek_key_name"],
        version=row["kek_version"],
    )
    envelope = Envelope(row["format_version"], bytes(row["ciphertext"]), wrapped)
    return StoredKey(identity, envelope, _metadata(row))
