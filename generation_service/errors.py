"""Every way a generation can fail, and the gRPC status for each.

::

    GenerationError
    ├── InvalidRequest                 INVALID_ARGUMENT     INVALID_REQUEST
    ├── CallerNotAllowed               PERMISSION_DENIED    CALLER_NOT_ALLOWED
    ├── GenerationTimedOut             DEADLINE_EXCEEDED    GENERATION_TIMEOUT
    ├── InternalFailure                INTERNAL             INTERNAL
    ├── StoreError
    │   ├── StoreDisabled              FAILED_PRECONDITION  STORE_DISABLED
    │   └── StoreUnavailable           UNAVAILABLE          STORE_UNAVAILABLE
    ├── LimitExceeded
    │   ├── TenantRateLimited          RESOURCE_EXHAUSTED   TENANT_RATE_LIMITED
    │   └── BudgetExceeded             RESOURCE_EXHAUSTED   BUDGET_EXCEEDED
    ├── KeyResolutionError
    │   ├── NoKeyConfigured            FAILED_PRECONDITION  NO_KEY_CONFIGURED
    │   ├── PlatformKeyNotAllowed      FAILED_PRECONDITION  PLATFORM_KEY_NOT_ALLOWED
    │   ├── TenantKeyUnusable          FAILED_PRECONDITION  TENANT_KEY_UNUSABLE
    │   ├── KeyVaultUnavailable        UNAVAILABLE          KEYVAULT_UNAVAILABLE
    │   └── KeyVaultFailed             INTERNAL             KEYVAULT_ERROR
    ├── VariantError
    │   └── BrandBlocked               FAILED_PRECONDITION  BRAND_BLOCKED
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
        ├── MalformedStream            UNAVAILABLE          MALFORMED_STREAM
        ├── EmptyOutput                UNAVAILABLE          EMPTY_OUTPUT
        └── ProviderFailed             UNAVAILABLE          PROVIDER_ERROR

A provider error is ``retryable`` when the same call may succeed a moment
later (the variant runner then retries it, but only before any text was
released), and ``falls_back`` when the next provider of the chain may be
tried instead. A rejected key never falls back: the tenant must fix it.

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

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        # The offending request field's path, such as ``keywords[2]``, for
        # the ErrorInfo's ``field`` entry; empty when no one field is at fault.
        self.field = field


class GenerationTimedOut(GenerationError):
    reason = "GENERATION_TIMEOUT"
    retryable = True


class CallerNotAllowed(GenerationError):
    reason = "CALLER_NOT_ALLOWED"


class InternalFailure(GenerationError):
    """A defect of ours; the details are in the service's log only."""

    reason = "INTERNAL"


class StoreError(GenerationError):
    reason = "STORE_ERROR"


class StoreDisabled(StoreError):
    """The feature needs GENERATION_DATABASE_URL, which is not set."""

    reason = "STORE_DISABLED"


class StoreUnavailable(StoreError):
    reason = "STORE_UNAVAILABLE"
    retryable = True


class LimitExceeded(GenerationError):
    reason = "LIMIT_EXCEEDED"
    retryable = True


class TenantRateLimited(LimitExceeded):
    """The tenant's requests or tokens per minute would be exceeded."""

    reason = "TENANT_RATE_LIMITED"


class BudgetExceeded(LimitExceeded):
    """The tenant's spend limit for the period would be exceeded."""

    reason = "BUDGET_EXCEEDED"


class KeyResolutionError(GenerationError):
    reason = "KEY_RESOLUTION_FAILED"


class NoKeyConfigured(KeyResolutionError):
    reason = "NO_KEY_CONFIGURED"


class PlatformKeyNotAllowed(KeyResolutionError):
    """The tenant has no key for the provider and may not use the platform's."""

    reason = "PLATFORM_KEY_NOT_ALLOWED"


class TenantKeyUnusable(KeyResolutionError):
    """KeyVault holds the tenant's key but refuses it: disabled, rejected
    by the provider earlier, or expired. The tenant has a key, so no other
    is used in its place."""

    reason = "TENANT_KEY_UNUSABLE"


class KeyVaultUnavailable(KeyResolutionError):
    reason = "KEYVAULT_UNAVAILABLE"
    retryable = True


class KeyVaultFailed(KeyResolutionError):
    reason = "KEYVAULT_ERROR"


