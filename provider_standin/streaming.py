"""An SSE response that notices at once when the client goes away.

Starlette's streaming response only learns of a disconnect on its next
write, so a stalled stream would never find out. This one listens for
``http.disconnect`` beside the body and records how the stream ended, which
is what the cancellation tests measure.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping

from starlette.types import Receive, Scope, Send

from provider_standin.recorder import RecordedRequest


class StreamReset(Exception):
    """Raised inside a body to make the server drop the connection."""


class SseResponse:
    def __init__(
        self,
        body: AsyncIterator[bytes],
        record: RecordedRequest,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._body = body
        self._record = record
        self._headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
            *((k.encode(), v.encode()) for k, v in (headers or {}).items()),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": self._headers}
        )
        writer = asyncio.ensure_future(self._write(send))
        listener = asyncio.ensure_future(_wait_for_disconnect(receive))
        try:
            done, _ = await asyncio.wait(
                {writer, listener}, return_when=asyncio.FIRST_COMPLETED
            )
            if writer in done:
                writer.result()
            else:
                self._record.end("client_closed")
        finally:
            for task in (writer, listener):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self._record.end("client_closed")

    async def _write(self, send: Send) -> None:
        try:
            async for chunk in self._body:
                await send(
                    {"type": "http.response.body", "body": chunk, "more_body": True}
                )
                self._record.chunks_sent += 1
        except StreamReset:
            self._record.end("reset")
            raise
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        self._record.end(self._record.extra.get("ending", "complete"))


async def _wait_for_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


def sse(data: str, event: str | None = None) -> bytes:
    prefix = f"event: {event}\n" if event else ""
    return f"{prefix}data: {data}\n\n".encode()
