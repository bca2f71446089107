"""Every request the stand-in received, and how its response ended."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    received_at: float
    # The credential as the wire carried it: bearer token or x-api-key.
    api_key: str
    # The client's port: requests sharing it shared one connection.
    peer_port: int = 0
    # Set when the response ends: sent in full, cut by the script, or
    # abandoned by the client.
    ended_at: float | None = None
    outcome: str = "open"
    chunks_sent: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    _ended: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def streamed(self) -> bool:
        return bool(self.body.get("stream"))

    def end(self, outcome: str) -> None:
        if self.ended_at is None:
            self.ended_at = time.monotonic()
            self.outcome = outcome
            self._ended.set()

    async def wait_ended(self, timeout_s: float = 5.0) -> bool:
        """Wait until the response ended; False if it had not within the time."""
        return await asyncio.to_thread(self._ended.wait, timeout_s)


class Recorder:
    """A thread-safe log of requests; the server runs on its own thread."""

    def __init__(self) -> None:
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()

    def add(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    def keys_seen(self) -> list[str]:
        return [request.api_key for request in self.requests]
