"""A bounded cache of SDK clients, one per provider, base URL and key.

Building an SDK client is cheap but not free, and a busy tenant would build
one per request. Clients are kept per (provider, base URL, key digest), at
most ``size`` of them and each for at most ``ttl_s``, since a cached client
holds its key in memory. The digest is keyed with a secret made at start-up,
so the cache's keys say nothing about the API keys themselves.

The clients own no connections: every one is built on the shared HTTP pool
that :class:`~generation_service.providers.Adapters` owns and closes, so
dropping a client from the cache never leaks or cuts a connection, even
while one of its streams is still being read.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from shared.secrets import SecretStr

_Client = TypeVar("_Client")


@dataclass(frozen=True)
class CacheStats:
    size: int
    hits: int
    misses: int


class ClientCache(Generic[_Client]):
    def __init__(
        self,
        size: int,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._size = size
        self._ttl_s = ttl_s
        self._clock = clock
        self._salt = secrets.token_bytes(32)
        self._entries: OrderedDict[tuple[str, str, bytes], tuple[float, _Client]] = (
            OrderedDict()
        )
        self._hits = 0
        self._misses = 0

    def get(
        self,
        provider: str,
        base_url: str,
        key: SecretStr,
        build: Callable[[], _Client],
    ) -> _Client:
        """The cached client for this key, or a new one from ``build``."""
        entry = (provider, base_url, self._digest(key))
        now = self._clock()
        found = self._entries.get(entry)
        if found is not None and found[0] > now:
            self._entries.move_to_end(entry)
            self._hits += 1
            return found[1]

        self._misses += 1
        client = build()
        self._entries[entry] = (now + self._ttl_s, client)
        self._entries.move_to_end(entry)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return client

    def stats(self) -> CacheStats:
        return CacheStats(len(self._entries), self._hits, self._misses)

    def clear(self) -> None:
        self._entries.clear()

    def _digest(self, key: SecretStr) -> bytes:
        return hashlib.blake2b(
            key.reveal().encode(), key=self._salt, digest_size=16
        ).digest()
