"""Listening for other replicas' key changes, to forget what they made stale.

Each replica keeps one dedicated PostgreSQL connection that ``LISTEN``\\s on
:data:`~keyvault_service.notices.CHANNEL`. Writers ``NOTIFY`` inside the
transaction that changes keys, so a notice arrives only for committed
changes, and arrives at every replica, the writer included.

The data-key cache is enabled only while the connection is up. When it
drops, the cache is cleared and switched off (a notice may be lost while
nobody listens), and the listener reconnects with a growing delay. A
heartbeat query notices a connection that hangs instead of closing.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import structlog

from keyvault_service.cache import DataKeyCache
from keyvault_service.kek import KekSet
from keyvault_service.notices import CHANNEL, Notice

HEARTBEAT_S = 5.0
FIRST_RETRY_S = 0.2
MAX_RETRY_S = 10.0

_log = structlog.get_logger("byok.keyvault.invalidation")


class InvalidationListener:
    def __init__(
        self,
        database_url: str,
        cache: DataKeyCache,
        keks: KekSet,
        timeout_s: float,
    ) -> None:
        self._database_url = database_url
        self._cache = cache
        self._keks = keks
        self._timeout_s = timeout_s
        self._task: asyncio.Task[None] | None = None
        self._refreshing: set[asyncio.Task[None]] = set()
        self.listening = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="keyvault-listener")
        # The first connection normally succeeds at once; serving does not
        # wait for it beyond that, the cache just stays off meanwhile.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._timeout_s):
                await self.listening.wait()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._refreshing):
            task.cancel()
        self._cache.enabled = False
        self._cache.clear()

    def apply(self, notice: Notice) -> None:
        """Forget what ``notice`` made stale; also called for our own changes."""
        if notice.scope == "key":
            self._cache.evict_key(notice.tenant_id, notice.provider)
        elif notice.scope == "tenant":
            self._cache.evict_tenant(notice.tenant_id)
            self._keks.forget_tenant(notice.tenant_id)
        else:
            self._cache.clear()
            task = asyncio.create_task(self._keks.refresh())
            self._refreshing.add(task)
            task.add_done_callback(self._refreshing.discard)

    async def _supervise(self) -> None:
        delay = FIRST_RETRY_S
        while True:
            try:
                await self._listen_once()
                delay = FIRST_RETRY_S
            except (OSError, TimeoutError, asyncpg.PostgresError,
                    asyncpg.InterfaceError) as error:
                _log.warning(
                    "cache invalidation channel lost; data-key cache off",
                    error=type(error).__name__,
                )
            finally:
                self._off()
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_S)

    async def _listen_once(self) -> None:
        connection = await asyncpg.connect(
            self._database_url, timeout=self._timeout_s
        )
        lost = asyncio.Event()
        try:
            connection.add_termination_listener(lambda _: lost.set())
            await connection.add_listener(CHANNEL, self._on_notify)
            # Whatever happened while nobody listened is unknown: start empty.
            self._cache.clear()
            self._cache.enabled = True
            self.listening.set()
            _log.debug("listening for key changes")
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(HEARTBEAT_S):
                        await lost.wait()
                if not lost.is_set():
                    await connection.fetchval("SELECT 1", timeout=self._timeout_s)
        finally:
            self._off()
            connection.terminate()

    def _off(self) -> None:
        self._cache.enabled = False
        self._cache.clear()
        self.listening.clear()

    def _on_notify(
        self, _connection: object, _pid: int, _channel: str, payload: str
    ) -> None:
        notice = Notice.decode(payload)
        if notice is None:
            _log.warning("ignored a malformed key-change notice")
            return
        self.apply(notice)
