"""The stand-in as a real HTTP server on a loopback port.

:func:`running_standin` runs uvicorn on a thread of its own, with its own
event loop, so the code under test talks to it over real TCP exactly as it
would to the hosted API, and a busy test loop cannot slow the provider down.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route

from provider_standin.anthropic_api import AnthropicApi
from provider_standin.openai_api import OpenAiApi
from provider_standin.recorder import RecordedRequest, Recorder
from provider_standin.scripts import Script, ScriptBook

STARTUP_TIMEOUT_S = 10.0


def build_app(book: ScriptBook, recorder: Recorder) -> Starlette:
    openai = OpenAiApi(book, recorder)
    anthropic = AnthropicApi(book, recorder)
    return Starlette(
        routes=[
            Route("/v1/chat/completions", openai.chat_completions, methods=["POST"]),
            Route("/v1/completions", openai.completions, methods=["POST"]),
            Route("/v1/messages", anthropic.messages, methods=["POST"]),
        ]
    )


class Standin:
    """A running stand-in: where it listens, its scripts and what it saw."""

    def __init__(
        self, server: uvicorn.Server, port: int, book: ScriptBook, recorder: Recorder
    ) -> None:
        self._server = server
        self.port = port
        self.book = book
        self.recorder = recorder

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """What the openai SDK takes as ``base_url``: the ``/v1`` root."""
        return f"{self.base_url}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.recorder.requests

    @property
    def open_connections(self) -> int:
        return len(self._server.server_state.connections)

    async def connections_settle(self, at_most: int, timeout_s: float = 1.0) -> int:
        """Open connections, once at most ``at_most`` or ``timeout_s`` passed.

        The server learns of a closed connection a moment after the client
        closed it, so a count taken at once can be one too high.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        # Polled: the count lives on the server's own thread and loop.
        while self.open_connections > at_most and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        return self.open_connections

    def script(self, api_key: str, *scripts: Script) -> None:
        self.book.set(api_key, *scripts)

    def reset(self) -> None:
        """Forget recorded requests and per-key scripts."""
        self.recorder.clear()
        self.book.clear()


def _listening_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(512)
    sock.setblocking(False)
    return sock


def make_server(app: Starlette, log_level: str = "critical") -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=1,
        # Long enough that a paused test never sees an idle disconnect.
        timeout_keep_alive=30,
    )
    return uvicorn.Server(config)


@asynccontextmanager
async def running_standin(
    default: Script | None = None, port: int = 0
) -> AsyncIterator[Standin]:
    """Serve the stand-in on 127.0.0.1 (``port`` 0 picks a free one)."""
    book = ScriptBook(default)
    recorder = Recorder()
    server = make_server(build_app(book, recorder))
    sock = _listening_socket("127.0.0.1", port)
    thread = threading.Thread(
        target=lambda: asyncio.run(server.serve(sockets=[sock])),
        name="provider-standin",
        daemon=True,
    )
    thread.start()
    try:
        await _wait_started(server, thread)
        yield Standin(server, sock.getsockname()[1], book, recorder)
    finally:
        # Stalled streams never finish on their own; do not wait for them.
        server.should_exit = True
        server.force_exit = True
        await asyncio.to_thread(thread.join, STARTUP_TIMEOUT_S)
        sock.close()


async def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STARTUP_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or loop.time() > deadline:
            raise RuntimeError("the provider stand-in did not start")
        await asyncio.sleep(0.01)
