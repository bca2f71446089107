"""Unwrapped data keys kept in memory for a short while, per tenant.

The AWS Encryption SDK's caching model, for decryption only: an entry is
found by the tenant *and* the exact wrapped key text, so one tenant's entry
can never answer another tenant's read, and a re-wrapped, re-keyed or
replaced row simply misses. Each entry is dropped when it reaches its
maximum age or has served its maximum number of reads, whichever comes
first; both bound how long a data key outlives a change that this replica
was not told about.

Changes are told about, though: saves, deletes, rotations and tenant
deletions on any replica evict the affected entries here through
:mod:`keyvault_service.invalidation`. While that channel is down the cache
is switched off, because an eviction could be missed.

Plaintext API keys are never cached: each read decrypts its own copy,
which lives only as long as the request.

Python cannot promise to wipe memory; the cache drops its references and
relies on the data keys being short-lived and few.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _Entry:
    data_key: bytes = field(repr=False)
    provider: str
    created_at: float
    uses: int = 0


class DataKeyCache:
    def __init__(
        self,
        max_age_s: float,
        max_uses: int,
        max_entries: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_age_s = max_age_s
        self._max_uses = max_uses
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        # Off until the invalidation channel is listening.
        self.enabled = False
        self.hits = 0
        self.misses = 0

    @property
    def configured(self) -> bool:
        return self._max_age_s > 0

    def get(self, tenant_id: str, wrapped: str) -> bytes | None:
        if not self.enabled:
            return None
        key = (tenant_id, wrapped)
        entry = self._entries.get(key)
        if entry is None or self._clock() - entry.created_at >= self._max_age_s:
            self._entries.pop(key, None)
            self.misses += 1
            return None
        entry.uses += 1
        if entry.uses >= self._max_uses:
            del self._entries[key]
        self.hits += 1
        return entry.data_key

    def put(self, tenant_id: str, provider: str, wrapped: str, data_key: bytes) -> None:
        if not (self.enabled and self.configured):
            return
        self._entries[(tenant_id, wrapped)] = _Entry(data_key, provider, self._clock())
        self._entries.move_to_end((tenant_id, wrapped))
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def evict_key(self, tenant_id: str, provider: str) -> None:
        self._evict(
            lambda tenant, entry: tenant == tenant_id and entry.provider == provider
        )

    def evict_tenant(self, tenant_id: str) -> None:
        self._evict(lambda tenant, _: tenant == tenant_id)

    def clear(self) -> None:
        self._entries.clear()

    def holds(self, tenant_id: str) -> int:
        """How many entries ``tenant_id`` has; for health checks and tests."""
        return sum(1 for tenant, _ in self._entries if tenant == tenant_id)

    def __len__(self) -> int:
        return len(self._entries)

    def _evict(self, doomed: Callable[[str, _Entry], bool]) -> None:
        for key in [k for k, entry in self._entries.items() if doomed(k[0], entry)]:
            del self._entries[key]
