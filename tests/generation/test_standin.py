"""The provider stand-in speaks the providers' wire protocols exactly."""

from __future__ import annotations

import json

import httpx
import pytest

from provider_standin import SCRIPT_HEADER, Behaviour, Script, Standin

CHAT = {"model": "gpt-test", "messages": [{"role": "user", "content": "hi there"}]}
MESSAGES = {
    "model": "claude-test",
    "max_tokens": 50,
    "messages": [{"role": "user", "content": "hi"}],
}
ANTHROPIC_HEADERS = {"x-api-key": "key-a", "anthropic-version": "2023-06-01"}


def sse_data(body: str) -> list[str]:
    return [line[6:] for line in body.splitlines() if line.startswith("data: ")]


def sse_events(body: str) -> list[str]:
    return [line[7:] for line in body.splitlines() if line.startswith("event: ")]


async def post(
    standin: Standin, path: str, body: dict, **headers: str
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=standin.base_url, timeout=10) as client:
        return await client.post(path, json=body, headers=headers)


async def test_chat_stream_ends_with_a_usage_chunk_without_choices_and_done(
    standin: Standin,
) -> None:
    standin.script("key-a", Script(text="abcdef", deltas=3))
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}

    response = await post(
        standin, "/v1/chat/completions", body, authorization="Bearer key-a"
    )

    assert response.headers["content-type"].startswith("text/event-stream")
    data = sse_data(response.text)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(item) for item in data[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    texts = [c["choices"][0]["delta"].get("content") for c in chunks[1:4]]
    assert texts == ["ab", "cd", "ef"]
    assert chunks[4]["choices"][0]["finish_reason"] == "stop"
    assert all(chunk["usage"] is None for chunk in chunks[:-1])
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 3
    assert chunks[-1]["object"] == "chat.completion.chunk"


async def test_chat_stream_without_include_usage_has_no_usage_field(
    standin: Standin,
) -> None:
    response = await post(
        standin,
        "/v1/chat/completions",
        {**CHAT, "stream": True},
        authorization="Bearer key-a",
    )

    chunks = [json.loads(item) for item in sse_data(response.text)[:-1]]
    assert all("usage" not in chunk for chunk in chunks)
    assert all(chunk["choices"] for chunk in chunks)


async def test_legacy_completions_stream_text_and_finish(standin: Standin) -> None:
    standin.script("key-a", Script(text="xyz", deltas=3))
    body = {"model": "local", "prompt": "Copy:", "stream": True}

    response = await post(
        standin, "/v1/completions", body, authorization="Bearer key-a"
    )

    data = sse_data(response.text)
    chunks = [json.loads(item) for item in data[:-1]]
    assert data[-1] == "[DONE]"
    assert [c["choices"][0]["text"] for c in chunks] == ["x", "y", "z", ""]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[0]["object"] == "text_completion"


@pytest.mark.parametrize(
    ("behaviour", "status", "code"),
    [
        (Behaviour.UNAUTHORIZED, 401, "invalid_api_key"),
        (Behaviour.RATE_LIMITED, 429, "rate_limit_exceeded"),
        (Behaviour.SERVER_ERROR, 500, None),
        (Behaviour.UNAVAILABLE, 503, None),
        (Behaviour.NOT_FOUND, 404, "model_not_found"),
    ],
)
async def test_openai_errors_have_the_openai_error_body(
    standin: Standin, behaviour: Behaviour, status: int, code: str | None
) -> None:
    standin.script("key-a", Script(behaviour=behaviour))

    response = await post(
        standin, "/v1/chat/completions", CHAT, authorization="Bearer key-a"
    )

    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == code
    assert ("retry-after" in response.headers) is (status == 429)


async def test_a_request_without_a_key_is_rejected_with_401(standin: Standin) -> None:
    response = await post(standin, "/v1/chat/completions", CHAT)

    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"


async def test_anthropic_stream_sends_the_documented_events_in_order(
    standin: Standin,
) -> None:
    standin.script("key-a", Script(text="abcd", deltas=2))

    response = await post(
        standin, "/v1/messages", {**MESSAGES, "stream": True}, **ANTHROPIC_HEADERS
    )

    assert sse_events(response.text) == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    data = [json.loads(item) for item in sse_data(response.text)]
    assert data[0]["message"]["usage"]["input_tokens"] == 1
    assert data[3]["delta"] == {"type": "text_delta", "text": "ab"}
    assert data[6]["delta"]["stop_reason"] == "end_turn"
    assert data[6]["usage"] == {"output_tokens": 2}


async def test_anthropic_overload_mid_stream_is_an_error_event_after_http_200(
    standin: Standin,
) -> None:
    standin.script("key-a", Script(behaviour=Behaviour.OVERLOADED_MID_STREAM))

    response = await post(
        standin, "/v1/messages", {**MESSAGES, "stream": True}, **ANTHROPIC_HEADERS
    )

    assert response.status_code == 200
    assert sse_events(response.text)[-1] == "error"
    last = json.loads(sse_data(response.text)[-1])
    assert last["type"] == "error"
    assert last["error"]["type"] == "overloaded_error"
    assert "message_stop" not in sse_events(response.text)


@pytest.mark.parametrize(
    ("headers", "status", "kind"),
    [
        ({"anthropic-version": "2023-06-01"}, 401, "authentication_error"),
        ({"x-api-key": "key-a"}, 400, "invalid_request_error"),
    ],
)
async def test_anthropic_requires_a_key_and_a_version(
    standin: Standin, headers: dict[str, str], status: int, kind: str
) -> None:
    response = await post(standin, "/v1/messages", MESSAGES, **headers)

    assert response.status_code == status
    assert response.json()["type"] == "error"
    assert response.json()["error"]["type"] == kind


async def test_anthropic_overloaded_is_http_529(standin: Standin) -> None:
    standin.script("key-a", Script(behaviour=Behaviour.UNAVAILABLE))

    response = await post(standin, "/v1/messages", MESSAGES, **ANTHROPIC_HEADERS)

    assert response.status_code == 529
    assert response.json()["error"]["type"] == "overloaded_error"


async def test_scripts_for_a_key_play_in_order_and_the_last_repeats(
    standin: Standin,
) -> None:
    standin.script(
        "key-a",
        Script(behaviour=Behaviour.RATE_LIMITED),
        Script(),
    )
    statuses = []
    for _ in range(3):
        response = await post(
            standin, "/v1/chat/completions", CHAT, authorization="Bearer key-a"
        )
        statuses.append(response.status_code)

    assert statuses == [429, 200, 200]


async def test_a_header_can_name_the_behaviour(standin: Standin) -> None:
    response = await post(
        standin,
        "/v1/chat/completions",
        CHAT,
        authorization="Bearer key-a",
        **{SCRIPT_HEADER: "server_error"},
    )

    assert response.status_code == 500


async def test_every_request_is_recorded_with_its_key_and_body(
    standin: Standin,
) -> None:
    await post(standin, "/v1/chat/completions", CHAT, authorization="Bearer key-a")
    await post(standin, "/v1/messages", MESSAGES, **ANTHROPIC_HEADERS)

    recorded = standin.requests
    assert [(r.path, r.api_key) for r in recorded] == [
        ("/v1/chat/completions", "key-a"),
        ("/v1/messages", "key-a"),
    ]
    assert recorded[0].body == CHAT
    assert recorded[1].headers["anthropic-version"] == "2023-06-01"
    assert all(r.outcome == "complete" for r in recorded)


async def test_a_cut_stream_ends_cleanly_without_the_end_of_stream(
    standin: Standin,
) -> None:
    standin.script("key-a", Script(behaviour=Behaviour.CUT, fail_after=1))

    response = await post(
        standin,
        "/v1/chat/completions",
        {**CHAT, "stream": True},
        authorization="Bearer key-a",
    )

    assert response.status_code == 200
    data = sse_data(response.text)
    assert "[DONE]" not in data
    assert all(json.loads(d)["choices"][0]["finish_reason"] is None for d in data)
    assert standin.requests[0].outcome == "cut"


async def test_a_reset_stream_breaks_the_connection(standin: Standin) -> None:
    standin.script("key-a", Script(behaviour=Behaviour.RESET))

    with pytest.raises(httpx.RemoteProtocolError):
        await post(
            standin,
            "/v1/chat/completions",
            {**CHAT, "stream": True},
            authorization="Bearer key-a",
        )
    assert standin.requests[0].outcome == "reset"


async def test_a_client_leaving_a_stalled_stream_is_seen_at_once(
    standin: Standin,
) -> None:
    standin.script("key-a", Script(behaviour=Behaviour.STALL, fail_after=1))

    async with httpx.AsyncClient(base_url=standin.base_url, timeout=10) as client:
        body = {**CHAT, "stream": True}
        headers = {"authorization": "Bearer key-a"}
        async with client.stream(
            "POST", "/v1/chat/completions", json=body, headers=headers
        ) as response:
            async for _ in response.aiter_lines():
                break
            assert standin.open_connections == 1
            assert standin.requests[0].outcome == "open"
    record = standin.requests[0]

    assert await record.wait_ended(1.0)
    assert record.outcome == "client_closed"
    assert standin.open_connections == 0
