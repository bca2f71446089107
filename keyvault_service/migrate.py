"""Bringing the database schema up to date at start-up.

Migrations are the SQL files ``migrations/NNNN_<name>.sql``, applied in name
order, each in its own transaction, and recorded with a checksum in
``schema_migrations``. A session-level advisory lock serialises replicas that
start together: the second waits, then finds nothing left to do. An applied
file whose checksum changed stops the start, since the schema no longer
matches what the code expects.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg
import structlog

from keyvault_service.database import UNAVAILABLE, translated
from keyvault_service.errors import MigrationError

DEFAULT_CONNECT_TIMEOUT_S = 10.0
# Any constant works; this one spells "byokkv" and is ours alone.
ADVISORY_LOCK_ID = 0x62796F6B6B76
_FILE_NAME = re.compile(r"(?P<version>[0-9]{4})_[a-z0-9_]+\.sql")

_log = structlog.get_logger("byok.keyvault.migrate")

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     text        PRIMARY KEY,
    name        text        NOT NULL,
    checksum    text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def bundled_migrations() -> list[Migration]:
    folder = resources.files("keyvault_service.migrations")
    found = []
    for entry in folder.iterdir():
        match = _FILE_NAME.fullmatch(entry.name)
        if match:
            found.append(Migration(match["version"], entry.name, entry.read_text()))
    return sorted(found, key=lambda migration: migration.version)


async def apply_migrations(
    database_url: str,
    migrations: list[Migration] | None = None,
    timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
) -> list[str]:
    """Apply pending migrations; returns the names of those applied now.

    ``timeout_s`` bounds connecting only: waiting for another replica's
    migrations to finish is expected and not limited.
    """
    pending = bundled_migrations() if migrations is None else migrations
    with translated():
        connection = await asyncpg.connect(database_url, timeout=timeout_s)
    try:
        with translated():
            await connection.execute("SELECT pg_advisory_lock($1)", ADVISORY_LOCK_ID)
            try:
                return await _apply(connection, pending)
            finally:
                await connection.execute(
                    "SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_ID
                )
    finally:
        await connection.close()


async def _apply(
    connection: asyncpg.Connection, migrations: list[Migration]
) -> list[str]:
    await connection.execute(_CREATE_LEDGER)
    rows = await connection.fetch("SELECT version, checksum FROM schema_migrations")
    applied = {row["version"]: row["checksum"] for row in rows}

    done = []
    for migration in migrations:
        recorded = applied.get(migration.version)
        if recorded is not None:
            if recorded != migration.checksum:
                raise MigrationError(
                    f"migration {migration.name} changed after it was applied"
                )
            continue
        try:
            async with connection.transaction():
                await connection.execute(migration.sql)
                await connection.execute(
                    "INSERT INTO schema_migrations (version, name, checksum)"
                    " VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
        except UNAVAILABLE:
            raise
        except asyncpg.PostgresError as exc:
            raise MigrationError(
                f"migration {migration.name} failed ({exc.sqlstate}): {exc}"
            ) from None
        _log.info("migration applied", migration=migration.name)
        done.append(migration.name)
    return done
