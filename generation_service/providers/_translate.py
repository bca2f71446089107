"""The one place where provider SDK errors become our errors.

Classification goes by HTTP status and, for errors that arrive inside a
stream that began with HTTP 200, by the error *type* in the body: Anthropic
sends ``overloaded_error`` that way, and its status is then 200. The SDK's
message is dropped: providers quote parts of a rejected key in it.
"""

from __future__ import annotations

from typing import Any

import anthropic
import openai

from generation_service.errors import (
    ModelUnavailable,
    PlatformKeyRejected,
    ProviderError,
    ProviderFailed,
    ProviderOverloaded,
    ProviderRateLimited,
    ProviderRejectedRequest,
    ProviderStalled,
    ProviderUnreachable,
    TenantKeyRejected,
)

SDK_ERRORS = (openai.OpenAIError, anthropic.AnthropicError)
CONTEXT_EXCEEDED = "context_length_exceeded"

_TIMEOUTS = (openai.APITimeoutError, anthropic.APITimeoutError)
_CONNECTION = (openai.APIConnectionError, anthropic.APIConnectionError)
_STATUS = (openai.APIStatusError, anthropic.APIStatusError)
_API = (openai.APIError, anthropic.APIError)

# Error types named in bodies, for errors that came with HTTP 200.
_BY_TYPE: dict[str, type[ProviderError]] = {
    "overloaded_error": ProviderOverloaded,
    "rate_limit_error": ProviderRateLimited,
    "rate_limit_exceeded": ProviderRateLimited,
    "authentication_error": TenantKeyRejected,
    "permission_error": TenantKeyRejected,
    "not_found_error": ModelUnavailable,
    "invalid_request_error": ProviderRejectedRequest,
}


def translate(error: Exception, provider: str, tenant_key: bool) -> ProviderError:
    """Our error for an SDK error raised while calling ``provider``."""
    if isinstance(error, _TIMEOUTS):
        return ProviderStalled(provider, "the provider stopped sending in time")
    if isinstance(error, _CONNECTION):
        return ProviderUnreachable(provider, "the connection failed or was reset")
    if isinstance(error, _STATUS) and error.status_code >= 400:
        return _by_status(error.status_code, error, provider, tenant_key)
    if isinstance(error, _API):
        return _by_body_type(_error_type(error.body), provider, tenant_key)
    return ProviderFailed(provider, f"unexpected client error {type(error).__name__}")


def _by_status(
    status: int, error: Any, provider: str, tenant_key: bool
) -> ProviderError:
    if status in (401, 403):
        return _rejected(provider, tenant_key, f"HTTP {status}", f"http_{status}")
    if status == 404:
        return ModelUnavailable(provider, "the model does not exist (HTTP 404)")
    if status == 429:
        return ProviderRateLimited(
            provider, "rate limited (HTTP 429)", _retry_after(error)
        )
    if status in (503, 529):
        return ProviderOverloaded(
            provider, f"overloaded (HTTP {status})", _retry_after(error)
        )
    if status >= 500:
        return ProviderFailed(provider, f"server error (HTTP {status})")
    if _error_code(error.body) == CONTEXT_EXCEEDED:
        return ProviderRejectedRequest(
            provider,
            f"the prompt does not fit the model's context window (HTTP {status}); "
            "shorten the prompt or the brand guide",
        )
    return ProviderRejectedRequest(
        provider, f"the request was rejected (HTTP {status})"
    )


def _by_body_type(kind: str, provider: str, tenant_key: bool) -> ProviderError:
    cause = f"error in the stream ({kind or 'untyped'})"
    found = _BY_TYPE.get(kind, ProviderFailed)
    if found is TenantKeyRejected:
        return _rejected(provider, tenant_key, cause, kind)
    return found(provider, cause)


def _rejected(provider: str, tenant_key: bool, cause: str, code: str) -> ProviderError:
    if tenant_key:
        return TenantKeyRejected(
            provider, f"the tenant's key was rejected ({cause})", code
        )
    return PlatformKeyRejected(provider, f"the platform key was rejected ({cause})")


def _error_code(body: object) -> str:
    """OpenAI's ``error.code``, such as ``context_length_exceeded``."""
    inner = body.get("error", body) if isinstance(body, dict) else None
    code = inner.get("code") if isinstance(inner, dict) else None
    return code if isinstance(code, str) else ""


def _error_type(body: object) -> str:
    """``error.type`` (Anthropic bodies) or ``type`` (OpenAI's inner error)."""
    if not isinstance(body, dict):
        return ""
    inner = body.get("error")
    if isinstance(inner, dict) and isinstance(inner.get("type"), str):
        return inner["type"]
    kind = body.get("code") or body.get("type")
    return kind if isinstance(kind, str) else ""


def _retry_after(error: Any) -> float | None:
    headers = error.response.headers
    try:
        if "retry-after-ms" in headers:
            return float(headers["retry-after-ms"]) / 1000
        if "retry-after" in headers:
            return float(headers["retry-after"])
    except ValueError:
        # An HTTP date instead of seconds: no hint then.
        return None
    return None
