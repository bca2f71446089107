"""A loopback TCP forwarder that tests can cut, to take a real server away.

Cutting closes the listening socket and every open connection, which is
what a client sees when its database or Vault goes down. ``black_hole``
keeps accepting connections but never answers, like a hung server.
``requests`` lists the HTTP/1.1 request lines clients sent through it
(method and path), so tests can count the calls a server received.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

_REQUEST_LINE = re.compile(rb"(GET|POST|PUT|DELETE|LIST) (/\S*) HTTP/1\.1\r\n")
# A request line split across two reads is still found in the carried tail.
_CARRY = 1024


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0
        self.black_hole = False
        self.requests: list[str] = []

    def count(self, method: str, path_prefix: str) -> int:
        """Requests seen with ``method`` on a path starting with ``path_prefix``."""
        return sum(
            1 for line in self.requests
            if line.startswith(f"{method} {path_prefix}")
        )

    async def start(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def restore(self) -> None:
        await self.start(self.port)

    async def _accept(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        writers = {client_writer}
        self._writers |= writers
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            if self.black_hole:
                await asyncio.Event().wait()
            upstream_reader, upstream_writer = await asyncio.open_connection(
                *self._target
            )
            writers.add(upstream_writer)
            self._writers |= writers
            await asyncio.gather(
                _pipe(client_reader, upstream_writer, self._scanner()),
                _pipe(upstream_reader, client_writer),
            )
        except OSError:
            pass
        finally:
            for writer in writers:
                writer.transport.abort()
            self._writers -= writers
            self._tasks.discard(task)


    def _scanner(self) -> Callable[[bytes], None]:
        pending = bytearray()

        def scan(chunk: bytes) -> None:
            pending.extend(chunk)
            end = 0
            for match in _REQUEST_LINE.finditer(pending):
                self.requests.append(
                    f"{match[1].decode()} {match[2].decode(errors='replace')}"
                )
                end = match.end()
            del pending[: max(end, len(pending) - _CARRY)]

        return scan


async def _pipe(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    scan: Callable[[bytes], None] | None = None,
) -> None:
    try:
        while chunk := await reader.read(65536):
            if scan is not None:
                scan(chunk)
            writer.write(chunk)
            await writer.drain()
    finally:
        with contextlib.suppress(OSError):
            writer.transport.abort()


@asynccontextmanager
async def tcp_proxy(host: str, port: int) -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy(host, port)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.cut()
