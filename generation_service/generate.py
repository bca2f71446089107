"""One GenerateContent request, from validation to the summary.

The steps, each of which may end the request before any provider is called:

1. validate the request;
2. load the tenant's policy and work out the provider chain;
3. reserve the request's estimate against the tenant's limits;
4. resolve the first provider's key under that policy.

The reservation comes before the key, which it does not need: a request the
limits refuse never fetches the tenant's key (KeyVault would audit the read
and stamp the key's last use for a call that is never made).

Then every variant streams (``fanout``, ``variants``), and whichever way the
request ends (completed, failed, cancelled by the caller or by its deadline)
its calls are recorded and its reservation settled, shielded from the
cancellation so that a caller who leaves is still accounted for.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator
from contextlib import aclosing
from decimal import Decimal

from byok.generation.v1 import generation_pb2

from generation_service.calls import Calls
from generation_service.chain import Step, provider_chain
from generation_service.compliance import Compliance
from generation_service.config import GenerationSettings
from generation_service.errors import GenerationError
from generation_service.fanout import stream_variants
from generation_service.keys import KeyResolver, RequestKeys
from generation_service.limits import Admission, Limiter
from generation_service.policies import PolicySource
from generation_service.pricing import PriceTable
from generation_service.prompts import build_call
from generation_service.provenance import Provenance
from generation_service.providers import COMPLETION_STYLE, Adapters, GenerationCall
from generation_service.tally import Tally
from generation_service.usage import CallUsage, reserve_estimate
from generation_service.validation import ValidRequest, validate
from generation_service.variants import RetryPolicy, VariantPlan, VariantRunner
from shared.rpc import annotate

Response = generation_pb2.GenerateContentResponse


class RequestFailed(Exception):
    """Ends the RPC with ``error``."""

    def __init__(self, error: GenerationError) -> None:
        super().__init__(error.reason)
        self.error = error


class Generator:
    def __init__(
        self,
        settings: GenerationSettings,
        keys: KeyResolver,
        adapters: Adapters,
        policies: PolicySource,
        limiter: Limiter,
        prices: PriceTable,
    ) -> None:
        self._settings = settings
        self._keys = keys
        self._adapters = adapters
        self._policies = policies
        self._limiter = limiter
        self._prices = prices
        self._retry = RetryPolicy(
            settings.max_attempts, settings.retry_base_s, settings.max_retry_wait_s
        )

    async def generate(
        self,
        request: generation_pb2.GenerateContentRequest,
        time_remaining_s: float | None,
        provenance: Provenance,
    ) -> AsyncGenerator[Response, None]:
        """Yield the events; the last one is the summary.

        Raises :class:`RequestFailed` for a request that must end non-OK;
        ``provenance`` holds what was learnt and tried either way.
        """
        loop = asyncio.get_running_loop()
        timeout_s = time_remaining_s or self._settings.request_timeout_s
        deadline = loop.time() + timeout_s
        tally = provenance.tally
        try:
            valid = validate(request, self._settings)
            annotate(tenant=request.tenant_id, request_id=provenance.request_id)
            policy = await self._policies.for_request(request.tenant_id)
            chain = provider_chain(
                self._settings,
                request.content_type,
                valid.provider,
                valid.model,
                policy.provider_order,
            )
            provenance.step = chain[0]
            annotate(provider=chain[0].provider, model=chain[0].model)

            compliance = Compliance(
                request.brand_guide,
                request.adherence,
                tuple(request.keywords),
                self._settings.max_rewrites,
            )
            await compliance.prepare(
                valid.platforms,
                request.content_type,
                request.tone,
                request.target_audience,
            )
            plans = _plans(valid)
            admission = await self._limiter.admit(
                request.tenant_id,
                provenance.request_id,
                policy.limits,
                self._estimate(valid, compliance, plans, chain),
            )
        except GenerationError as error:
            raise RequestFailed(error) from None

        keys = RequestKeys(
            self._keys, request.tenant_id, policy.platform_fallback, deadline
        )
        try:
            provenance.key = await keys.for_step(chain[0].provider, chain[0].model)
        except GenerationError as error:
            await _settle(self._limiter, admission, tally)
            raise RequestFailed(error) from None
        except asyncio.CancelledError:
            await _settle(self._limiter, admission, tally)
            raise
        annotate(key_source=provenance.key.source_name)

        calls = Calls(self._adapters, self._prices, tally)
        events = stream_variants(
            plans,
            lambda emit: VariantRunner(
                chain,
                keys,
                calls,
                lambda plan, step: self._call(valid, compliance, plan, step),
                compliance,
                self._retry,
                deadline,
                tally,
                emit,
            ),
            self._settings.max_parallel_variants,
            deadline - loop.time(),
        )
        failure: GenerationError | None = None
        try:
            # aclosing: however this generator is left, the variants' tasks
            # and their provider streams are closed before settling.
            async with aclosing(events):
                async for response in events:
                    yield response
        except GenerationError as error:
            failure = error
        finally:
            await _settle(self._limiter, admission, tally)

        _annotate_tally(tally)
        if failure is None and tally.completed == 0:
            failure = tally.last_failure
        if failure is not None:
            raise RequestFailed(failure)
        yield Response(summary=provenance.summary())

    def _call(
        self,
        valid: ValidRequest,
        compliance: Compliance,
        plan: VariantPlan,
        step: Step,
    ) -> GenerationCall:
        return build_call(
            valid.request,
            compliance,
            step.model,
            plan.platform,
            plan.number,
            valid.variant_count,
            self._settings.max_output_tokens,
        )

    def _estimate(
        self,
        valid: ValidRequest,
        compliance: Compliance,
        plans: list[VariantPlan],
        chain: tuple[Step, ...],
    ) -> CallUsage:
        """The most any step of the chain could use, summed over the variants.

        A variant that may be repaired may also cost its rewrites: each is a
        call of about the same size.
        """
        total = CallUsage()
        for plan in plans:
            per_step = []
            for step in chain:
                call = self._call(valid, compliance, plan, step)
                calls = 1
                if step.provider not in COMPLETION_STYLE and (
                    compliance.rewrites_possible()
                ):
                    calls += self._settings.max_rewrites
                one = reserve_estimate(self._prices, step.provider, call)
                per_step.append((one, calls))
            total += CallUsage(
                input_tokens=max(e.input_tokens * n for e, n in per_step),
                output_tokens=max(e.output_tokens * n for e, n in per_step),
                estimated=True,
                cost_usd=max((e.cost_usd * n for e, n in per_step), default=Decimal(0)),
            )
        return total


def _plans(valid: ValidRequest) -> list[VariantPlan]:
    plans: list[VariantPlan] = []
    for platform in valid.platforms:
        for number in range(valid.variant_count):
            plans.append(VariantPlan(len(plans), platform, number))
    return plans


async def _settle(limiter: Limiter, admission: Admission, tally: Tally) -> None:
    # Shielded: a caller who leaves cancels this task, and the calls it
    # already paid for must still be recorded.
    settling = asyncio.ensure_future(limiter.settle(admission, tally))
    try:
        await asyncio.shield(settling)
    except asyncio.CancelledError:
        await asyncio.wait([settling])
        raise


def _annotate_tally(tally: Tally) -> None:
    annotate(
        variants_completed=tally.completed,
        variants_failed=tally.failed,
        attempts=len(tally.records),
    )


def new_request_id() -> str:
    return uuid.uuid4().hex
