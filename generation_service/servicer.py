"""The GenerationService RPCs.

Every failure leaves through :func:`_abort`, which takes the status from the
one table in ``errors`` and attaches an ``ErrorInfo`` with the reason (and
the provenance known so far), plus ``RetryInfo`` when trying again may help.
Messages come from our own error classes and name the provider and the
cause, never a key. GenerateContent's trailers carry the provenance on
success and failure alike.

Only client certificates on ``GENERATION_CALLER_ALLOWED_CLIENTS`` may call
GenerateContent, checked before the request is even read: a caller spends
the key of whichever tenant it names.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Set
from contextlib import aclosing
from typing import NoReturn

import grpc
from byok.generation.v1 import generation_pb2, generation_pb2_grpc

from generation_service.admin import Admin
from generation_service.errors import (
    CallerNotAllowed,
    GenerationError,
    InvalidRequest,
    ProviderError,
    status_of,
)
from generation_service.generate import Generator, RequestFailed, new_request_id
from generation_service.provenance import Provenance
from shared.rpc import annotate, status_with_info
from shared.tls import peer_identities

# Suggested wait for retryable failures that carry no hint of their own.
DEFAULT_RETRY_AFTER_S = 1.0


class GenerationServicer(generation_pb2_grpc.GenerationServiceServicer):
    def __init__(self, generator: Generator, admin: Admin, callers: Set[str]) -> None:
        self._generator = generator
        self._admin = admin
        self._callers = frozenset(callers)

    async def GenerateContent(
        self,
        request: generation_pb2.GenerateContentRequest,
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[generation_pb2.GenerateContentResponse]:
        # First of all: any certificate of the CA could otherwise spend any
        # tenant's key.
        if not peer_identities(context) & self._callers:
            await _abort(
                context,
                CallerNotAllowed("caller is not allowed to generate content"),
            )

        provenance = Provenance(new_request_id())
        events = self._generator.generate(request, context.time_remaining(), provenance)
        try:
            # aclosing: a caller who leaves while a response is being sent
            # closes the provider streams now, not when the generator is
            # garbage-collected.
            async with aclosing(events):
                async for response in events:
                    if response.HasField("summary"):
                        context.set_trailing_metadata(provenance.trailers())
                    yield response
        except RequestFailed as failed:
            await _abort(
                context, failed.error, provenance.fields(), provenance.trailers()
            )

    async def SetTenantPolicy(
        self,
        request: generation_pb2.SetTenantPolicyRequest,
        context: grpc.aio.ServicerContext,
    ) -> generation_pb2.SetTenantPolicyResponse:
        try:
            self._admin.check_caller(peer_identities(context))
            policy = await self._admin.set_policy(request.policy)
        except GenerationError as error:
            await _abort(context, error)
        return generation_pb2.SetTenantPolicyResponse(policy=policy)

    async def GetTenantPolicy(
        self,
        request: generation_pb2.GetTenantPolicyRequest,
        context: grpc.aio.ServicerContext,
    ) -> generation_pb2.GetTenantPolicyResponse:
        try:
            self._admin.check_caller(peer_identities(context))
            policy = await self._admin.get_policy(request.tenant_id)
        except GenerationError as error:
            await _abort(context, error)
        return generation_pb2.GetTenantPolicyResponse(policy=policy)

    async def GetUsage(
        self,
        request: generation_pb2.GetUsageRequest,
        context: grpc.aio.ServicerContext,
    ) -> generation_pb2.GetUsageResponse:
        try:
            self._admin.check_caller(peer_identities(context))
            totals = await self._admin.usage(request.tenant_id, request.hours)
        except GenerationError as error:
            await _abort(context, error)
        return generation_pb2.GetUsageResponse(totals=totals)


async def _abort(
    context: grpc.aio.ServicerContext,
    error: GenerationError,
    details: dict[str, str] | None = None,
    trailers: tuple[tuple[str, str], ...] = (),
) -> NoReturn:
    metadata = dict(details or {})
    if isinstance(error, ProviderError):
        metadata["provider"] = error.provider
    if isinstance(error, InvalidRequest) and error.field:
        metadata["field"] = error.field
    retry_after = None
    if error.retryable:
        retry_after = error.retry_after_s or DEFAULT_RETRY_AFTER_S
    code = status_of(error)
    status = status_with_info(code, str(error), error.reason, metadata, retry_after)
    annotate(reason=error.reason)
    await context.abort(
        code,
        str(error),
        trailing_metadata=(
            *trailers,
            ("grpc-status-details-bin", status.SerializeToString()),
        ),
    )
    raise AssertionError("context.abort returned")  # pragma: no cover
