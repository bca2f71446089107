"""Writing one variant: walk the provider chain, retry when safe, check it.

For each step of the chain the variant gets that provider's key from the
request's :class:`~generation_service.keys.RequestKeys`, then calls the
provider, retrying a retryable failure with backoff and jitter (or the
provider's retry-after) while the retry fits the deadline. When a step gives
up and its error allows it, the next step is tried.

All of that happens only before the variant's first piece of text reached
the caller: text already streamed cannot be taken back, so a failure after
that ends the variant as failed. A variant is completed only when the
adapter saw the provider's own end-of-stream and the text is not empty.

Each finished variant goes through brand compliance: a blocked one is
repaired, with rewrites by the same provider and key. A STRICT variant is
stopped as soon as it blocks; unless its repair succeeds it then fails
(BRAND_BLOCKED), since its text is unfinished.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

import structlog
from byok.generation.v1 import generation_pb2

from generation_service.calls import Attempt, Calls, Ending
from generation_service.chain import Step
from generation_service.compliance import Compliance, Rewrite, Verdict
from generation_service.errors import (
    BrandBlocked,
    GenerationError,
    KeyResolutionError,
    KeyVaultFailed,
    KeyVaultUnavailable,
    ProviderError,
    TenantKeyRejected,
)
from generation_service.keys import RequestKeys
from generation_service.providers import COMPLETION_STYLE, GenerationCall
from generation_service.tally import AttemptRecord, CallStatus, Tally
from generation_service.usage import CallUsage

Emit = Callable[[generation_pb2.GenerateContentResponse], Awaitable[None]]
MakeCall = Callable[["VariantPlan", Step], GenerationCall]

# A retry is only worth starting with at least this long left to run it.
MIN_ATTEMPT_S = 0.25

_log = structlog.get_logger("byok.generation.variants")


@dataclass(frozen=True)
class VariantPlan:
    index: int
    platform: str
    # This variant's number among its platform's variants.
    number: int


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_s: float
    max_wait_s: float

    def wait(self, error: ProviderError, attempt: int) -> float:
        if error.retry_after_s is not None:
            return error.retry_after_s
        jitter = random.uniform(0.5, 1.5)  # noqa: S311 - spreads retries, no secret
        return self.base_s * 2 ** (attempt - 1) * jitter


class VariantRunner:
    def __init__(
        self,
        chain: Sequence[Step],
        keys: RequestKeys,
        calls: Calls,
        make_call: MakeCall,
        compliance: Compliance,
        retry: RetryPolicy,
        deadline: float,
        tally: Tally,
        emit: Emit,
    ) -> None:
        self._chain = chain
        self._keys = keys
        self._calls = calls
        self._make_call = make_call
        self._compliance = compliance
        self._retry = retry
        self._deadline = deadline
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
        released: list[str] = []
        failure: ProviderError | None = None
        last: Attempt | None = None
        for step in self._chain:
            try:
                key = await self._keys.for_step(step.provider, step.model)
            except KeyResolutionError as error:
                if step is self._chain[0]:
                    raise
                self._record_unsent(plan, step, error)
                if isinstance(error, KeyVaultUnavailable | KeyVaultFailed):
                    # Never walk around a KeyVault fault.
                    break
                continue

            for number in range(1, self._retry.max_attempts + 1):
                last = Attempt(plan.index, step, key, self._make_call(plan, step))
                try:
                    ending = await self._calls.stream(
                        last, self._releaser(plan, released)
                    )
                except ProviderError as error:
                    failure = error
                    if isinstance(error, TenantKeyRejected):
                        self._keys.report_rejected(key, error)
                    if released or not await self._retry_after(error, number):
                        break
                    continue
                await self._finish(plan, last, ending)
                return
            if released or failure is None or not failure.falls_back:
                break

        # The chain's first key was resolved before any variant started, so
        # at least one call was made.
        assert failure is not None
        if failure.request_wide and not released:
            raise failure
        await self._fail(plan, failure, last)

    def _releaser(
        self, plan: VariantPlan, released: list[str]
    ) -> Callable[[str], Awaitable[bool]]:
        watch = self._compliance.watch(plan.platform)

        async def release(text: str) -> bool:
            released.append(text)
            await self._emit(
                generation_pb2.GenerateContentResponse(
                    text_delta=generation_pb2.TextDelta(
                        variant_index=plan.index, text=text
                    )
                )
            )
            return watch.feed(text)

        return release

    async def _retry_after(self, error: ProviderError, attempt: int) -> bool:
        """Wait before retrying, if a retry is allowed; False if it is not."""
        if not error.retryable or attempt >= self._retry.max_attempts:
            return False
        wait = self._retry.wait(error, attempt)
        left = self._deadline - asyncio.get_running_loop().time()
        if wait > self._retry.max_wait_s or wait + MIN_ATTEMPT_S > left:
            return False
        _log.debug("retrying", reason=error.reason, wait_s=round(wait, 3))
        await asyncio.sleep(wait)
        return True

    async def _finish(
        self, plan: VariantPlan, attempt: Attempt, ending: Ending
    ) -> None:
        verdict = await self._checked(plan, attempt, ending.stopped)
        if ending.stopped and not verdict.report.compliant:
            await self._fail(
                plan,
                BrandBlocked(
                    "the variant broke a blocking brand rule and could not be "
                    "repaired; it was stopped unfinished"
                ),
                attempt,
            )
            return

        self._tally.completed += 1
        await self._emit(
            generation_pb2.GenerateContentResponse(
                variant_completed=generation_pb2.VariantCompleted(
                    variant_index=plan.index,
                    platform=plan.platform,
                    text=verdict.text,
                    compliance=verdict.report,
                    usage=self._variant_usage(plan).to_pb(),
                    provider=attempt.step.provider,
                    model=attempt.step.model,
                    key_source=attempt.key.source,
                    key_fingerprint=attempt.key.fingerprint,
                    finish_reason=(
                        ending.finished.stop_reason if ending.finished else ""
                    ),
                )
            )
        )

    async def _checked(
        self, plan: VariantPlan, attempt: Attempt, unfinished: bool
    ) -> Verdict:
        """The variant's text and report, repaired if it blocks."""
        rewrite = None
        if attempt.step.provider not in COMPLETION_STYLE:
            # A base model follows no instructions: it gets no rewrites.
            rewrite = self._rewriter(attempt)
        try:
            return await self._compliance.enforce(
                attempt.text, plan.platform, rewrite, unfinished
            )
        except ProviderError as error:
            # A rewrite failed: the variant keeps the text it had.
            _log.debug("rewrite failed", reason=error.reason, index=plan.index)
            report = self._compliance.report(attempt.text, plan.platform)
            return Verdict(attempt.text, report)

    def _rewriter(self, attempt: Attempt) -> Rewrite:
        async def rewrite(draft: str, instructions: str) -> str:
            call = replace(
                attempt.call,
                system=f"{attempt.call.system}\n\n{instructions}",
                user=draft,
            )
            again = Attempt(attempt.variant_index, attempt.step, attempt.key, call)
            return await self._calls.collect(again)

        return rewrite

    def _record_unsent(
        self, plan: VariantPlan, step: Step, error: GenerationError
    ) -> None:
        self._tally.add(
            AttemptRecord(
                variant_index=plan.index,
                provider=step.provider,
                model=step.model,
                key_source=generation_pb2.KEY_SOURCE_UNSPECIFIED,
                key_fingerprint="",
                outcome=error.reason,
                status=CallStatus.FAILED,
                usage=CallUsage(),
                sent=False,
            )
        )

    def _variant_usage(self, plan: VariantPlan) -> CallUsage:
        """Every call made for the variant: retries, fallbacks and rewrites."""
        total = CallUsage()
        for record in self._tally.records:
            if record.variant_index == plan.index:
                total += record.usage
        return total

    async def _fail(
        self, plan: VariantPlan, error: GenerationError, attempt: Attempt | None
    ) -> None:
        self._tally.failed += 1
        self._tally.last_failure = error
        _log.debug("variant failed", reason=error.reason, index=plan.index)
        failed = generation_pb2.VariantFailed(
            variant_index=plan.index,
            platform=plan.platform,
            reason=error.reason,
            message=str(error),
            usage=self._variant_usage(plan).to_pb(),
            retryable=error.retryable,
        )
        if attempt is not None:
            failed.provider = attempt.step.provider
            failed.model = attempt.step.model
            failed.key_source = attempt.key.source
            failed.key_fingerprint = attempt.key.fingerprint
        await self._emit(generation_pb2.GenerateContentResponse(variant_failed=failed))
