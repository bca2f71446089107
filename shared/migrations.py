"""Schema migrations at start-up, for every service that owns tables.

Migrations are SQL files ``NNNN_<name>.sql`` in a package, applied in name
order, each in its own transaction, and recorded with a checksum in the
service's ledger table. A session-level advisory lock serialises replicas
that start together: the second waits, then finds nothing left to do. An
applied file whose checksum changed stops the start, since the schema no
longer matches what the code expects.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg
import structlog

_FILE_NAME = re.compile(r"(?P<version>[0-9]{4})_[a-z0-9_]+\.sql")
_log = structlog.get_logger("byok.migrate")


class MigrationFailed(RuntimeError):
    """A migration cannot be applied, or an applied one has changed."""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass(frozen=True)
class Ledger:
    """Where a service records its migrations, and the lock it takes.

    ``schema`` keeps services that share a database apart; ``lock_id`` is any
    constant no other service uses.
    """

    lock_id: int
    schema: str | None = None

    @property
    def table(self) -> str:
        prefix = f"{self.schema}." if self.schema else ""
        return f"{prefix}schema_migrations"

    def create_sql(self) -> str:
        create_schema = (
            f"CREATE SCHEMA IF NOT EXISTS {self.schema};\n" if self.schema else ""
        )
        return create_schema + (
            f"CREATE TABLE IF NOT EXISTS {self.table} ("
            " version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )


def bundled_migrations(package: str) -> list[Migration]:
    """The migration files shipped in ``package``, in order."""
    found = []
    for entry in resources.files(package).iterdir():
        match = _FILE_NAME.fullmatch(entry.name)
        if match:
            found.append(Migration(match["version"], entry.name, entry.read_text()))
    return sorted(found, key=lambda migration: migration.version)


async def apply_migrations(
    connection: asyncpg.Connection,
    migrations: list[Migration],
    ledger: Ledger,
    passthrough: tuple[type[BaseException], ...] = (),
) -> list[str]:
    """Apply what is pending under the ledger's lock; return the names applied.

    Errors in ``passthrough`` (say, a lost connection) escape as they are, so
    the caller can report them as an outage rather than a broken migration.
    """
    await connection.execute("SELECT pg_advisory_lock($1)", ledger.lock_id)
    try:
        return await _apply(connection, migrations, ledger, passthrough)
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", ledger.lock_id)


async def _apply(
    connection: asyncpg.Connection,
    migrations: list[Migration],
    ledger: Ledger,
    passthrough: tuple[type[BaseException], ...],
) -> list[str]:
    await connection.execute(ledger.create_sql())
    # The table name comes from the service's own constant, never from input.
    query = f"SELECT version, checksum FROM {ledger.table}"  # noqa: S608
    rows = await connection.fetch(query)
    applied = {row["version"]: row["checksum"] for row in rows}

    done = []
    for migration in migrations:
        recorded = applied.get(migration.version)
        if recorded is not None:
            if recorded != migration.checksum:
                raise MigrationFailed(
                    f"migration {migration.name} changed after it was applied"
                )
            continue
        try:
            async with connection.transaction():
                await connection.execute(migration.sql)
                await connection.execute(
                    f"INSERT INTO {ledger.table} (version, name, checksum)"  # noqa: S608
                    " VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
        except passthrough:
            raise
        except asyncpg.PostgresError as error:
            raise MigrationFailed(
                f"migration {migration.name} failed ({error.sqlstate})"
            ) from None
        _log.info("migration applied", migration=migration.name)
        done.append(migration.name)
    return done
