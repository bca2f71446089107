"""Anthropic through the ``anthropic`` SDK's Messages API.

Input tokens arrive in ``message_start``, output tokens in ``message_delta``;
``message_stop`` is the provider's end-of-stream. An ``error`` event after
HTTP 200 surfaces from the SDK as a status error carrying 200 and is
classified by its error type in ``_translate``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anthropic
import httpx2

from generation_service.errors import StreamIncomplete
from generation_service.keys import TENANT, ResolvedKey
from generation_service.providers._translate import SDK_ERRORS, translate
from generation_service.providers.base import (
    Delta,
    Finished,
    GenerationCall,
    StreamEvent,
    TokenUsage,
)


def make_client(
    key: ResolvedKey,
    base_url: str,
    http_client: httpx2.AsyncClient,
    timeout: httpx2.Timeout,
) -> anthropic.AsyncAnthropic:
    secret = key.secret.reveal()
    if not secret:
        # The SDK would look in the environment and config files instead.
        raise ValueError(f"no {key.provider} key to build a client with")
    return anthropic.AsyncAnthropic(
        api_key=secret,
        base_url=base_url,
        max_retries=0,
        timeout=timeout,
        http_client=http_client,
    )


class Messages:
    def __init__(self, key: ResolvedKey, client: anthropic.AsyncAnthropic) -> None:
        self.provider = key.provider
        self._tenant_key = key.source == TENANT
        self._client = client

    async def stream(self, call: GenerationCall) -> AsyncIterator[StreamEvent]:
        input_tokens = output_tokens = 0
        stop_reason = ""
        stopped = False
        try:
            stream = await self._client.messages.create(
                model=call.model,
                max_tokens=call.max_tokens,
                # No temperature: recent Messages models reject sampling options.
                system=call.system,
                messages=[{"role": "user", "content": call.user}],
                stream=True,
            )
            async with stream:
                async for event in stream:
                    if event.type == "message_start":
                        input_tokens = event.message.usage.input_tokens or 0
                    elif event.type == "content_block_delta":
                        if event.delta.type == "text_delta" and event.delta.text:
                            yield Delta(event.delta.text)
                    elif event.type == "message_delta":
                        output_tokens = event.usage.output_tokens or 0
                        stop_reason = event.delta.stop_reason or ""
                    elif event.type == "message_stop":
                        stopped = True
        except SDK_ERRORS as error:
            raise translate(error, self.provider, self._tenant_key) from None

        if not stopped:
            raise StreamIncomplete(
                self.provider, "the stream ended without message_stop"
            )
        yield Finished(TokenUsage(input_tokens, output_tokens), stop_reason)
