"""KeyVault's schema, brought up to date at start-up.

The files are ``keyvault_service/migrations/NNNN_<name>.sql``; the mechanism
(ordering, checksums, the advisory lock) is :mod:`shared.migrations`.
"""

from __future__ import annotations

import asyncpg

from keyvault_service.database import UNAVAILABLE, translated
from keyvault_service.errors import MigrationError
from shared import migrations as shared_migrations
from shared.migrations import Ledger, Migration, MigrationFailed

DEFAULT_CONNECT_TIMEOUT_S = 10.0
# Any constant works; this one spells "byokkv" and is ours alone.
LEDGER = Ledger(lock_id=0x62796F6B6B76)


def bundled_migrations() -> list[Migration]:
    return shared_migrations.bundled_migrations("keyvault_service.migrations")


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
            return await shared_migrations.apply_migrations(
                connection, pending, LEDGER, passthrough=UNAVAILABLE
            )
    except MigrationFailed as error:
        raise MigrationError(str(error)) from None
    finally:
        await connection.close()


__all__ = ["Migration", "apply_migrations", "bundled_migrations"]
