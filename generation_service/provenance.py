"""Who paid for a generation and what was tried, as the caller receives it.

The summary event carries it in full. The response trailers carry it too,
on success and on failure alike, so a caller that only looks at the status
still learns the key source, the key's fingerprint (its last four
characters, never more) and the attempt chain:

``byok-request-id``, ``byok-provider``, ``byok-model``, ``byok-key-source``,
``byok-key-fingerprint`` (the first provider's key), and ``byok-attempts``:
one ``variant:provider:key_source:fingerprint:outcome`` entry per provider
call, comma-separated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from byok.generation.v1 import generation_pb2

from generation_service.chain import Step
from generation_service.keys import ResolvedKey
from generation_service.tally import Tally

# Trailers share a size limit with the status details; past this many
# entries the chain is cut short and says how many were left out.
MAX_TRAILER_ATTEMPTS = 40


@dataclass
class Provenance:
    """What is known about a request so far; filled in as it proceeds."""

    request_id: str
    step: Step | None = None
    key: ResolvedKey | None = None
    tally: Tally = field(default_factory=Tally)

    def summary(self) -> generation_pb2.GenerationSummary:
        tally = self.tally
        summary = generation_pb2.GenerationSummary(
            request_id=self.request_id,
            total_usage=tally.usage.to_pb(),
            variants_completed=tally.completed,
            variants_failed=tally.failed,
            attempts=tally.attempts,
        )
        if self.step is not None:
            summary.provider = self.step.provider
            summary.model = self.step.model
        if self.key is not None:
            summary.key_source = self.key.source
            summary.key_fingerprint = self.key.fingerprint
        return summary

    def fields(self) -> dict[str, str]:
        """The provenance without the attempts, for trailers and ErrorInfo."""
        found = {"request-id": self.request_id}
        if self.step is not None:
            found["provider"] = self.step.provider
            found["model"] = self.step.model
        if self.key is not None:
            found["key-source"] = self.key.source_name
            found["key-fingerprint"] = self.key.fingerprint
        return found

    def trailers(self) -> tuple[tuple[str, str], ...]:
        pairs = [(f"byok-{name}", value) for name, value in self.fields().items()]
        # No call made, no attempts: an empty trailer would only say so
        # less clearly than its absence.
        if self.tally.records:
            pairs.append(("byok-attempts", attempt_chain(self.tally)))
        return tuple((name, _printable(value)) for name, value in pairs)


def attempt_chain(tally: Tally) -> str:
    entries = [
        ":".join(
            (
                str(record.variant_index),
                record.provider,
                record.key_source_name,
                record.key_fingerprint,
                record.outcome,
            )
        )
        for record in tally.records
    ]
    if len(entries) > MAX_TRAILER_ATTEMPTS:
        left_out = len(entries) - MAX_TRAILER_ATTEMPTS
        entries = [*entries[:MAX_TRAILER_ATTEMPTS], f"+{left_out} more"]
    return ",".join(entries)


def _printable(value: str) -> str:
    # gRPC refuses metadata values outside printable ASCII.
    return "".join(c if " " <= c <= "~" else "?" for c in value)
