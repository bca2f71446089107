"""Provider adapters, built per request around the key that request resolved.

SDK clients are reused from a bounded cache (``clients``); the HTTP
connection pools behind them are shared and owned by :class:`Adapters`,
which closes them on shutdown. Every client is given its key and its own
provider's base URL explicitly, so the SDKs never fall back to keys or hosts
from the environment, and a key never reaches another provider's host.

The pools keep no cookies: they are shared by every tenant, and a cookie a
provider set in reply to one tenant's call must not ride along another's.
A key that an HTTP header cannot carry is refused here, before any client
is built around it.
"""

from __future__ import annotations

from collections.abc import Mapping
from http.cookiejar import CookieJar, DefaultCookiePolicy

import anthropic
import httpx2
import openai

from generation_service.config import GenerationSettings, ProviderSettings
from generation_service.errors import PlatformKeyRejected, TenantKeyRejected
from generation_service.keys import TENANT, ResolvedKey
from generation_service.providers import anthropic_messages, openai_compatible
from generation_service.providers.base import (
    Adapter,
    Delta,
    Finished,
    GenerationCall,
    Meter,
    StreamEvent,
    TokenUsage,
)
from generation_service.providers.clients import CacheStats, ClientCache

__all__ = [
    "COMPLETION_STYLE",
    "Adapter",
    "Adapters",
    "CacheStats",
    "Delta",
    "Finished",
    "GenerationCall",
    "Meter",
    "StreamEvent",
    "TokenUsage",
]

OPENAI_COMPATIBLE = frozenset({"openai", "google", "deepseek", "qwen", "meta_llama"})
# Base models, prompted with plain text to continue.
COMPLETION_STYLE = frozenset({"local"})


class Adapters:
    def __init__(self, settings: GenerationSettings) -> None:
        self._providers: Mapping[str, ProviderSettings] = settings.providers
        # The read timeout bounds the silence between two chunks of a stream.
        self._timeout = httpx2.Timeout(
            settings.stream_idle_timeout_s, connect=settings.connect_timeout_s
        )
        self._openai_http = openai.DefaultAsyncHttpxClient(cookies=_no_cookies())
        self._anthropic_http = anthropic.DefaultAsyncHttpxClient(cookies=_no_cookies())
        self._anthropic_clients: ClientCache[anthropic.AsyncAnthropic] = ClientCache(
            settings.client_cache_size, settings.client_cache_ttl_s
        )
        self._openai_clients: ClientCache[openai.AsyncOpenAI] = ClientCache(
            settings.client_cache_size, settings.client_cache_ttl_s
        )

    def build(self, key: ResolvedKey) -> Adapter:
        """The adapter for ``key``'s provider; raises if no header can carry it."""
        _check_header_safe(key)
        # The base URL comes from the key's own provider, never the caller.
        base_url = self._providers[key.provider].base_url
        if key.provider == "anthropic":
            client = self._anthropic_clients.get(
                key.provider,
                base_url,
                key.secret,
                lambda: anthropic_messages.make_client(
                    key, base_url, self._anthropic_http, self._timeout
                ),
            )
            return anthropic_messages.Messages(key, client)

        if key.provider not in OPENAI_COMPATIBLE | COMPLETION_STYLE:
            raise ValueError(f"no adapter for provider {key.provider!r}")
        oa_client = self._openai_clients.get(
            key.provider,
            base_url,
            key.secret,
            lambda: openai_compatible.make_client(
                key, base_url, self._openai_http, self._timeout
            ),
        )
        if key.provider in COMPLETION_STYLE:
            return openai_compatible.Completions(key, oa_client)
        return openai_compatible.ChatCompletions(key, oa_client)

    def cache_stats(self) -> CacheStats:
        """Both caches together, for tests and diagnostics."""
        first = self._openai_clients.stats()
        second = self._anthropic_clients.stats()
        return CacheStats(
            first.size + second.size,
            first.hits + second.hits,
            first.misses + second.misses,
        )

    async def aclose(self) -> None:
        self._openai_clients.clear()
        self._anthropic_clients.clear()
        await self._openai_http.aclose()
        await self._anthropic_http.aclose()


def _no_cookies() -> CookieJar:
    # An empty allow-list of domains: every cookie offered is refused.
    return CookieJar(DefaultCookiePolicy(allowed_domains=[]))


def _check_header_safe(key: ResolvedKey) -> None:
    """Refuse a key HTTP headers cannot carry, naming none of its characters."""
    if all(" " <= c <= "~" for c in key.secret.reveal()):
        return
    cause = "the key contains characters an HTTP header cannot carry"
    if key.source == TENANT:
        raise TenantKeyRejected(
            key.provider, f"the tenant's key was rejected ({cause})", "not_ascii"
        )
    raise PlatformKeyRejected(key.provider, f"the platform key was rejected ({cause})")
