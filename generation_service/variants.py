"""Writing one variant: stream it, retry it when that is safe, check it.

A variant is retried only before its first piece of text reached the
caller, only for a retryable cause, and only while the retry fits the
deadline. Text already streamed cannot be taken back, so a failure after
that ends the variant as failed. A variant is completed only when the
adapter saw the provider's own end-of-stream (``Finished``).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog
from byok.generation.v1 import brand_pb2, generation_pb2

from generation_service.errors import ProviderError
from generation_service.keys import ResolvedKey
from generation_service.providers import (
    Adapter,
    Delta,
    Finished,
    GenerationCall,
    TokenUsage,
)

Emit = Callable[[generation_pb2.GenerateContentResponse], Awaitable[None]]
BrandCheck = Callable[..., brand_pb2.ComplianceReport]

# Rough characters per token, for estimating usage a provider did not report.
CHARS_PER_TOKEN = 4
RETRY_BACKOFF_S = 0.2

_log = structlog.get_logger("byok.generation.variants")


@dataclass(frozen=True)
class VariantPlan:
    index: int
    platform: str
    call: GenerationCall


@dataclass
class Tally:
    """What all variants of one request used and tried."""

    attempts: list[generation_pb2.Attempt] = field(default_factory=list)
    usage: generation_pb2.Usage = field(default_factory=generation_pb2.Usage)
    completed: int = 0
    failed: int = 0
    last_failure: ProviderError | None = None

    def add_usage(self, usage: generation_pb2.Usage) -> None:
        self.usage.input_tokens += usage.input_tokens
        self.usage.output_tokens += usage.output_tokens
        self.usage.estimated = self.usage.estimated or usage.estimated


class VariantRunner:
    def __init__(
        self,
        adapter: Adapter,
        key: ResolvedKey,
        guide: brand_pb2.BrandGuide,
        adherence: brand_pb2.AdherenceLevel.ValueType,
        keywords: tuple[str, ...],
        brand_check: BrandCheck,
        max_attempts: int,
        max_retry_wait_s: float,
        tally: Tally,
        emit: Emit,
    ) -> None:
        self._adapter = adapter
        self._key = key
        self._guide = guide
        self._adherence = adherence
        self._keywords = keywords
        self._brand_check = brand_check
        self._max_attempts = max_attempts
        self._max_retry_wait_s = max_retry_wait_s
        self._tally = tally
        self._emit = emit

    async def run(self, plan: VariantPlan) -> None:
        """Write one variant; raises only request-wide errors."""
        await self._emit(
            generation_pb2.GenerateContentResponse(
                variant_started=generation_pb2.VariantStarted(
                    variant_index=plan.index, platform=plan.platform
                )
            )
        )
        pieces: list[str] = []
        for attempt in range(1, self._max_attempts + 1):
            try:
                finished = await self._stream_once(plan, pieces)
            except ProviderError as error:
                self._record_attempt(plan, error.reason)
                if not self._should_retry(error, attempt, pieces):
                    if error.request_wide:
                        raise
                    await self._fail(plan, error, pieces)
                    return
                await asyncio.sleep(self._retry_wait(error))
                continue

            self._record_attempt(plan, "ok")
            await self._complete(plan, "".join(pieces), finished)
            return

    async def _stream_once(self, plan: VariantPlan, pieces: list[str]) -> Finished:
        async for event in self._adapter.stream(plan.call):
            if isinstance(event, Delta):
                pieces.append(event.text)
                await self._emit(
                    generation_pb2.GenerateContentResponse(
                        text_delta=generation_pb2.TextDelta(
                            variant_index=plan.index, text=event.text
                        )
                    )
                )
            else:
                return event
        # Adapters end with Finished or raise; reaching here is a defect.
        raise AssertionError("adapter stream ended without Finished")

    def _should_retry(
        self, error: ProviderError, attempt: int, pieces: list[str]
    ) -> bool:
        if pieces or not error.retryable or attempt >= self._max_attempts:
            return False
        return self._retry_wait(error) <= self._max_retry_wait_s

    def _retry_wait(self, error: ProviderError) -> float:
        if error.retry_after_s is None:
            return RETRY_BACKOFF_S
        return error.retry_after_s

    def _record_attempt(self, plan: VariantPlan, outcome: str) -> None:
        self._tally.attempts.append(
            generation_pb2.Attempt(
                provider=self._key.provider,
                model=plan.call.model,
                key_source=self._key.source,
                outcome=outcome,
            )
        )

    async def _complete(self, plan: VariantPlan, text: str, end: Finished) -> None:
        usage = self._usage(plan.call, text, end.usage)
        report = self._brand_check(
            text, self._guide, plan.platform, self._adherence, list(self._keywords)
        )

        self._tally.completed += 1
        self._tally.add_usage(usage)
        await self._emit(
            generation_pb2.GenerateContentResponse(
                variant_completed=generation_pb2.VariantCompleted(
                    variant_index=plan.index,
                    platform=plan.platform,
                    text=text,
                    compliance=report,
                    usage=usage,
                )
            )
        )

    async def _fail(
        self, plan: VariantPlan, error: ProviderError, pieces: list[str]
    ) -> None:
        # Usage is what was received; the provider never reports it for a
        # stream that broke, so it is estimated.
        usage = self._usage(plan.call, "".join(pieces), None)
        self._tally.failed += 1
        self._tally.last_failure = error
        self._tally.add_usage(usage)
        _log.debug("variant failed", reason=error.reason, index=plan.index)
        await self._emit(
            generation_pb2.GenerateContentResponse(
                variant_failed=generation_pb2.VariantFailed(
                    variant_index=plan.index,
                    platform=plan.platform,
                    reason=error.reason,
                    message=str(error),
                    usage=usage,
                    retryable=error.retryable,
                )
            )
        )

    def _usage(
        self, call: GenerationCall, text: str, reported: TokenUsage | None
    ) -> generation_pb2.Usage:
        # TODO(pricing table): cost_usd stays unset until per-model prices exist.
        if reported is not None and reported.output_tokens > 0:
            return generation_pb2.Usage(
                input_tokens=reported.input_tokens,
                output_tokens=reported.output_tokens,
            )
        prompt = call.system + call.user
        return generation_pb2.Usage(
            input_tokens=math.ceil(len(prompt) / CHARS_PER_TOKEN),
            output_tokens=math.ceil(len(text) / CHARS_PER_TOKEN),
            estimated=True,
        )
