"""The record of one request: every provider call, how it ended, its usage.

Each call is an :class:`AttemptRecord`; they feed the summary's attempt
chain and totals, the response trailers and the usage records in the
database alike, so all three always agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from byok.generation.v1 import generation_pb2

from generation_service.errors import GenerationError
from generation_service.usage import CallUsage

OK = "ok"


class CallStatus(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class AttemptRecord:
    variant_index: int
    provider: str
    model: str
    key_source: generation_pb2.KeySource.ValueType
    key_fingerprint: str
    # "ok", or the reason the call failed (PROVIDER_OVERLOADED, ...).
    outcome: str
    status: CallStatus
    usage: CallUsage
    # Whether a request reached the provider; a call stopped by the key
    # policy never did.
    sent: bool = True

    @property
    def key_source_name(self) -> str:
        if self.key_source == generation_pb2.KEY_SOURCE_TENANT:
            return "tenant"
        if self.key_source == generation_pb2.KEY_SOURCE_PLATFORM:
            return "platform"
        return "none"

    def to_pb(self) -> generation_pb2.Attempt:
        return generation_pb2.Attempt(
            provider=self.provider,
            model=self.model,
            key_source=self.key_source,
            outcome=self.outcome,
            variant_index=self.variant_index,
            key_fingerprint=self.key_fingerprint,
        )


@dataclass
class Tally:
    """What all variants of one request used and tried."""

    records: list[AttemptRecord] = field(default_factory=list)
    completed: int = 0
    failed: int = 0
    last_failure: GenerationError | None = None

    def add(self, record: AttemptRecord) -> None:
        self.records.append(record)

    @property
    def usage(self) -> CallUsage:
        total = CallUsage()
        for record in self.records:
            total += record.usage
        return total

    @property
    def attempts(self) -> list[generation_pb2.Attempt]:
        return [record.to_pb() for record in self.records]
