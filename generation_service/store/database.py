"""The connection pool, and the one boundary for asyncpg's errors.

A database that cannot be reached (refused, timed out, shutting down) is
:class:`~generation_service.errors.StoreUnavailable`; everything else
asyncpg raises is a defect of ours and left to propagate.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import asyncpg
import structlog

from generation_service.errors import StoreUnavailable
from generation_service.store.migrate import apply_migrations

CONNECT_TIMEOUT_S = 10.0
# Every query is short; one that takes longer means the database is in
# trouble, and the caller should hear so rather than wait.
QUERY_TIMEOUT_S = 5.0

UNAVAILABLE = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.QueryCanceledError,
)

_log = structlog.get_logger("byok.generation.store")


@contextmanager
def translated() -> Iterator[None]:
    try:
        yield
    except UNAVAILABLE as error:
        _log.warning("database unavailable", error_type=type(error).__name__)
        raise StoreUnavailable("the usage database is unavailable") from None


class Database:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @classmethod
    @asynccontextmanager
    async def open(cls, url: str, pool_size: int) -> AsyncIterator[Database]:
        """Migrate, then keep a pool open until the block ends."""
        with translated():
            await apply_migrations(url, CONNECT_TIMEOUT_S)
            pool = await asyncpg.create_pool(
                url,
                min_size=1,
                max_size=pool_size,
                timeout=CONNECT_TIMEOUT_S,
                command_timeout=QUERY_TIMEOUT_S,
            )
        try:
            yield cls(pool)
        finally:
            await pool.close()
