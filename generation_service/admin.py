"""The operator RPCs: tenant policies and usage totals.

Only client certificates on ``GENERATION_ADMIN_CLIENTS`` may call them: a
tenant's policy decides whose key pays, so it is the platform's to set.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Set
from datetime import timedelta

from byok.generation.v1 import generation_pb2

from generation_service.config import PROVIDER_DEFAULTS
from generation_service.errors import CallerNotAllowed, InvalidRequest, StoreDisabled
from generation_service.limits import Clock
from generation_service.policies import PolicySource
from generation_service.policy import from_pb, to_pb
from generation_service.store.ledger import Ledger
from generation_service.validation import TENANT_ID

DEFAULT_USAGE_HOURS = 24
MAX_USAGE_HOURS = 24 * 366

_KEY_SOURCES = {
    "tenant": generation_pb2.KEY_SOURCE_TENANT,
    "platform": generation_pb2.KEY_SOURCE_PLATFORM,
}
_STATUSES = {
    "completed": generation_pb2.USAGE_STATUS_COMPLETED,
    "failed": generation_pb2.USAGE_STATUS_FAILED,
    "cancelled": generation_pb2.USAGE_STATUS_CANCELLED,
}


class Admin:
    def __init__(
        self,
        allowed: Set[str],
        policies: PolicySource,
        ledger: Ledger | None,
        clock: Clock,
    ) -> None:
        self._allowed = frozenset(allowed)
        self._policies = policies
        self._ledger = ledger
        self._clock = clock

    def check_caller(self, identities: Set[str]) -> None:
        if not identities & self._allowed:
            raise CallerNotAllowed("caller is not on the admin allow-list")

    async def set_policy(
        self, policy: generation_pb2.TenantPolicy
    ) -> generation_pb2.TenantPolicy:
        _check_tenant(policy.tenant_id, "policy.tenant_id")
        _check_policy(policy)
        stored = from_pb(policy)
        await self._policies.put(stored)
        return to_pb(stored)

    async def get_policy(self, tenant_id: str) -> generation_pb2.TenantPolicy:
        _check_tenant(tenant_id)
        return to_pb(await self._policies.stored(tenant_id))

    async def usage(
        self, tenant_id: str, hours: int
    ) -> list[generation_pb2.UsageTotal]:
        _check_tenant(tenant_id)
        if not 0 <= hours <= MAX_USAGE_HOURS:
            raise InvalidRequest(f"hours must be 0 to {MAX_USAGE_HOURS}", "hours")
        if self._ledger is None:
            raise StoreDisabled(
                "usage records need GENERATION_DATABASE_URL, which is not set"
            )
        since = self._clock() - timedelta(hours=hours or DEFAULT_USAGE_HOURS)
        return [
            generation_pb2.UsageTotal(
                provider=total.provider,
                model=total.model,
                key_source=_KEY_SOURCES[total.key_source],
                status=_STATUSES[total.status],
                calls=total.calls,
                input_tokens=total.input_tokens,
                output_tokens=total.output_tokens,
                cost_usd=float(total.cost_usd),
                estimated_calls=total.estimated_calls,
                cost_estimated_calls=total.cost_estimated_calls,
            )
            for total in await self._ledger.totals(tenant_id, since)
        ]


def _check_tenant(tenant_id: str, field: str = "tenant_id") -> None:
    if not TENANT_ID.fullmatch(tenant_id):
        raise InvalidRequest(
            "tenant_id must be 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
            field,
        )


def _check_policy(policy: generation_pb2.TenantPolicy) -> None:
    unknown = sorted(set(policy.provider_order) - set(PROVIDER_DEFAULTS))
    if unknown:
        raise InvalidRequest(
            f"unknown providers: {', '.join(unknown[:5])}", "policy.provider_order"
        )
    if len(set(policy.provider_order)) != len(policy.provider_order):
        raise InvalidRequest("each provider may be named once", "policy.provider_order")

    # An unknown value would be stored as "unspecified", the service
    # default, which may well allow what the caller meant to deny.
    _check_enum(
        policy.platform_key_fallback,
        generation_pb2.PlatformKeyFallback.values(),
        "policy.platform_key_fallback",
    )
    limits = policy.limits
    _check_enum(
        limits.spend_period,
        generation_pb2.SpendPeriod.values(),
        "policy.limits.spend_period",
    )
    for name in ("requests_per_minute", "tokens_per_minute"):
        if getattr(limits, name) < 0:
            raise InvalidRequest(
                f"{name} must not be negative", f"policy.limits.{name}"
            )
    spend = limits.spend_limit_usd
    if not math.isfinite(spend) or spend < 0:
        raise InvalidRequest(
            "spend_limit_usd must be a finite amount, not negative",
            "policy.limits.spend_limit_usd",
        )


def _check_enum(value: int, known: Collection[int], field: str) -> None:
    if value not in known:
        raise InvalidRequest(
            f"{field.rsplit('.', 1)[-1]}: {value} is not a known value", field
        )
