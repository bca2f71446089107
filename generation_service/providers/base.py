"""What every provider adapter takes and yields.

An adapter streams :class:`Delta` events and, only when the provider ended
the stream with its own end-of-stream marker, one :class:`Finished` last. A
stream that ends any other way raises an ``errors.ProviderError``; so a
caller that has not seen ``Finished`` has no finished text.

While it streams, the adapter keeps a :class:`Meter` up to date: whether the
provider accepted the call and the last usage it reported. The caller reads
it whatever way the stream ended, so a broken or cancelled stream is still
accounted for.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from generation_service.keys import TENANT, ResolvedKey


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
    # All input tokens, those read from the provider's prompt cache included.
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0


@dataclass
class Meter:
    """What one provider call used, as far as the provider has said."""

    # The provider answered with a stream: from here on it may bill.
    accepted: bool = False
    usage: TokenUsage | None = None


@dataclass(frozen=True)
class Finished:
    # None when the provider reported no usage.
    usage: TokenUsage | None
    stop_reason: str


StreamEvent = Delta | Finished


class Adapter(Protocol):
    provider: str

    def stream(
        self, call: GenerationCall, meter: Meter
    ) -> AsyncGenerator[StreamEvent, None]: ...


ClientT = TypeVar("ClientT")


class KeyedAdapter(Generic[ClientT]):
    """An adapter bound to one resolved key and the SDK client built with it.

    Whether the key is the tenant's decides how a 401/403 is reported: a
    rejected tenant key is the tenant's to fix, a rejected platform key ours.
    """

    def __init__(self, key: ResolvedKey, client: ClientT) -> None:
        self.provider = key.provider
        self._tenant_key = key.source == TENANT
        self._client = client
