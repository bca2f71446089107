"""Tenant policies: one row per tenant that changed anything."""

from __future__ import annotations

from generation_service.policy import (
    PlatformFallback,
    SpendPeriod,
    StoredLimits,
    StoredPolicy,
)
from generation_service.store.database import Database, translated

_SELECT = """
SELECT platform_fallback, provider_order, requests_per_minute,
       tokens_per_minute, spend_limit_usd, spend_period
  FROM generation.tenant_policies
 WHERE tenant_id = $1
"""

_UPSERT = """
INSERT INTO generation.tenant_policies AS p
       (tenant_id, platform_fallback, provider_order, requests_per_minute,
        tokens_per_minute, spend_limit_usd, spend_period)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (tenant_id) DO UPDATE
   SET platform_fallback = EXCLUDED.platform_fallback,
       provider_order = EXCLUDED.provider_order,
       requests_per_minute = EXCLUDED.requests_per_minute,
       tokens_per_minute = EXCLUDED.tokens_per_minute,
       spend_limit_usd = EXCLUDED.spend_limit_usd,
       spend_period = EXCLUDED.spend_period,
       updated_at = now()
"""


class Policies:
    def __init__(self, database: Database) -> None:
        self._pool = database.pool

    async def get(self, tenant_id: str) -> StoredPolicy:
        """The tenant's stored policy; an empty one if it never set any."""
        with translated():
            row = await self._pool.fetchrow(_SELECT, tenant_id)
        if row is None:
            return StoredPolicy(tenant_id)
        fallback, period = row["platform_fallback"], row["spend_period"]
        return StoredPolicy(
            tenant_id=tenant_id,
            platform_fallback=PlatformFallback(fallback) if fallback else None,
            provider_order=tuple(row["provider_order"]),
            limits=StoredLimits(
                requests_per_minute=row["requests_per_minute"],
                tokens_per_minute=row["tokens_per_minute"],
                spend_limit_usd=row["spend_limit_usd"],
                spend_period=SpendPeriod(period) if period else None,
            ),
        )

    async def put(self, policy: StoredPolicy) -> None:
        limits = policy.limits
        with translated():
            await self._pool.execute(
                _UPSERT,
                policy.tenant_id,
                policy.platform_fallback.value if policy.platform_fallback else None,
                list(policy.provider_order),
                limits.requests_per_minute,
                limits.tokens_per_minute,
                limits.spend_limit_usd,
                limits.spend_period.value if limits.spend_period else None,
            )
