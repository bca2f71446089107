"""Anthropic's Messages API, as it is on the wire.

A stream is ``message_start`` (with input token usage), ``content_block_start``,
``ping``, ``content_block_delta`` events with ``text_delta``,
``content_block_stop``, ``message_delta`` (stop reason and output tokens) and
``message_stop``. An overload can arrive after HTTP 200 as an ``error`` event.
Error bodies are ``{"type": "error", "error": {"type", "message"}}``.

The key may come in ``x-api-key`` or as a bearer token in ``Authorization``:
the API takes either, and recent SDKs send the bearer form. Every request
must also name an ``anthropic-version``.
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
from provider_standin.scripts import Behaviour, Script, ScriptBook
from provider_standin.streaming import SseResponse, StreamReset, sse

_ERRORS: dict[Behaviour, tuple[int, str, str]] = {
    Behaviour.UNAUTHORIZED: (401, "authentication_error", "invalid x-api-key"),
    Behaviour.FORBIDDEN: (
        403,
        "permission_error",
        "Your API key does not have permission to use the specified resource.",
    ),
    Behaviour.BAD_REQUEST: (
        400,
        "invalid_request_error",
        "max_tokens: Input should be greater than or equal to 1",
    ),
    Behaviour.NOT_FOUND: (404, "not_found_error", "model: {model}"),
    Behaviour.RATE_LIMITED: (
        429,
        "rate_limit_error",
        "This request would exceed the rate limit for your organization.",
    ),
    Behaviour.SERVER_ERROR: (500, "api_error", "Internal server error"),
    Behaviour.UNAVAILABLE: (529, "overloaded_error", "Overloaded"),
}


def error_body(kind: str, message: str) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": kind, "message": message},
        "request_id": "req_" + uuid.uuid4().hex[:24],
    }


def error_response(behaviour: Behaviour, model: str, script: Script) -> Response:
    status, kind, template = _ERRORS[behaviour]
    headers = {"retry-after": str(script.retry_after_s)} if status == 429 else {}
    body = error_body(kind, template.format(model=model))
    return JSONResponse(body, status_code=status, headers=headers)


def api_key_of(request: Request) -> str:
    key = request.headers.get("x-api-key", "")
    if key:
        return key
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class AnthropicApi:
    def __init__(self, book: ScriptBook, recorder: Recorder) -> None:
        self.book = book
        self.recorder = recorder

    async def messages(self, request: Request) -> Response | SseResponse:
        body = await request.json()
        key = api_key_of(request)
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
            message = "x-api-key or Authorization header is required"
            body = error_body("authentication_error", message)
            return JSONResponse(body, status_code=401)
        if not request.headers.get("anthropic-version"):
            record.end("rejected")
            message = "anthropic-version: header is required"
            return JSONResponse(error_body("invalid_request_error", message), 400)

        script = self.book.next_for(key, request.headers)
        model = str(body.get("model", ""))
        if script.behaviour in _ERRORS:
            record.end("rejected")
            return error_response(script.behaviour, model, script)

        reply = _Message(model, _input_tokens(body), script.cached_input_tokens)
        cookie = {"set-cookie": script.set_cookie} if script.set_cookie else {}
        if not body.get("stream"):
            response = await _whole(script, reply, record)
            response.headers.update(cookie)
            return response
        return SseResponse(_stream(script, reply, record), record, cookie)


class _Message:
    def __init__(self, model: str, input_tokens: int, cached_tokens: int) -> None:
        self.id = "msg_" + uuid.uuid4().hex[:24]
        self.model = model
        self.input_tokens = input_tokens
        # Anthropic counts cache reads apart from input_tokens.
        self.cached_tokens = cached_tokens

    def start(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": self.model,
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": self.input_tokens,
                "cache_read_input_tokens": self.cached_tokens,
                "output_tokens": 1,
            },
        }


async def _whole(
    script: Script, message: _Message, record: RecordedRequest
) -> Response:
    if script.behaviour is Behaviour.STALL:
        await asyncio.sleep(3600)
    if script.behaviour is Behaviour.RESET:
        raise StreamReset
    await asyncio.sleep(script.interval_s * script.deltas)
    record.end("complete")
    body = message.start()
    body["content"] = [{"type": "text", "text": script.text}]
    body["stop_reason"] = "end_turn"
    body["usage"]["output_tokens"] = len(script.pieces())
    return JSONResponse(body)


async def _stream(
    script: Script, message: _Message, record: RecordedRequest
) -> AsyncIterator[bytes]:
    def event(kind: str, **fields: Any) -> bytes:
        return sse(json.dumps({"type": kind, **fields}), event=kind)

    yield event("message_start", message=message.start())
    yield event(
        "content_block_start", index=0, content_block={"type": "text", "text": ""}
    )
    yield event("ping")

    pieces = [] if script.behaviour is Behaviour.EMPTY else script.pieces()
    for index, piece in enumerate(pieces):
        if index == script.fail_after and script.behaviour is not Behaviour.NORMAL:
            async for tail in _failure(script, record):
                yield tail
            return
        if script.interval_s:
            await asyncio.sleep(script.interval_s)
        yield event(
            "content_block_delta", index=0, delta={"type": "text_delta", "text": piece}
        )

    yield event("content_block_stop", index=0)
    yield event(
        "message_delta",
        delta={"stop_reason": "end_turn", "stop_sequence": None},
        usage={"output_tokens": len(pieces)},
    )
    yield event("message_stop")


async def _failure(script: Script, record: RecordedRequest) -> AsyncIterator[bytes]:
    if script.behaviour is Behaviour.OVERLOADED_MID_STREAM:
        record.extra["ending"] = "error_event"
        body = error_body("overloaded_error", "Overloaded")
        yield sse(json.dumps(body), event="error")
    elif script.behaviour is Behaviour.CUT:
        record.extra["ending"] = "cut"
    elif script.behaviour is Behaviour.RESET:
        raise StreamReset
    elif script.behaviour is Behaviour.STALL:
        await asyncio.sleep(3600)
    elif script.behaviour is Behaviour.MALFORMED:
        record.extra["ending"] = "malformed"
        broken = '{"type": "content_block_delta", "index": 0, "delta": {'
        yield sse(broken, event="content_block_delta")


def _input_tokens(body: dict[str, Any]) -> int:
    words = 0
    system = body.get("system", "")
    words += len(system.split()) if isinstance(system, str) else 0
    for item in body.get("messages", []):
        content = item.get("content", "")
        text = content if isinstance(content, str) else json.dumps(content)
        words += len(text.split())
    return max(1, words)
