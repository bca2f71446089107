"""Provider adapters, built per request around the key that request resolved.

SDK clients are cheap to make; the HTTP connection pools behind them are
shared and owned by :class:`Adapters`, which closes them on shutdown. Every
client is given its key and base URL explicitly, so the SDKs never fall back
to keys or hosts from the environment.
"""

from __future__ import annotations

from collections.abc import Mapping

import anthropic
import httpx2
import openai

from generation_service.config import GenerationSettings, ProviderSettings
from generation_service.keys import ResolvedKey
from generation_service.providers import anthropic_messages, openai_compatible
from generation_service.providers.base import (
    Adapter,
    Delta,
    Finished,
    GenerationCall,
    StreamEvent,
    TokenUsage,
)

__all__ = [
    "Adapter",
    "Adapters",
    "Delta",
    "Finished",
    "GenerationCall",
    "StreamEvent",
    "TokenUsage",
]

OPENAI_COMPATIBLE = frozenset({"openai", "google", "deepseek", "qwen", "meta_llama"})


class Adapters:
    def __init__(self, settings: GenerationSettings) -> None:
        self._providers: Mapping[str, ProviderSettings] = settings.providers
        # The read timeout bounds the silence between two chunks of a stream.
        self._timeout = httpx2.Timeout(
            settings.stream_idle_timeout_s, connect=settings.connect_timeout_s
        )
        self._openai_http = openai.DefaultAsyncHttpxClient()
        self._anthropic_http = anthropic.DefaultAsyncHttpxClient()

    def build(self, key: ResolvedKey) -> Adapter:
        settings = self._providers[key.provider]
        if key.provider == "anthropic":
            client = anthropic_messages.make_client(
                key, settings.base_url, self._anthropic_http, self._timeout
            )
            return anthropic_messages.Messages(key, client)

        oa_client = openai_compatible.make_client(
            key, settings.base_url, self._openai_http, self._timeout
        )
        if key.provider == "local":
            return openai_compatible.Completions(key, oa_client)
        if key.provider in OPENAI_COMPATIBLE:
            return openai_compatible.ChatCompletions(key, oa_client)
        raise ValueError(f"no adapter for provider {key.provider!r}")

    async def aclose(self) -> None:
        await self._openai_http.aclose()
        await self._anthropic_http.aclose()
