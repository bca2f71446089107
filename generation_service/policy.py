"""A tenant's policy: whose keys may pay, which providers, and how much.

A stored policy only records what the tenant changed; every field left
unset takes the service default from the settings. :func:`effective` merges
the two, so the rest of the service sees one complete :class:`TenantPolicy`.

Limits are per tenant: requests and tokens per minute (fixed windows of one
minute, UTC) and spend per calendar day or month (UTC). A limit of 0 means
no limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum

from byok.generation.v1 import generation_pb2


class PlatformFallback(StrEnum):
    """May a tenant without a key for a provider use the platform's key?"""

    # Only while the tenant has no key of its own for any provider.
    AUTO = "auto"
    ALLOWED = "allowed"
    DENIED = "denied"


class SpendPeriod(StrEnum):
    DAY = "day"
    MONTH = "month"


@dataclass(frozen=True)
class Limits:
    requests_per_minute: int = 0
    tokens_per_minute: int = 0
    spend_limit_usd: Decimal = Decimal(0)
    spend_period: SpendPeriod = SpendPeriod.MONTH

    @property
    def any(self) -> bool:
        return bool(
            self.requests_per_minute or self.tokens_per_minute or self.spend_limit_usd
        )


@dataclass(frozen=True)
class StoredLimits:
    """Per-tenant overrides; ``None`` keeps the service default."""

    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    spend_limit_usd: Decimal | None = None
    spend_period: SpendPeriod | None = None


@dataclass(frozen=True)
class StoredPolicy:
    """What a tenant set; the defaults fill in the rest."""

    tenant_id: str
    platform_fallback: PlatformFallback | None = None
    provider_order: tuple[str, ...] = ()
    limits: StoredLimits = field(default_factory=StoredLimits)


@dataclass(frozen=True)
class TenantPolicy:
    tenant_id: str
    platform_fallback: PlatformFallback
    provider_order: tuple[str, ...]
    limits: Limits


def effective(
    stored: StoredPolicy,
    default_fallback: PlatformFallback,
    default_limits: Limits,
) -> TenantPolicy:
    own = stored.limits
    limits = replace(
        default_limits,
        **{name: value for name, value in vars(own).items() if value is not None},
    )
    return TenantPolicy(
        tenant_id=stored.tenant_id,
        platform_fallback=stored.platform_fallback or default_fallback,
        provider_order=stored.provider_order,
        limits=limits,
    )


# -- the wire form ----------------------------------------------------------

_FALLBACK_TO_PB = {
    None: generation_pb2.PLATFORM_KEY_FALLBACK_UNSPECIFIED,
    PlatformFallback.AUTO: generation_pb2.PLATFORM_KEY_FALLBACK_UNSPECIFIED,
    PlatformFallback.ALLOWED: generation_pb2.PLATFORM_KEY_FALLBACK_ALLOWED,
    PlatformFallback.DENIED: generation_pb2.PLATFORM_KEY_FALLBACK_DENIED,
}
_FALLBACK_FROM_PB = {
    generation_pb2.PLATFORM_KEY_FALLBACK_ALLOWED: PlatformFallback.ALLOWED,
    generation_pb2.PLATFORM_KEY_FALLBACK_DENIED: PlatformFallback.DENIED,
}
_PERIOD_TO_PB = {
    None: generation_pb2.SPEND_PERIOD_UNSPECIFIED,
    SpendPeriod.DAY: generation_pb2.SPEND_PERIOD_DAY,
    SpendPeriod.MONTH: generation_pb2.SPEND_PERIOD_MONTH,
}
_PERIOD_FROM_PB = {
    generation_pb2.SPEND_PERIOD_DAY: SpendPeriod.DAY,
    generation_pb2.SPEND_PERIOD_MONTH: SpendPeriod.MONTH,
}


def from_pb(policy: generation_pb2.TenantPolicy) -> StoredPolicy:
    """The stored form of a policy a caller sent; validated by the caller."""
    limits = policy.limits
    spend = None
    if limits.HasField("spend_limit_usd"):
        # Through str: a binary double would carry digits nobody asked for.
        spend = Decimal(str(limits.spend_limit_usd))
    return StoredPolicy(
        tenant_id=policy.tenant_id,
        platform_fallback=_FALLBACK_FROM_PB.get(policy.platform_key_fallback),
        provider_order=tuple(policy.provider_order),
        limits=StoredLimits(
            requests_per_minute=(
                limits.requests_per_minute
                if limits.HasField("requests_per_minute")
                else None
            ),
            tokens_per_minute=(
                limits.tokens_per_minute
                if limits.HasField("tokens_per_minute")
                else None
            ),
            spend_limit_usd=spend,
            spend_period=_PERIOD_FROM_PB.get(limits.spend_period),
        ),
    )


def to_pb(stored: StoredPolicy) -> generation_pb2.TenantPolicy:
    own = stored.limits
    limits = generation_pb2.TenantLimits(spend_period=_PERIOD_TO_PB[own.spend_period])
    if own.requests_per_minute is not None:
        limits.requests_per_minute = own.requests_per_minute
    if own.tokens_per_minute is not None:
        limits.tokens_per_minute = own.tokens_per_minute
    if own.spend_limit_usd is not None:
        limits.spend_limit_usd = float(own.spend_limit_usd)
    return generation_pb2.TenantPolicy(
        tenant_id=stored.tenant_id,
        platform_key_fallback=_FALLBACK_TO_PB[stored.platform_fallback],
        provider_order=list(stored.provider_order),
        limits=limits,
    )
