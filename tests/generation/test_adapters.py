"""Provider adapters against the stand-in: keys, stream endings, errors."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest

from generation_service import errors
from generation_service.config import GenerationSettings
from generation_service.keys import PLATFORM, TENANT, ResolvedKey
from generation_service.providers import (
    Adapters,
    Delta,
    Finished,
    GenerationCall,
    Meter,
    TokenUsage,
)
from provider_standin import Behaviour, Script, Standin, UsageShape
from shared.secrets import SecretStr
from tests.support.standin import pieces_of, provider_env, sentinel_key

CALL = GenerationCall(
    model="test-model",
    system="You write short posts.",
    user="Announce the jacket.",
    completion_prompt="Brief: Announce the jacket.\n\nlinkedin post:\n",
    stop=("\n\n\n",),
    max_tokens=64,
    temperature=0.7,
)
CHAT_PROVIDERS = ["openai", "google", "deepseek", "qwen", "meta_llama"]


@pytest.fixture
async def adapters(standin: Standin) -> AsyncIterator[Adapters]:
    env = {
        **provider_env(standin, local=True),
        "GENERATION_STREAM_IDLE_TIMEOUT_S": "0.5",
    }
    built = Adapters(GenerationSettings.from_env(env))
    try:
        yield built
    finally:
        await built.aclose()


def key_for(provider: str, secret: str, source: int = TENANT) -> ResolvedKey:
    return ResolvedKey(provider, SecretStr(secret), source)  # type: ignore[arg-type]


async def run(
    adapters: Adapters, key: ResolvedKey, meter: Meter | None = None
) -> tuple[str, Finished]:
    text = []
    finished = None
    async for event in adapters.build(key).stream(CALL, meter or Meter()):
        if isinstance(event, Delta):
            text.append(event.text)
        else:
            finished = event
    assert finished is not None
    return "".join(text), finished


async def drain(
    adapters: Adapters, key: ResolvedKey, seen: list[object], meter: Meter | None = None
) -> None:
    async for event in adapters.build(key).stream(CALL, meter or Meter()):
        seen.append(event)


@pytest.mark.parametrize("provider", [*CHAT_PROVIDERS, "anthropic", "local"])
async def test_the_resolved_key_is_sent_even_with_sdk_keys_in_the_environment(
    adapters: Adapters,
    standin: Standin,
    provider: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "environment-openai-key")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "environment-anthropic-key")
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "environment-anthropic-token")
    tenant_key = sentinel_key(provider)
    standin.script(tenant_key, Script(text="Hello there", deltas=2))

    text, finished = await run(adapters, key_for(provider, tenant_key))

    assert text == "Hello there"
    assert [r.api_key for r in standin.requests] == [tenant_key]
    assert "environment" not in str(standin.requests[0].headers)
    assert finished.usage is not None


@pytest.mark.parametrize("provider", ["openai", "anthropic", "local"])
def test_no_client_is_built_without_a_key(adapters: Adapters, provider: str) -> None:
    with pytest.raises(ValueError, match=r"no \w+ key"):
        adapters.build(key_for(provider, ""))


async def test_chat_streams_ask_for_usage_and_read_the_usage_only_chunk(
    adapters: Adapters, standin: Standin
) -> None:
    standin.script("k-usage", Script(text="abcdef", deltas=3, leading_empty=2))

    text, finished = await run(adapters, key_for("openai", "k-usage"))

    body = standin.requests[0].body
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["model"] == "test-model"
    assert text == "abcdef"
    assert finished.usage == TokenUsage(input_tokens=7, output_tokens=3)
    assert finished.stop_reason == "stop"


async def test_a_chat_stream_without_usage_finishes_with_usage_unknown(
    adapters: Adapters, standin: Standin
) -> None:
    standin.script("k-nousage", Script(usage=False))

    _, finished = await run(adapters, key_for("qwen", "k-nousage"))

    assert finished.usage is None


async def test_the_local_model_is_asked_completion_style(
    adapters: Adapters, standin: Standin
) -> None:
    _, finished = await run(adapters, key_for("local", "local-key", PLATFORM))

    request = standin.requests[0]
    assert request.path == "/v1/completions"
    assert request.body["prompt"] == CALL.completion_prompt
    assert request.body["stop"] == list(CALL.stop)
    assert request.body["max_tokens"] == CALL.max_tokens
    assert finished.stop_reason == "stop"


async def test_anthropic_usage_comes_from_message_start_and_message_delta(
    adapters: Adapters, standin: Standin
) -> None:
    standin.script("k-ant", Script(text="abcd", deltas=4))

    text, finished = await run(adapters, key_for("anthropic", "k-ant"))

    request = standin.requests[0]
    assert request.path == "/v1/messages"
    assert request.headers["anthropic-version"]
    assert request.body["system"] == CALL.system
    assert text == "abcd"
    assert finished.usage == TokenUsage(input_tokens=7, output_tokens=4)
    assert finished.stop_reason == "end_turn"


@pytest.mark.parametrize(
    ("provider", "behaviour", "expected"),
    [
        ("openai", Behaviour.CUT, errors.StreamIncomplete),
        ("anthropic", Behaviour.CUT, errors.StreamIncomplete),
        ("local", Behaviour.CUT, errors.StreamIncomplete),
        ("openai", Behaviour.RESET, errors.ProviderUnreachable),
        ("anthropic", Behaviour.RESET, errors.ProviderUnreachable),
        ("openai", Behaviour.STALL, errors.ProviderStalled),
        ("anthropic", Behaviour.STALL, errors.ProviderStalled),
        ("openai", Behaviour.MALFORMED, errors.MalformedStream),
        ("anthropic", Behaviour.MALFORMED, errors.MalformedStream),
        ("local", Behaviour.MALFORMED, errors.MalformedStream),
        ("anthropic", Behaviour.OVERLOADED_MID_STREAM, errors.ProviderOverloaded),
        ("openai", Behaviour.OVERLOADED_MID_STREAM, errors.ProviderFailed),
        ("openai", Behaviour.UNAUTHORIZED, errors.TenantKeyRejected),
        ("anthropic", Behaviour.UNAUTHORIZED, errors.TenantKeyRejected),
        ("openai", Behaviour.NOT_FOUND, errors.ModelUnavailable),
        ("openai", Behaviour.RATE_LIMITED, errors.ProviderRateLimited),
        ("anthropic", Behaviour.RATE_LIMITED, errors.ProviderRateLimited),
        ("openai", Behaviour.SERVER_ERROR, errors.ProviderFailed),
        ("openai", Behaviour.UNAVAILABLE, errors.ProviderOverloaded),
        ("anthropic", Behaviour.UNAVAILABLE, errors.ProviderOverloaded),
    ],
)
async def test_a_stream_that_does_not_end_properly_raises_our_error(
    adapters: Adapters,
    standin: Standin,
    provider: str,
    behaviour: Behaviour,
    expected: type[errors.ProviderError],
) -> None:
    secret = sentinel_key("tenant")
    standin.script(secret, Script(behaviour=behaviour, fail_after=1))
    seen: list[object] = []

    with pytest.raises(errors.ProviderError) as raised:
        await drain(adapters, key_for(provider, secret), seen)

    assert type(raised.value) is expected
    assert not any(isinstance(event, Finished) for event in seen)
    assert raised.value.provider == provider
    assert raised.value.__cause__ is None
    assert not pieces_of(secret) & pieces_of(str(raised.value))


async def test_a_rate_limit_carries_the_providers_retry_after(
    adapters: Adapters, standin: Standin
) -> None:
    standin.script("k-429", Script(behaviour=Behaviour.RATE_LIMITED, retry_after_s=3))

    with pytest.raises(errors.ProviderRateLimited) as raised:
        await run(adapters, key_for("deepseek", "k-429"))

    assert raised.value.retry_after_s == 3.0


async def test_a_rejected_platform_key_is_told_apart_from_a_tenant_key(
    adapters: Adapters, standin: Standin
) -> None:
    standin.script("k-platform", Script(behaviour=Behaviour.UNAUTHORIZED))

    with pytest.raises(errors.PlatformKeyRejected):
        await run(adapters, key_for("openai", "k-platform", PLATFORM))


@pytest.mark.parametrize(
    "shape", [UsageShape.SEPARATE, UsageShape.ON_FINISH, UsageShape.CUMULATIVE]
)
async def test_usage_is_read_wherever_the_host_puts_it(
    adapters: Adapters, standin: Standin, shape: UsageShape
) -> None:
    standin.script("k-shape", Script(text="abcdef", deltas=3, usage_shape=shape))

    _, finished = await run(adapters, key_for("deepseek", "k-shape"))

    assert finished.usage == TokenUsage(input_tokens=7, output_tokens=3)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_cached_input_tokens_are_counted_within_the_input(
    adapters: Adapters, standin: Standin, provider: str
) -> None:
    standin.script("k-cache", Script(text="abcd", deltas=2, cached_input_tokens=40))

    _, finished = await run(adapters, key_for(provider, "k-cache"))

    assert finished.usage is not None
    assert finished.usage.cached_input_tokens == 40
    assert finished.usage.input_tokens == 47


@pytest.mark.parametrize("provider", ["openai", "anthropic", "local"])
async def test_an_empty_stream_still_finishes_properly(
    adapters: Adapters, standin: Standin, provider: str
) -> None:
    # Deciding that empty text is no variant is the runner's job.
    standin.script("k-empty", Script(behaviour=Behaviour.EMPTY))

    text, finished = await run(adapters, key_for(provider, "k-empty", PLATFORM))

    assert text == ""
    assert finished.stop_reason in {"stop", "end_turn"}


async def test_the_meter_keeps_what_anthropic_reported_before_a_break(
    adapters: Adapters, standin: Standin
) -> None:
    standin.script("k-break", Script(behaviour=Behaviour.OVERLOADED_MID_STREAM))
    meter = Meter()

    with pytest.raises(errors.ProviderOverloaded):
        await drain(adapters, key_for("anthropic", "k-break"), [], meter)

    assert meter.accepted
    assert meter.usage is not None
    assert meter.usage.input_tokens == 7


async def test_a_refused_call_leaves_the_meter_unaccepted(
    adapters: Adapters, standin: Standin
) -> None:
    standin.script("k-refused", Script(behaviour=Behaviour.RATE_LIMITED))
    meter = Meter()

    with pytest.raises(errors.ProviderRateLimited):
        await drain(adapters, key_for("openai", "k-refused"), [], meter)

    assert not meter.accepted
    assert meter.usage is None


async def test_sdk_clients_are_reused_per_provider_base_url_and_key(
    adapters: Adapters, standin: Standin
) -> None:
    for secret in ["k-reuse-a", "k-reuse-a", "k-reuse-b", "k-reuse-a"]:
        await run(adapters, key_for("openai", secret))
    await run(adapters, key_for("google", "k-reuse-a"))

    stats = adapters.cache_stats()
    assert (stats.misses, stats.hits) == (3, 2)
    assert stats.size == 3


async def test_the_client_cache_is_bounded(standin: Standin) -> None:
    env = {**provider_env(standin), "GENERATION_CLIENT_CACHE_SIZE": "2"}
    adapters = Adapters(GenerationSettings.from_env(env))
    try:
        for index in range(5):
            await run(adapters, key_for("openai", f"k-bound-{index}"))
        assert adapters.cache_stats().size == 2
    finally:
        await adapters.aclose()


async def test_connections_go_back_to_the_pool_on_every_path(
    adapters: Adapters, standin: Standin
) -> None:
    endings = [
        Script(),
        Script(behaviour=Behaviour.CUT),
        Script(behaviour=Behaviour.RATE_LIMITED),
        Script(behaviour=Behaviour.SERVER_ERROR),
        Script(behaviour=Behaviour.OVERLOADED_MID_STREAM),
        Script(behaviour=Behaviour.MALFORMED),
        Script(behaviour=Behaviour.STALL),
        Script(behaviour=Behaviour.RESET),
        Script(),
    ]
    # Each SDK has its own pool, so each keeps one idle connection.
    for pools, provider in enumerate(["openai", "anthropic"], start=1):
        standin.reset()
        standin.script("k-pool", *endings)
        for _ in endings:
            with contextlib.suppress(errors.ProviderError):
                await run(adapters, key_for(provider, "k-pool"))

        # One after another, the calls never needed a second connection
        # open at once, and nothing is left open but the pooled ones.
        assert await standin.connections_settle(at_most=pools) == pools
        assert all(r.ended_at is not None for r in standin.requests)
        first, second, *_ = standin.requests
        assert first.peer_port == second.peer_port


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_a_cookie_set_for_one_key_is_never_sent_with_another(
    adapters: Adapters, standin: Standin, provider: str
) -> None:
    standin.script("k-cookie-a", Script(set_cookie="session=tenant-a; Path=/"))

    await run(adapters, key_for(provider, "k-cookie-a"))
    await run(adapters, key_for(provider, "k-cookie-b"))
    await run(adapters, key_for(provider, "k-cookie-a"))

    assert [r.api_key for r in standin.requests] == [
        "k-cookie-a",
        "k-cookie-b",
        "k-cookie-a",
    ]
    assert [r.headers.get("cookie") for r in standin.requests] == [None] * 3


@pytest.mark.parametrize(
    ("source", "kind"),
    [(TENANT, errors.TenantKeyRejected), (PLATFORM, errors.PlatformKeyRejected)],
)
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_a_key_no_http_header_can_carry_is_refused_without_echoing_it(
    adapters: Adapters, standin: Standin, provider: str, source: int, kind: type
) -> None:
    secret = "sk-caf\u00e9-" + sentinel_key("u")

    with pytest.raises(kind) as raised:
        await run(adapters, key_for(provider, secret, source))

    assert "characters an HTTP header cannot carry" in str(raised.value)
    assert not any(piece in str(raised.value) for piece in pieces_of(secret, 4))
    assert standin.requests == []


async def test_a_prompt_past_the_local_models_context_is_refused_not_cut(
    adapters: Adapters, standin: Standin
) -> None:
    # llama-cpp-python answers a streamed request whose prompt exceeds the
    # context with HTTP 200 and an empty body; unstreamed, with HTTP 400.
    standin.script("k-ctx", Script(behaviour=Behaviour.CONTEXT_EXCEEDED))

    with pytest.raises(errors.ProviderRejectedRequest) as raised:
        await run(adapters, key_for("local", "k-ctx", PLATFORM))

    assert "context" in str(raised.value)
    assert not raised.value.retryable
    assert [r.streamed for r in standin.requests] == [True, False]
    assert standin.requests[1].body["max_tokens"] == 1


async def test_an_empty_local_stream_with_a_prompt_that_fits_stays_incomplete(
    adapters: Adapters, standin: Standin
) -> None:
    standin.script("k-cut0", Script(behaviour=Behaviour.CUT, fail_after=0))

    with pytest.raises(errors.StreamIncomplete):
        await run(adapters, key_for("local", "k-cut0", PLATFORM))


async def test_a_hosted_context_length_refusal_says_so(
    adapters: Adapters, standin: Standin
) -> None:
    standin.script("k-ctx-hosted", Script(behaviour=Behaviour.CONTEXT_EXCEEDED))

    with pytest.raises(errors.ProviderRejectedRequest) as raised:
        await run(adapters, key_for("openai", "k-ctx-hosted"))

    assert "context" in str(raised.value)
