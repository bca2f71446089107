"""OpenAI, Google, DeepSeek, Qwen and Meta Llama through the ``openai`` SDK,
plus the platform's llama.cpp server, which is used completion-style.

With ``stream_options.include_usage`` the usage arrives in a last chunk whose
``choices`` list is empty; some compatible hosts ignore the option and send
none, which :class:`Finished` reports as ``usage=None``. The SDK ends its
iteration the same way at ``[DONE]`` and at a silently closed connection, so
the provider's own end-of-stream here is the chunk carrying a
``finish_reason``; a stream without one was cut.

llama-cpp-python's server answers a streamed completion whose prompt does not
fit the model's context with HTTP 200 and an empty body, which looks like a
cut stream; unstreamed, it answers HTTP 400. So a completion stream that
carried nothing at all is asked again unstreamed for one token: a refusal
then says why, and only a call that is accepted leaves the stream cut.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import httpx2
import openai

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
) -> openai.AsyncOpenAI:
    secret = key.secret.reveal()
    if not secret:
        # The SDK would read OPENAI_API_KEY from the environment instead.
        raise ValueError(f"no {key.provider} key to build a client with")
    return openai.AsyncOpenAI(
        api_key=secret,
        base_url=base_url,
        # Retries are decided by the variant runner, which knows the deadline.
        max_retries=0,
        timeout=timeout,
        http_client=http_client,
    )


class ChatCompletions(KeyedAdapter[openai.AsyncOpenAI]):
    """Chat Completions, streamed with usage."""

    async def stream(
        self, call: GenerationCall, meter: Meter
    ) -> AsyncGenerator[StreamEvent, None]:
        messages: list[Any] = [
            {"role": "system", "content": call.system},
            {"role": "user", "content": call.user},
        ]
        ending = _Ending(self.provider, meter)
        try:
            stream = await self._client.chat.completions.create(
                model=call.model,
                messages=messages,
                max_tokens=call.max_tokens,
                temperature=call.temperature,
                stream=True,
                stream_options={"include_usage": True},
            )
            meter.accepted = True
            async with stream:
                async for chunk in stream:
                    ending.note_usage(chunk.usage)
                    for choice in chunk.choices:
                        if choice.delta.content:
                            yield Delta(choice.delta.content)
                        ending.note_finish(choice.finish_reason)
        except SDK_ERRORS as error:
            raise translate(error, self.provider, self._tenant_key) from None
        except ValueError:
            # The SDK parses each event as JSON and lets the error through.
            raise MalformedStream(
                self.provider, "the stream carried a chunk that is not JSON"
            ) from None
        yield ending.finished()


class Completions(KeyedAdapter[openai.AsyncOpenAI]):
    """Legacy Completions: a base model continues a plain text prompt."""

    async def stream(
        self, call: GenerationCall, meter: Meter
    ) -> AsyncGenerator[StreamEvent, None]:
        ending = _Ending(self.provider, meter)
        try:
            stream = await self._client.completions.create(
                model=call.model,
                prompt=call.completion_prompt,
                max_tokens=call.max_tokens,
                temperature=call.temperature,
                stop=list(call.stop),
                stream=True,
                stream_options={"include_usage": True},
            )
            meter.accepted = True
            # The prompt ends at "Copy:": the model's first token brings the
            # space after it, which is not part of the copy.
            started = False
            chunks = 0
            async with stream:
                async for chunk in stream:
                    chunks += 1
                    ending.note_usage(chunk.usage)
                    for choice in chunk.choices:
                        text = choice.text if started else choice.text.lstrip()
                        if text:
                            started = True
                            yield Delta(text)
                        ending.note_finish(choice.finish_reason)
            if chunks == 0:
                await self._explain_empty(call)
        except SDK_ERRORS as error:
            raise translate(error, self.provider, self._tenant_key) from None
        except ValueError:
            raise MalformedStream(
                self.provider, "the stream carried a chunk that is not JSON"
            ) from None
        yield ending.finished()

    async def _explain_empty(self, call: GenerationCall) -> None:
        """Raise the host's refusal of ``call``, if it refuses it unstreamed."""
        await self._client.completions.create(
            model=call.model,
            prompt=call.completion_prompt,
            max_tokens=1,
            temperature=call.temperature,
        )


class _Ending:
    """Collects the finish reason and the usage, wherever they arrive.

    Usage may come in a last chunk without choices (OpenAI), on the chunk
    with the finish reason, or as a running total on every chunk: the last
    one seen is kept, which is right for all three.
    """

    def __init__(self, provider: str, meter: Meter) -> None:
        self.provider = provider
        self.meter = meter
        self.finish_reason: str | None = None

    def note_finish(self, reason: str | None) -> None:
        if reason:
            self.finish_reason = reason

    def note_usage(self, usage: Any) -> None:
        if usage is None:
            return
        details = getattr(usage, "prompt_tokens_details", None)
        cached = getattr(details, "cached_tokens", None) or 0
        self.meter.usage = TokenUsage(
            input_tokens=usage.prompt_tokens or 0,
            output_tokens=usage.completion_tokens or 0,
            cached_input_tokens=cached,
        )

    def finished(self) -> Finished:
        if self.finish_reason is None:
            raise StreamIncomplete(
                self.provider, "the stream ended without a finish reason"
            )
        return Finished(self.meter.usage, self.finish_reason)
