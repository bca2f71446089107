"""gRPC plumbing shared by both services.

- :func:`abort` ends an RPC with a status, a message and a typed
  ``google.rpc.ErrorInfo`` detail, so callers can branch on a reason code.
- :class:`RpcLogInterceptor` writes exactly one log line per RPC with the
  method, status and duration, plus fields the handler adds through
  :func:`annotate` (tenant, key source).
- :func:`build_server` makes a mTLS-only server with health checking and
  reflection.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, NoReturn

import grpc
import structlog
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

ERROR_DOMAIN = "byok"

_log = structlog.get_logger("byok.rpc")
_rpc_fields: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "rpc_fields", default=None
)


def annotate(**fields: Any) -> None:
    """Add fields to the current RPC's log line."""
    current = _rpc_fields.get()
    if current is not None:
        current.update(fields)


def status_with_info(
    code: grpc.StatusCode,
    message: str,
    reason: str,
    metadata: dict[str, str] | None = None,
    retry_after_s: float | None = None,
) -> status_pb2.Status:
    info = error_details_pb2.ErrorInfo(
        reason=reason, domain=ERROR_DOMAIN, metadata=metadata or {}
    )
    details = [info]
    if retry_after_s is not None:
        retry = error_details_pb2.RetryInfo()
        retry.retry_delay.FromMilliseconds(int(retry_after_s * 1000))
        details.append(retry)
    packed = []
    for detail in details:
        any_detail = any_pb2.Any()
        any_detail.Pack(detail)
        packed.append(any_detail)
    return status_pb2.Status(code=code.value[0], message=message, details=packed)


async def abort(
    context: grpc.aio.ServicerContext,
    code: grpc.StatusCode,
    message: str,
    reason: str,
    metadata: dict[str, str] | None = None,
    retry_after_s: float | None = None,
) -> NoReturn:
    """End the RPC with ``code`` and an ``ErrorInfo`` carrying ``reason``."""
    status = status_with_info(code, message, reason, metadata, retry_after_s)
    annotate(reason=reason)
    await context.abort(
        code,
        message,
        trailing_metadata=(("grpc-status-details-bin", status.SerializeToString()),),
    )
    raise AssertionError("context.abort returned")  # pragma: no cover


def error_info(
    error: grpc.aio.AioRpcError | grpc.RpcError,
) -> error_details_pb2.ErrorInfo | None:
    """The ``ErrorInfo`` detail of a failed call, if it carries one."""
    from grpc_status import rpc_status

    status = rpc_status.from_call(error)
    if status is None:
        return None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    return None


class RpcLogInterceptor(grpc.aio.ServerInterceptor):
    """One structured line per RPC: method, status, duration and handler fields."""

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]
        ],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        method = details.method
        if handler is None or method.startswith(("/grpc.health", "/grpc.reflection")):
            return handler
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(method, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(method, handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    def _wrap_unary(
        self, method: str, behaviour: Callable[..., Any]
    ) -> Callable[..., Any]:
        async def logged(request: Any, context: grpc.aio.ServicerContext) -> Any:
            fields: dict[str, Any] = {}
            _rpc_fields.set(fields)
            started = time.perf_counter()
            ending: str | None = None
            try:
                return await behaviour(request, context)
            except BaseException as exc:
                ending = _ending_of(exc)
                raise
            finally:
                _emit(method, context, fields, started, ending)

        return logged

    def _wrap_stream(
        self, method: str, behaviour: Callable[..., Any]
    ) -> Callable[..., Any]:
        async def logged(request: Any, context: grpc.aio.ServicerContext) -> Any:
            # No reset of the context variable afterwards: when a client goes
            # away, gRPC closes this generator from another context, where a
            # reset would raise. Each RPC runs in its own task, so nothing leaks.
            fields: dict[str, Any] = {}
            _rpc_fields.set(fields)
            started = time.perf_counter()
            ending: str | None = None
            try:
                async for response in behaviour(request, context):
                    yield response
            except BaseException as exc:
                ending = _ending_of(exc)
                raise
            finally:
                _emit(method, context, fields, started, ending)

        return logged


def _ending_of(exc: BaseException) -> str | None:
    """The status an exception ends an RPC with, when the context has none."""
    if isinstance(exc, asyncio.CancelledError | GeneratorExit):
        return "CANCELLED"
    if isinstance(exc, grpc.aio.AbortError):
        return None
    return "UNKNOWN"


def _emit(
    method: str,
    context: grpc.aio.ServicerContext,
    fields: dict[str, Any],
    started: float,
    ending: str | None,
) -> None:
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        status = code.name
    elif code is not None:
        status = str(code)
    elif ending is not None:
        status = ending
    else:
        status = "CANCELLED" if context.cancelled() else "OK"
    duration_ms = round((time.perf_counter() - started) * 1000, 2)
    _log.info("rpc", method=method, status=status, duration_ms=duration_ms, **fields)


def build_server(
    services: Iterable[str],
    credentials: grpc.ServerCredentials,
    address: str,
    register: Callable[[grpc.aio.Server], None],
    max_concurrent_rpcs: int | None = None,
) -> tuple[grpc.aio.Server, int, health.aio.HealthServicer]:
    """Create a mTLS server with health and reflection; returns it and its port.

    With ``max_concurrent_rpcs``, calls past the limit fail at once with
    RESOURCE_EXHAUSTED instead of queueing until gRPC cancels them.
    """
    server = grpc.aio.server(
        interceptors=[RpcLogInterceptor()],
        maximum_concurrent_rpcs=max_concurrent_rpcs,
    )
    register(server)

    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [*services, health.SERVICE_NAME, reflection.SERVICE_NAME]
    reflection.enable_server_reflection(names, server)

    port = server.add_secure_port(address, credentials)
    if port == 0:
        raise OSError(f"cannot listen on {address}")
    return server, port, health_servicer


async def mark_serving(health_servicer: Any, services: Iterable[str]) -> None:
    serving = health_pb2.HealthCheckResponse.SERVING
    await health_servicer.set("", serving)
    for name in services:
        await health_servicer.set(name, serving)
