"""Bringing Generation's schema up to date at start-up.

Migrations are ``generation_service/migrations/NNNN_<name>.sql``, applied in
name order, each in its own transaction, and recorded with a checksum in
``generation.schema_migrations``. The ledger lives in Generation's own
schema, so it never mixes with KeyVault's when both share a database. An
advisory lock serialises replicas that start together, and an applied file
whose checksum changed stops the start.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg
import structlog

# Any constant works; this one spells "byokgn" and is ours alone.
ADVISORY_LOCK_ID = 0x62796F6B676E
_FILE_NAME = re.compile(r"(?P<version>[0-9]{4})_[a-z0-9_]+\.sql")

_log = structlog.get_logger("byok.generation.migrate")

_CREATE_LEDGER = """
CREATE SCHEMA IF NOT EXISTS generation;
CREATE TABLE IF NOT EXISTS generation.schema_migrations (
    version     text        PRIMARY KEY,
    name        text        NOT NULL,
    checksum    text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(RuntimeError):
    """The schema cannot be brought to what this code expects."""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def bundled_migrations() -> list[Migration]:
    folder = resources.files("generation_service.migrations")
    found = []
    for entry in folder.iterdir():
        match = _FILE_NAME.fullmatch(entry.name)
        if match:
            found.append(Migration(match["version"], entry.name, entry.read_text()))
    return sorted(found, key=lambda migration: migration.version)


async def apply_migrations(url: str, connect_timeout_s: float) -> list[str]:
    """Apply pending migrations; returns the names of those applied now."""
    connection = await asyncpg.connect(url, timeout=connect_timeout_s)
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", ADVISORY_LOCK_ID)
        try:
            return await _apply(connection, bundled_migrations())
        finally:
            await connection.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_ID)
    finally:
        await connection.close()


async def _apply(
    connection: asyncpg.Connection, migrations: list[Migration]
) -> list[str]:
    await connection.execute(_CREATE_LEDGER)
    rows = await connection.fetch(
        "SELECT version, checksum FROM generation.schema_migrations"
    )
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
                    "INSERT INTO generation.schema_migrations"
                    " (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
        except asyncpg.PostgresError as error:
            raise MigrationError(
                f"migration {migration.name} failed ({error.sqlstate})"
            ) from None
        _log.info("migration applied", migration=migration.name)
        done.append(migration.name)
    return done
