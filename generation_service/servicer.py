"""The GenerateContent RPC: validate, resolve the key, stream the variants.

Every failure leaves through :func:`_abort`, which takes the status from the
one table in ``errors`` and attaches an ``ErrorInfo`` with the reason, plus
``RetryInfo`` when trying again may help. Messages come from our own error
classes and name the provider and the cause, never a key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import NoReturn

import grpc
from byok.generation.v1 import generation_pb2, generation_pb2_grpc

from generation_service.config import GenerationSettings
from generation_service.errors import (
    GenerationError,
    ProviderError,
    status_of,
)
from generation_service.fanout import stream_variants
from generation_service.keys import KeyResolver, ResolvedKey
from generation_service.prompts import build_call
from generation_service.providers import Adapter, Adapters
from generation_service.validation import ValidRequest, validate
from generation_service.variants import Emit, Tally, VariantPlan, VariantRunner
from shared.rpc import abort, annotate

Response = generation_pb2.GenerateContentResponse

# Suggested wait for retryable failures that carry no hint of their own.
DEFAULT_RETRY_AFTER_S = 1.0


class GenerationServicer(generation_pb2_grpc.GenerationServiceServicer):
    def __init__(
        self, settings: GenerationSettings, keys: KeyResolver, adapters: Adapters
    ) -> None:
        self._settings = settings
        self._keys = keys
        self._adapters = adapters

    async def GenerateContent(
        self,
        request: generation_pb2.GenerateContentRequest,
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[Response]:
        try:
            valid = validate(request, self._settings)
            annotate(
                tenant=request.tenant_id, provider=valid.provider, model=valid.model
            )
            key = await self._keys.resolve(
                request.tenant_id, valid.provider, context.time_remaining()
            )
            annotate(key_source=key.source_name)
            adapter = self._adapters.build(key)
        except GenerationError as error:
            await _abort(context, error)

        tally = Tally()
        try:
            async for response in stream_variants(
                _plans(valid, self._settings.max_output_tokens),
                lambda emit: self._runner(valid, key, adapter, tally, emit),
                self._settings.max_parallel_variants,
                context.time_remaining() or self._settings.request_timeout_s,
            ):
                yield response
        except GenerationError as error:
            _annotate_tally(tally)
            await _abort(context, error)

        _annotate_tally(tally)
        if tally.completed == 0 and tally.last_failure is not None:
            await _abort(context, tally.last_failure)
        yield Response(summary=_summary(valid, key, tally))

    def _runner(
        self,
        valid: ValidRequest,
        key: ResolvedKey,
        adapter: Adapter,
        tally: Tally,
        emit: Emit,
    ) -> VariantRunner:
        from generation_service import brand

        request = valid.request
        return VariantRunner(
            adapter=adapter,
            key=key,
            guide=request.brand_guide,
            adherence=request.adherence,
            keywords=tuple(request.keywords),
            brand_check=brand.check_variant,
            max_attempts=self._settings.max_attempts,
            max_retry_wait_s=self._settings.max_retry_wait_s,
            tally=tally,
            emit=emit,
        )


def _plans(valid: ValidRequest, max_output_tokens: int) -> list[VariantPlan]:
    plans = []
    for platform in valid.platforms:
        for variant in range(valid.variant_count):
            call = build_call(
                valid.request,
                valid.model,
                platform,
                variant,
                valid.variant_count,
                max_output_tokens,
            )
            plans.append(VariantPlan(len(plans), platform, call))
    return plans


def _summary(
    valid: ValidRequest, key: ResolvedKey, tally: Tally
) -> generation_pb2.GenerationSummary:
    return generation_pb2.GenerationSummary(
        provider=valid.provider,
        model=valid.model,
        key_source=key.source,
        key_fingerprint=key.fingerprint,
        total_usage=tally.usage,
        variants_completed=tally.completed,
        variants_failed=tally.failed,
        attempts=tally.attempts,
    )


def _annotate_tally(tally: Tally) -> None:
    annotate(
        variants_completed=tally.completed,
        variants_failed=tally.failed,
        attempts=len(tally.attempts),
    )


async def _abort(context: grpc.aio.ServicerContext, error: GenerationError) -> NoReturn:
    metadata = {"provider": error.provider} if isinstance(error, ProviderError) else {}
    retry_after = None
    if error.retryable:
        retry_after = error.retry_after_s or DEFAULT_RETRY_AFTER_S
    await abort(
        context, status_of(error), str(error), error.reason, metadata, retry_after
    )
