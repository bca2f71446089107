"""Anthropic through the ``anthropic`` SDK's Messages API.

Input tokens arrive in ``message_start``, output tokens in ``message_delta``;
``message_stop`` is the provider's end-of-stream. An ``error`` event after
HTTP 200 surfaces from the SDK as a status error carrying 200 and is
classified by its error type in ``_translate``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import anthropic
import httpx2

from generation_service.errors import MalformedStream, StreamIncomplete
from generation_service.keys import ResolvedKey
from generation_service.providers._translate import SDK_ERRORS, translate
from generation_service.providers.base import (
    Delta,
    Finished,
    GenerationCall,
    KeyedAdapter,
    Meter,
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


class Messages(KeyedAdapter[anthropic.AsyncAnthropic]):
    async def stream(
        self, call: GenerationCall, meter: Meter
    ) -> AsyncGenerator[StreamEvent, None]:
        usage = _Usage(meter)
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
            meter.accepted = True
            async with stream:
                async for event in stream:
                    if event.type == "message_start":
                        usage.note(event.message.usage)
                    elif event.type == "content_block_delta":
                        if event.delta.type == "text_delta" and event.delta.text:
                            yield Delta(event.delta.text)
                    elif event.type == "message_delta":
                        usage.note(event.usage)
                        stop_reason = event.delta.stop_reason or ""
                    elif event.type == "message_stop":
                        stopped = True
        except SDK_ERRORS as error:
            raise translate(error, self.provider, self._tenant_key) from None
        except ValueError:
            # The SDK parses each event as JSON and lets the error through.
            raise MalformedStream(
                self.provider, "the stream carried an event that is not JSON"
            ) from None

        if not stopped:
            raise StreamIncomplete(
                self.provider, "the stream ended without message_stop"
            )
        yield Finished(meter.usage, stop_reason)


class _Usage:
    """Anthropic's counts: input in message_start, running totals after.

    ``input_tokens`` excludes the tokens read from or written to the prompt
    cache; ours includes them. ``message_delta`` may repeat any count as a
    running total, so a count only ever grows.
    """

    def __init__(self, meter: Meter) -> None:
        self.meter = meter
        self.counts = {"input": 0, "cache_read": 0, "cache_write": 0, "output": 0}

    def note(self, usage: Any) -> None:
        if usage is None:
            return
        for name, field in (
            ("input", "input_tokens"),
            ("cache_read", "cache_read_input_tokens"),
            ("cache_write", "cache_creation_input_tokens"),
            ("output", "output_tokens"),
        ):
            value = getattr(usage, field, None) or 0
            self.counts[name] = max(self.counts[name], value)
        counts = self.counts
        self.meter.usage = TokenUsage(
            input_tokens=counts["input"] + counts["cache_read"] + counts["cache_write"],
            output_tokens=counts["output"],
            cached_input_tokens=counts["cache_read"],
        )
