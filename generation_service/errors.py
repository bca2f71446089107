"""Every way a generation can fail, and the gRPC status for each.

::

    GenerationError
    ├── InvalidRequest                 INVALID_ARGUMENT     INVALID_REQUEST
    ├── GenerationTimedOut             DEADLINE_EXCEEDED    GENERATION_TIMEOUT
    ├── InternalFailure                INTERNAL             INTERNAL
    ├── KeyResolutionError
    │   ├── NoKeyConfigured            FAILED_PRECONDITION  NO_KEY_CONFIGURED
    │   ├── KeyVaultUnavailable        UNAVAILABLE          KEYVAULT_UNAVAILABLE
    │   └── KeyVaultFailed             INTERNAL             KEYVAULT_ERROR
    └── ProviderError
        ├── TenantKeyRejected          FAILED_PRECONDITION  TENANT_KEY_REJECTED
        ├── PlatformKeyRejected        INTERNAL             PLATFORM_KEY_REJECTED
        ├── ModelUnavailable           FAILED_PRECONDITION  MODEL_UNAVAILABLE
        ├── ProviderRejectedRequest    INVALID_ARGUMENT     PROVIDER_REJECTED_REQUEST
        ├── ProviderRateLimited        RESOURCE_EXHAUSTED   PROVIDER_RATE_LIMITED
        ├── ProviderOverloaded         UNAVAILABLE          PROVIDER_OVERLOADED
        ├── ProviderUnreachable        UNAVAILABLE          PROVIDER_UNREACHABLE
        ├── ProviderStalled            UNAVAILABLE          PROVIDER_STALLED
        ├── StreamIncomplete           UNAVAILABLE          STREAM_INCOMPLETE
        └── ProviderFailed             UNAVAILABLE          PROVIDER_ERROR

Messages are written here, from the provider's name and the cause; a
provider's own error text is never passed on, because providers quote parts
of the key they rejected.
"""

from __future__ import annotations

from typing import ClassVar

import grpc


class GenerationError(Exception):
    """Root of the service's errors; ``str`` is safe to show a caller."""

    reason: ClassVar[str] = "GENERATION_ERROR"
    # Whether trying the same call again later may succeed.
    retryable: ClassVar[bool] = False
    # Whether the failure concerns the whole request (the key, the model),
    # so the other variants would fail the same way.
    request_wide: ClassVar[bool] = True

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class InvalidRequest(GenerationError):
    reason = "INVALID_REQUEST"


class GenerationTimedOut(GenerationError):
    reason = "GENERATION_TIMEOUT"
    retryable = True


class InternalFailure(GenerationError):
    """A defect of ours; the details are in the service's log only."""

    reason = "INTERNAL"


class KeyResolutionError(GenerationError):
    reason = "KEY_RESOLUTION_FAILED"


class NoKeyConfigured(KeyResolutionError):
    reason = "NO_KEY_CONFIGURED"


class KeyVaultUnavailable(KeyResolutionError):
    reason = "KEYVAULT_UNAVAILABLE"
    retryable = True


class KeyVaultFailed(KeyResolutionError):
    reason = "KEYVAULT_ERROR"


class ProviderError(GenerationError):
    reason = "PROVIDER_ERROR"
    request_wide = False

    def __init__(
        self, provider: str, cause: str, retry_after_s: float | None = None
    ) -> None:
        super().__init__(f"{provider}: {cause}", retry_after_s)
        self.provider = provider
        self.cause = cause


class TenantKeyRejected(ProviderError):
    reason = "TENANT_KEY_REJECTED"
    request_wide = True


class PlatformKeyRejected(ProviderError):
    reason = "PLATFORM_KEY_REJECTED"
    request_wide = True


class ModelUnavailable(ProviderError):
    reason = "MODEL_UNAVAILABLE"
    request_wide = True


class ProviderRejectedRequest(ProviderError):
    reason = "PROVIDER_REJECTED_REQUEST"
    request_wide = True


class ProviderRateLimited(ProviderError):
    reason = "PROVIDER_RATE_LIMITED"
    retryable = True
    request_wide = True


class ProviderOverloaded(ProviderError):
    reason = "PROVIDER_OVERLOADED"
    retryable = True


class ProviderUnreachable(ProviderError):
    reason = "PROVIDER_UNREACHABLE"
    retryable = True


class ProviderStalled(ProviderError):
    reason = "PROVIDER_STALLED"
    retryable = True


class StreamIncomplete(ProviderError):
    reason = "STREAM_INCOMPLETE"
    retryable = True


class ProviderFailed(ProviderError):
    reason = "PROVIDER_ERROR"
    retryable = True


STATUS: dict[type[GenerationError], grpc.StatusCode] = {
    InvalidRequest: grpc.StatusCode.INVALID_ARGUMENT,
    GenerationTimedOut: grpc.StatusCode.DEADLINE_EXCEEDED,
    InternalFailure: grpc.StatusCode.INTERNAL,
    NoKeyConfigured: grpc.StatusCode.FAILED_PRECONDITION,
    KeyVaultUnavailable: grpc.StatusCode.UNAVAILABLE,
    KeyVaultFailed: grpc.StatusCode.INTERNAL,
    TenantKeyRejected: grpc.StatusCode.FAILED_PRECONDITION,
    PlatformKeyRejected: grpc.StatusCode.INTERNAL,
    ModelUnavailable: grpc.StatusCode.FAILED_PRECONDITION,
    ProviderRejectedRequest: grpc.StatusCode.INVALID_ARGUMENT,
    ProviderRateLimited: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ProviderOverloaded: grpc.StatusCode.UNAVAILABLE,
    ProviderUnreachable: grpc.StatusCode.UNAVAILABLE,
    ProviderStalled: grpc.StatusCode.UNAVAILABLE,
    StreamIncomplete: grpc.StatusCode.UNAVAILABLE,
    ProviderFailed: grpc.StatusCode.UNAVAILABLE,
}


def status_of(error: GenerationError) -> grpc.StatusCode:
    """The status for ``error``: its own class's, else its nearest parent's."""
    for kind in type(error).__mro__:
        if kind in STATUS:
            return STATUS[kind]  # type: ignore[index]
    return grpc.StatusCode.INTERNAL
