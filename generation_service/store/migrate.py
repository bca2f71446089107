"""Generation's schema, brought up to date at start-up.

The files are ``generation_service/migrations/NNNN_<name>.sql``; the
mechanism (ordering, checksums, the advisory lock) is
:mod:`shared.migrations`. The ledger lives in Generation's own schema, so it
never mixes with KeyVault's when both share a database.
"""

from __future__ import annotations

import asyncpg

from shared import migrations as shared_migrations
from shared.migrations import Ledger, Migration, MigrationFailed

# Any constant works; this one spells "byokgn" and is ours alone.
LEDGER = Ledger(lock_id=0x62796F6B676E, schema="generation")


class MigrationError(RuntimeError):
    """The schema cannot be brought to what this code expects."""


def bundled_migrations() -> list[Migration]:
    return shared_migrations.bundled_migrations("generation_service.migrations")


async def apply_migrations(url: str, connect_timeout_s: float) -> list[str]:
    """Apply pending migrations; returns the names of those applied now."""
    connection = await asyncpg.connect(url, timeout=connect_timeout_s)
    try:
        return await shared_migrations.apply_migrations(
            connection, bundled_migrations(), LEDGER
        )
    except MigrationFailed as error:
        raise MigrationError(str(error)) from None
    finally:
        await connection.close()
