"""The PostgreSQL pool, and the one boundary between asyncpg's errors and ours.

Every asyncpg failure is translated by :func:`translated`: unreachable or
overloaded means :class:`StorageUnavailable` (retry later), anything else
:class:`StorageError`. Messages keep the SQLSTATE and drop the server's
text, which may quote row values.

Pooled connections are handed back without asyncpg's reset query (advisory
unlock, ``CLOSE ALL``, ``UNLISTEN *``, ``RESET ALL``): it is a round trip on
every release, and a key read releases on every statement. That is safe
because no pooled connection keeps session state: the ``LISTEN`` of
:mod:`keyvault_service.invalidation` and the migration lock have dedicated
connections, nothing runs ``SET`` outside a transaction, and the rotation
lock is released before its connection goes back, or the connection is
closed. asyncpg still rolls back a transaction left open.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import asyncpg

from keyvault_service.errors import StorageError, StorageUnavailable

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


async def _keep_session(_connection: asyncpg.Connection) -> None:
    """Skip the reset query; see the module docstring for why that is safe."""


@asynccontextmanager
async def open_pool(
    database_url: str, max_size: int, timeout_s: float
) -> AsyncIterator[asyncpg.Pool]:
    with translated():
        pool = await asyncpg.create_pool(
            database_url,
            min_size=1,
            max_size=max_size,
            command_timeout=timeout_s,
            timeout=timeout_s,
            server_settings={"application_name": "byok-keyvault"},
            reset=_keep_session,
        )
    try:
        yield pool
    finally:
        await pool.close()
