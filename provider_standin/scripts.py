"""What the stand-in does with a request: a script chosen per API key.

A test registers scripts for the keys it plants; every other key gets the
default script. Several scripts for one key are played in order, one per
request, and the last one repeats, so "429 then ok" is two scripts. A request
may also name a behaviour in the ``x-standin-script`` header, which wins.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

SCRIPT_HEADER = "x-standin-script"

DEFAULT_TEXT = (
    "Meet the new Trailhead jacket: light enough for a morning run, warm "
    "enough for the summit. Built from recycled nylon, ready for any weather."
)


class Behaviour(StrEnum):
    NORMAL = "normal"
    # Rejected before any body is streamed, with the provider's error body.
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    BAD_REQUEST = "bad_request"
    NOT_FOUND = "not_found"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    UNAVAILABLE = "unavailable"
    # Accepted with HTTP 200, then an error event after `fail_after` deltas.
    OVERLOADED_MID_STREAM = "overloaded_mid_stream"
    # The body ends cleanly after `fail_after` deltas, without the
    # provider's end-of-stream (no finish chunk, `[DONE]` or message_stop).
    CUT = "cut"
    # The connection is dropped after `fail_after` deltas.
    RESET = "reset"
    # Nothing more is sent after `fail_after` deltas until the client leaves.
    STALL = "stall"
    # A chunk that is not JSON arrives after `fail_after` deltas.
    MALFORMED = "malformed"
    # A complete, well-formed stream that carries no text at all.
    EMPTY = "empty"
    # The prompt does not fit the model's context. Chat Completions and
    # unstreamed calls answer HTTP 400 ``context_length_exceeded``; a
    # streamed legacy Completions call answers as llama-cpp-python's server
    # does: HTTP 200 and an empty body.
    CONTEXT_EXCEEDED = "context_exceeded"


class UsageShape(StrEnum):
    """Where an OpenAI-compatible stream puts its usage, when asked for it."""

    # OpenAI: a last chunk with the usage and an empty `choices` list.
    SEPARATE = "separate"
    # Some compatible hosts: on the chunk that carries the finish reason.
    ON_FINISH = "on_finish"
    # Others: a running total on every chunk.
    CUMULATIVE = "cumulative"


@dataclass(frozen=True)
class Script:
    behaviour: Behaviour = Behaviour.NORMAL
    text: str = DEFAULT_TEXT
    deltas: int = 8
    interval_s: float = 0.0
    # OpenAI-compatible streams: send usage when the client asks for it.
    usage: bool = True
    usage_shape: UsageShape = UsageShape.SEPARATE
    # Input tokens served from the prompt cache, reported in the usage.
    cached_input_tokens: int = 0
    # OpenAI-compatible streams: empty-content chunks before the first text.
    leading_empty: int = 0
    fail_after: int = 2
    retry_after_s: int = 1
    # Sent as a Set-Cookie header with the response, when not empty.
    set_cookie: str = ""

    def pieces(self) -> list[str]:
        """The text split into ``deltas`` non-empty pieces, in order."""
        count = max(1, min(self.deltas, len(self.text)))
        bounds = [round(i * len(self.text) / count) for i in range(count + 1)]
        return [self.text[bounds[i] : bounds[i + 1]] for i in range(count)]

    def with_(self, **changes: object) -> Script:
        return replace(self, **changes)  # type: ignore[arg-type]


class ScriptBook:
    """Scripts per API key; safe to change while the server runs."""

    def __init__(self, default: Script | None = None) -> None:
        self.default = default or Script()
        self._by_key: dict[str, list[Script]] = {}
        self._lock = threading.Lock()

    def set(self, api_key: str, *scripts: Script) -> None:
        with self._lock:
            self._by_key[api_key] = list(scripts or (self.default,))

    def clear(self) -> None:
        with self._lock:
            self._by_key.clear()

    def next_for(self, api_key: str, headers: Mapping[str, str]) -> Script:
        named = headers.get(SCRIPT_HEADER)
        if named:
            return self.default.with_(behaviour=Behaviour(named))

        with self._lock:
            queue = self._by_key.get(api_key)
            if not queue:
                return self.default
            return queue.pop(0) if len(queue) > 1 else queue[0]