class VariantError(GenerationError):
    """One variant could not be written; the others may still be."""

    reason = "VARIANT_FAILED"
    request_wide = False


class BrandBlocked(VariantError):
    """The variant broke a blocking brand rule and could not be repaired."""

    reason = "BRAND_BLOCKED"


class ProviderError(GenerationError):
    reason = "PROVIDER_ERROR"
    request_wide = False
    # Whether the next provider of the chain may be tried instead.
    falls_back: ClassVar[bool] = True

    def __init__(
        self, provider: str, cause: str, retry_after_s: float | None = None
    ) -> None:
        super().__init__(f"{provider}: {cause}", retry_after_s)
        self.provider = provider
        self.cause = cause


class TenantKeyRejected(ProviderError):
    reason = "TENANT_KEY_REJECTED"
    request_wide = True
    falls_back = False

    def __init__(self, provider: str, cause: str, code: str = "rejected") -> None:
        super().__init__(provider, cause)
        # A short code for KeyVault's record, such as "http_401".
        self.code = code


class PlatformKeyRejected(ProviderError):
    reason = "PLATFORM_KEY_REJECTED"
    request_wide = True
    falls_back = False


class ModelUnavailable(ProviderError):
    reason = "MODEL_UNAVAILABLE"
    request_wide = True


class ProviderRejectedRequest(ProviderError):
    reason = "PROVIDER_REJECTED_REQUEST"
    request_wide = True
    # Another provider would be sent the same request.
    falls_back = False


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


class MalformedStream(ProviderError):
    reason = "MALFORMED_STREAM"
    retryable = True


class EmptyOutput(ProviderError):
    """The stream ended properly but held no text: nothing to hand over."""

    reason = "EMPTY_OUTPUT"
    retryable = True


class ProviderFailed(ProviderError):
    reason = "PROVIDER_ERROR"
    retryable = True


STATUS: dict[type[GenerationError], grpc.StatusCode] = {
    InvalidRequest: grpc.StatusCode.INVALID_ARGUMENT,
    GenerationTimedOut: grpc.StatusCode.DEADLINE_EXCEEDED,
    CallerNotAllowed: grpc.StatusCode.PERMISSION_DENIED,
    InternalFailure: grpc.StatusCode.INTERNAL,
    StoreDisabled: grpc.StatusCode.FAILED_PRECONDITION,
    StoreUnavailable: grpc.StatusCode.UNAVAILABLE,
    TenantRateLimited: grpc.StatusCode.RESOURCE_EXHAUSTED,
    BudgetExceeded: grpc.StatusCode.RESOURCE_EXHAUSTED,
    NoKeyConfigured: grpc.StatusCode.FAILED_PRECONDITION,
    PlatformKeyNotAllowed: grpc.StatusCode.FAILED_PRECONDITION,
    TenantKeyUnusable: grpc.StatusCode.FAILED_PRECONDITION,
    KeyVaultUnavailable: grpc.StatusCode.UNAVAILABLE,
    KeyVaultFailed: grpc.StatusCode.INTERNAL,
    EmptyOutput: grpc.StatusCode.UNAVAILABLE,
    BrandBlocked: grpc.StatusCode.FAILED_PRECONDITION,
    TenantKeyRejected: grpc.StatusCode.FAILED_PRECONDITION,
    PlatformKeyRejected: grpc.StatusCode.INTERNAL,
    ModelUnavailable: grpc.StatusCode.FAILED_PRECONDITION,
    ProviderRejectedRequest: grpc.StatusCode.INVALID_ARGUMENT,
    ProviderRateLimited: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ProviderOverloaded: grpc.StatusCode.UNAVAILABLE,
    ProviderUnreachable: grpc.StatusCode.UNAVAILABLE,
    ProviderStalled: grpc.StatusCode.UNAVAILABLE,
    StreamIncomplete: grpc.StatusCode.UNAVAILABLE,
    MalformedStream: grpc.StatusCode.UNAVAILABLE,
    ProviderFailed: grpc.StatusCode.UNAVAILABLE,
}


def status_of(error: GenerationError) -> grpc.StatusCode:
    """The status for ``error``: its own class's, else its nearest parent's."""
    for kind in type(error).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return grpc.StatusCode.INTERNAL
