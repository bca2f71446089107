"""OpenAI's Chat Completions and legacy Completions, as they are on the wire.

Streams are ``data: {json}`` events ending ``data: [DONE]``. With
``stream_options.include_usage`` every chunk carries ``"usage": null`` and a
last chunk has the usage and an empty ``choices`` list. Errors are
``{"error": {"message", "type", "param", "code"}}``; like the real API, a 401
message quotes the start and end of the rejected key.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from provider_standin.recorder import RecordedRequest, Recorder
from provider_standin.scripts import Behaviour, Script, ScriptBook, UsageShape
from provider_standin.streaming import SseResponse, StreamReset, sse

_ERRORS: dict[Behaviour, tuple[int, str, str | None, str]] = {
    Behaviour.UNAUTHORIZED: (
        401,
        "invalid_request_error",
        "invalid_api_key",
        "Incorrect API key provided: {masked}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
    ),
    Behaviour.FORBIDDEN: (
        403,
        "invalid_request_error",
        "unsupported_country_region_territory",
        "Country, region, or territory not supported",
    ),
    Behaviour.BAD_REQUEST: (
        400,
        "invalid_request_error",
        "invalid_value",
        "Invalid value for 'max_tokens': integer below minimum value.",
    ),
    Behaviour.NOT_FOUND: (
        404,
        "invalid_request_error",
        "model_not_found",
        "The model `{model}` does not exist or you do not have access to it.",
    ),
    Behaviour.RATE_LIMITED: (
        429,
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for {model} on requests per min (RPM): Limit 3, "
        "Used 3, Requested 1. Please try again in 1s.",
    ),
    Behaviour.SERVER_ERROR: (
        500,
        "server_error",
        None,
        "The server had an error while processing your request. Sorry about that!",
    ),
    Behaviour.UNAVAILABLE: (
        503,
        "server_error",
        None,
        "The engine is currently overloaded, please try again later.",
    ),
    Behaviour.CONTEXT_EXCEEDED: (
        400,
        "invalid_request_error",
        "context_length_exceeded",
        "This model's maximum context length is 2048 tokens. However, your "
        "messages resulted in 5022 tokens. Please reduce the length of the "
        "messages.",
    ),
}


def masked(key: str) -> str:
    """How OpenAI quotes a rejected key: its first and last four characters."""
    if len(key) <= 8:
        return "*" * len(key)
    return f"{key[:4]}{'*' * (len(key) - 8)}{key[-4:]}"


def error_response(
    behaviour: Behaviour, key: str, model: str, script: Script
) -> Response:
    status, kind, code, template = _ERRORS[behaviour]
    message = template.format(masked=masked(key), model=model)
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    headers = {"retry-after": str(script.retry_after_s)} if status == 429 else {}
    return JSONResponse(body, status_code=status, headers=headers)


def missing_key_response() -> Response:
    message = (
        "You didn't provide an API key. You need to provide your API key in an "
        "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
    )
    body = {
        "error": {
            "message": message,
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }
    return JSONResponse(body, status_code=401)


def bearer_key(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class OpenAiApi:
    def __init__(self, book: ScriptBook, recorder: Recorder) -> None:
        self.book = book
        self.recorder = recorder

    async def chat_completions(self, request: Request) -> Response | SseResponse:
        return await self._handle(request, chat=True)

    async def completions(self, request: Request) -> Response | SseResponse:
        return await self._handle(request, chat=False)

    async def _handle(self, request: Request, chat: bool) -> Response | SseResponse:
        body = await request.json()
        key = bearer_key(request)
        record = RecordedRequest(
            path=request.url.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            received_at=time.monotonic(),
            api_key=key,
            peer_port=request.client.port if request.client else 0,
        )
        self.recorder.add(record)
        if not key:
            record.end("rejected")
            return missing_key_response()

        script = self.book.next_for(key, request.headers)
        model = str(body.get("model", ""))
        cookie = {"set-cookie": script.set_cookie} if script.set_cookie else {}
        streamed = bool(body.get("stream"))
        if script.behaviour is Behaviour.CONTEXT_EXCEEDED and streamed and not chat:
            record.end("context_exceeded")
            return SseResponse(_nothing(), record, cookie)
        if script.behaviour in _ERRORS:
            record.end("rejected")
            return error_response(script.behaviour, key, model, script)

        shape = _Shape(chat=chat, model=model, prompt=_prompt_text(body, chat))
        if not streamed:
            response = await self._whole(script, shape, record)
            response.headers.update(cookie)
            return response
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        chunks = _stream(script, shape, include_usage and script.usage, record)
        return SseResponse(chunks, record, cookie)

    async def _whole(
        self, script: Script, shape: _Shape, record: RecordedRequest
    ) -> Response:
        if script.behaviour is Behaviour.STALL:
            await asyncio.sleep(3600)
        if script.behaviour is Behaviour.RESET:
            raise StreamReset
        await asyncio.sleep(script.interval_s * script.deltas)
        record.end("complete")
        text = script.text
        choice = (
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
            if shape.chat
            else {"index": 0, "text": text, "logprobs": None, "finish_reason": "stop"}
        )
        return JSONResponse(
            {**shape.envelope(), "choices": [choice], "usage": shape.usage(script)}
        )


class _Shape:
    """The fields that differ between chat and legacy completion chunks."""

    def __init__(self, chat: bool, model: str, prompt: str) -> None:
        self.chat = chat
        self.model = model
        self.prompt = prompt
        self.id = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:24]
        self.created = int(time.time())

    def envelope(self, chunk: bool = False) -> dict[str, Any]:
        kind = "chat.completion" if self.chat else "text_completion"
        return {
            "id": self.id,
            "object": f"{kind}.chunk" if chunk and self.chat else kind,
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_standin",
        }

    def choice(self, text: str | None, finish: str | None, role: bool = False) -> dict:
        if not self.chat:
            return {
                "index": 0,
                "text": text or "",
                "logprobs": None,
                "finish_reason": finish,
            }
        delta: dict[str, Any] = {}
        if role:
            delta["role"] = "assistant"
        if text is not None:
            delta["content"] = text
        return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}

    def usage(self, script: Script, sent: int | None = None) -> dict[str, Any]:
        """The usage after ``sent`` pieces of text (all of them by default)."""
        prompt_tokens = max(1, len(self.prompt.split())) + script.cached_input_tokens
        completion_tokens = len(script.pieces()) if sent is None else sent
        usage: dict[str, Any] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        if script.cached_input_tokens:
            usage["prompt_tokens_details"] = {
                "cached_tokens": script.cached_input_tokens
            }
        return usage


async def _stream(
    script: Script, shape: _Shape, include_usage: bool, record: RecordedRequest
) -> AsyncIterator[bytes]:
    usage_shape = script.usage_shape if include_usage else None
    sent = 0

    def chunk(choices: list[dict], usage: dict | None = None) -> bytes:
        payload = {**shape.envelope(chunk=True), "choices": choices}
        if usage_shape is UsageShape.CUMULATIVE:
            payload["usage"] = usage or shape.usage(script, sent)
        elif include_usage:
            payload["usage"] = usage
        return sse(json.dumps(payload))

    if shape.chat:
        yield chunk([shape.choice("", None, role=True)])
    for _ in range(script.leading_empty):
        yield chunk([shape.choice("", None)])

    pieces = [] if script.behaviour is Behaviour.EMPTY else script.pieces()
    for index, piece in enumerate(pieces):
        if index == script.fail_after and script.behaviour is not Behaviour.NORMAL:
            async for tail in _failure(script, record):
                yield tail
            return
        if script.interval_s:
            await asyncio.sleep(script.interval_s)
        sent += 1
        yield chunk([shape.choice(piece, None)])

    final = shape.choice(None if shape.chat else "", "stop")
    if usage_shape is UsageShape.ON_FINISH:
        yield chunk([final], shape.usage(script, sent))
    else:
        yield chunk([final])
    if usage_shape is UsageShape.SEPARATE:
        yield chunk([], shape.usage(script, sent))
    yield sse("[DONE]")


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""


async def _failure(script: Script, record: RecordedRequest) -> AsyncIterator[bytes]:
    if script.behaviour is Behaviour.OVERLOADED_MID_STREAM:
        record.extra["ending"] = "error_event"
        error = {
            "message": "The server is overloaded.",
            "type": "server_error",
            "param": None,
            "code": None,
        }
        yield sse(json.dumps({"error": error}))
    elif script.behaviour is Behaviour.CUT:
        record.extra["ending"] = "cut"
    elif script.behaviour is Behaviour.RESET:
        raise StreamReset
    elif script.behaviour is Behaviour.STALL:
        await asyncio.sleep(3600)
    elif script.behaviour is Behaviour.MALFORMED:
        record.extra["ending"] = "malformed"
        yield sse('{"id": "chatcmpl-broken", "choices": [{"delta": {"content": "x')


def _prompt_text(body: dict[str, Any], chat: bool) -> str:
    if not chat:
        prompt = body.get("prompt", "")
        return prompt if isinstance(prompt, str) else " ".join(map(str, prompt))
    parts = []
    for message in body.get("messages", []):
        content = message.get("content", "")
        parts.append(content if isinstance(content, str) else json.dumps(content))
    return " ".join(parts)
