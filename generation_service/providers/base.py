"""What every provider adapter takes and yields.

An adapter streams :class:`Delta` events and, only when the provider ended
the stream with its own end-of-stream marker, one :class:`Finished` last. A
stream that ends any other way raises an ``errors.ProviderError``; so a
caller that has not seen ``Finished`` has no finished text.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class GenerationCall:
    model: str
    # Chat providers: instructions and the brief.
    system: str
    user: str
    # Completion-style providers: plain text ending where the copy begins.
    completion_prompt: str
    stop: tuple[str, ...]
    max_tokens: int
    temperature: float


@dataclass(frozen=True)
class Delta:
    text: str


@dataclass(frozen=True)
class TokenUsage:
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class Finished:
    # None when the provider reported no usage.
    usage: TokenUsage | None
    stop_reason: str


StreamEvent = Delta | Finished


class Adapter(Protocol):
    provider: str

    def stream(self, call: GenerationCall) -> AsyncIterator[StreamEvent]: ...
