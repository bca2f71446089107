"""Where a request's tenant policy comes from: the database, or defaults.

Without a database every tenant has the service defaults, and setting a
policy fails with STORE_DISABLED rather than being silently forgotten.
"""

from __future__ import annotations

from generation_service.config import GenerationSettings
from generation_service.errors import StoreDisabled
from generation_service.policy import StoredPolicy, TenantPolicy, effective
from generation_service.store.policies import Policies


class PolicySource:
    def __init__(self, settings: GenerationSettings, store: Policies | None) -> None:
        self._fallback = settings.platform_fallback
        self._limits = settings.default_limits
        self._store = store

    async def for_request(self, tenant_id: str) -> TenantPolicy:
        stored = StoredPolicy(tenant_id)
        if self._store is not None:
            stored = await self._store.get(tenant_id)
        return effective(stored, self._fallback, self._limits)

    async def stored(self, tenant_id: str) -> StoredPolicy:
        return await self._required().get(tenant_id)

    async def put(self, policy: StoredPolicy) -> None:
        await self._required().put(policy)

    def _required(self) -> Policies:
        if self._store is None:
            raise StoreDisabled(
                "tenant policies need GENERATION_DATABASE_URL, which is not set"
            )
        return self._store
