"""GenerateContent end to end: real KeyVault, real gRPC over mTLS, stand-in."""

from __future__ import annotations

import asyncio
import math
import time

import grpc
import pytest
from byok.generation.v1 import generation_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from keyvault_service.server import RunningKeyVault
from provider_standin import DEFAULT_TEXT, Behaviour, Script, Standin
from tests.conftest import Pki
from tests.generation.conftest import CapturedLogs, request_for, save_key
from tests.support.generation import generate, generation_server, generation_stub
from tests.support.keyvault import keyvault_server
from tests.support.ports import free_port
from tests.support.standin import platform_keys, provider_env, sentinel_key

TENANT = generation_pb2.KEY_SOURCE_TENANT
PLATFORM = generation_pb2.KEY_SOURCE_PLATFORM
Response = generation_pb2.GenerateContentResponse


@pytest.mark.parametrize("provider", ["openai", "anthropic", "deepseek"])
async def test_a_tenants_request_carries_that_tenants_key_and_no_other(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, provider: str, tenant: str
) -> None:
    tenant_key = sentinel_key("a")
    platform_key = sentinel_key("platform")
    await save_key(pki, keyvault, tenant, provider, tenant_key)
    await save_key(pki, keyvault, f"{tenant}-b", provider, sentinel_key("b"))
    env = {**provider_env(standin), **platform_keys({provider: platform_key})}

    outcome = await generate(
        pki, keyvault.address, request_for(tenant, provider), **env
    )

    assert outcome.kinds == [
        "variant_started",
        *["text_delta"] * 8,
        "variant_completed",
        "summary",
    ]
    completed = outcome.of_kind("variant_completed")[0].variant_completed
    assert completed.text == DEFAULT_TEXT
    assert completed.platform == "linkedin"
    assert completed.compliance.length > 0
    assert completed.usage.output_tokens == 8
    assert not completed.usage.estimated
    assert outcome.summary.key_source == TENANT
    assert outcome.summary.key_fingerprint == tenant_key[-4:]
    assert outcome.summary.provider == provider
    assert [r.api_key for r in standin.requests] == [tenant_key]


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_a_tenant_without_a_key_is_served_on_the_platform_key(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, provider: str, tenant: str
) -> None:
    platform_key = sentinel_key("platform")
    env = {**provider_env(standin), **platform_keys({provider: platform_key})}

    outcome = await generate(
        pki, keyvault.address, request_for(tenant, provider), **env
    )

    assert outcome.summary.key_source == PLATFORM
    # The platform key's last characters are no business of any tenant.
    assert outcome.summary.key_fingerprint == ""
    assert outcome.completed()[0].key_fingerprint == ""
    assert outcome.trailers["byok-key-fingerprint"] == ""
    assert platform_key[-4:] not in outcome.trailers["byok-attempts"]
    assert [r.api_key for r in standin.requests] == [platform_key]


async def test_keyvault_down_fails_the_request_and_sends_nothing(
    pki: Pki, standin: Standin, tenant: str
) -> None:
    env = {**provider_env(standin), **platform_keys({"openai": sentinel_key("p")})}
    nowhere = f"127.0.0.1:{free_port()}"

    outcome = await generate(pki, nowhere, request_for(tenant, "openai"), **env)

    assert outcome.code == grpc.StatusCode.UNAVAILABLE
    assert outcome.reason == "KEYVAULT_UNAVAILABLE"
    assert outcome.events == []
    assert standin.requests == []


async def test_keyvault_refusing_the_caller_fails_without_platform_fallback(
    pki: Pki, database_url: str, standin: Standin, tenant: str
) -> None:
    env = {**provider_env(standin), **platform_keys({"openai": sentinel_key("p")})}

    async with keyvault_server(
        pki, database_url, KEYVAULT_DECRYPT_ALLOWED_CLIENTS="platform"
    ) as refusing:
        outcome = await generate(
            pki, refusing.address, request_for(tenant, "openai"), **env
        )

    assert outcome.code == grpc.StatusCode.INTERNAL
    assert outcome.reason == "KEYVAULT_ERROR"
    assert standin.requests == []


async def test_no_key_anywhere_fails_before_any_outbound_request(
    pki: Pki,
    keyvault: RunningKeyVault,
    standin: Standin,
    tenant: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Platform keys exist for other providers, in the settings and in the
    # process environment the SDKs could read.
    others = {"openai": sentinel_key("oa"), "anthropic": sentinel_key("an")}
    monkeypatch.setenv("OPENAI_API_KEY", others["openai"])
    monkeypatch.setenv("ANTHROPIC_API_KEY", others["anthropic"])
    await save_key(pki, keyvault, tenant, "openai", sentinel_key("tenant-openai"))
    env = {**provider_env(standin), **platform_keys(others)}

    outcome = await generate(
        pki, keyvault.address, request_for(tenant, "deepseek"), **env
    )

    assert outcome.code == grpc.StatusCode.FAILED_PRECONDITION
    assert outcome.reason == "NO_KEY_CONFIGURED"
    assert "deepseek" in outcome.error.details()
    assert standin.requests == []


async def test_a_cut_openai_stream_is_never_reported_complete(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str
) -> None:
    key = sentinel_key("a")
    await save_key(pki, keyvault, tenant, "openai", key)
    standin.script(key, Script(behaviour=Behaviour.CUT, fail_after=3))

    outcome = await generate(
        pki, keyvault.address, request_for(tenant, "openai"), **provider_env(standin)
    )

    assert outcome.of_kind("variant_completed") == []
    failed = outcome.of_kind("variant_failed")[0].variant_failed
    assert failed.reason == "STREAM_INCOMPLETE"
    assert failed.usage.estimated
    assert failed.usage.output_tokens > 0
    assert outcome.code == grpc.StatusCode.UNAVAILABLE
    assert outcome.reason == "STREAM_INCOMPLETE"
    # Text had reached the caller, so the variant was not tried again.
    assert len(standin.requests) == 1


async def test_anthropic_overload_mid_stream_ends_unavailable_with_retry_info(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str
) -> None:
    key = sentinel_key("a")
    await save_key(pki, keyvault, tenant, "anthropic", key)
    standin.script(key, Script(behaviour=Behaviour.OVERLOADED_MID_STREAM))

    outcome = await generate(
        pki, keyvault.address, request_for(tenant, "anthropic"), **provider_env(standin)
    )

    assert outcome.of_kind("variant_completed") == []
    failed = outcome.of_kind("variant_failed")[0].variant_failed
    assert failed.reason == "PROVIDER_OVERLOADED"
    assert failed.retryable
    assert outcome.code == grpc.StatusCode.UNAVAILABLE
    assert outcome.reason == "PROVIDER_OVERLOADED"
    assert "200" not in outcome.error.details()
    status = rpc_status.from_call(outcome.error)
    assert any(d.Is(error_details_pb2.RetryInfo.DESCRIPTOR) for d in status.details)


async def test_an_overload_before_the_first_token_is_retried_transparently(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str
) -> None:
    key = sentinel_key("a")
    await save_key(pki, keyvault, tenant, "anthropic", key)
    standin.script(
        key, Script(behaviour=Behaviour.OVERLOADED_MID_STREAM, fail_after=0), Script()
    )

    outcome = await generate(
        pki, keyvault.address, request_for(tenant, "anthropic"), **provider_env(standin)
    )

    assert outcome.summary.variants_completed == 1
    assert [a.outcome for a in outcome.summary.attempts] == [
        "PROVIDER_OVERLOADED",
        "ok",
    ]
    assert len(standin.requests) == 2


async def test_a_rate_limit_is_retried_after_the_providers_retry_after(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str
) -> None:
    key = sentinel_key("a")
    await save_key(pki, keyvault, tenant, "openai", key)
    standin.script(
        key, Script(behaviour=Behaviour.RATE_LIMITED, retry_after_s=1), Script()
    )

    outcome = await generate(
        pki, keyvault.address, request_for(tenant, "openai"), **provider_env(standin)
    )

    first, second = standin.requests
    assert second.received_at - first.received_at >= 0.9
    assert [a.outcome for a in outcome.summary.attempts] == [
        "PROVIDER_RATE_LIMITED",
        "ok",
    ]


async def test_a_rejected_tenant_key_fails_the_request_without_retry(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str
) -> None:
    key = sentinel_key("a")
    await save_key(pki, keyvault, tenant, "openai", key)
    standin.script(key, Script(behaviour=Behaviour.UNAUTHORIZED))
    env = {**provider_env(standin), **platform_keys({"openai": sentinel_key("p")})}

    outcome = await generate(
        pki, keyvault.address, request_for(tenant, "openai", variants=3), **env
    )

    assert outcome.code == grpc.StatusCode.FAILED_PRECONDITION
    assert outcome.reason == "TENANT_KEY_REJECTED"
    assert "openai" in outcome.error.details()
    # Never a fall back to the platform key after the tenant's was refused.
    assert {r.api_key for r in standin.requests} == {key}


async def test_variants_for_several_platforms_all_complete_with_totals(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str
) -> None:
    await save_key(pki, keyvault, tenant, "openai", sentinel_key("a"))
    request = request_for(tenant, "openai", platforms=("x", "linkedin"), variants=2)

    outcome = await generate(pki, keyvault.address, request, **provider_env(standin))

    completed = [e.variant_completed for e in outcome.of_kind("variant_completed")]
    assert sorted(c.variant_index for c in completed) == [0, 1, 2, 3]
    assert sorted(c.platform for c in completed) == ["linkedin", "linkedin", "x", "x"]
    assert outcome.summary.variants_completed == 4
    assert outcome.summary.total_usage.output_tokens == sum(
        c.usage.output_tokens for c in completed
    )
    assert len(standin.requests) == 4
    texts_by_index: dict[int, str] = {}
    for event in outcome.of_kind("text_delta"):
        delta = event.text_delta
        texts_by_index[delta.variant_index] = (
            texts_by_index.get(delta.variant_index, "") + delta.text
        )
    assert all(texts_by_index[c.variant_index] == c.text for c in completed)


async def test_absent_usage_is_estimated_and_marked_so(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str
) -> None:
    key = sentinel_key("a")
    await save_key(pki, keyvault, tenant, "qwen", key)
    standin.script(key, Script(usage=False, leading_empty=3))

    outcome = await generate(
        pki, keyvault.address, request_for(tenant, "qwen"), **provider_env(standin)
    )

    usage = outcome.of_kind("variant_completed")[0].variant_completed.usage
    assert usage.estimated
    assert usage.output_tokens == math.ceil(len(DEFAULT_TEXT) / 4)
    assert outcome.summary.total_usage.estimated


async def test_the_local_model_needs_no_tenant_key_and_no_keyvault(
    pki: Pki, standin: Standin, tenant: str
) -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    env = provider_env(standin, local=True)

    outcome = await generate(pki, nowhere, request_for(tenant, ""), **env)

    assert outcome.summary.provider == "local"
    assert outcome.summary.key_source == PLATFORM
    assert outcome.summary.key_fingerprint == ""
    assert [r.path for r in standin.requests] == ["/v1/completions"]


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"prompt": "   "}, "prompt"),
        ({"platforms": ["myspace"]}, "unknown 'myspace'"),
        ({"variant_count": 6}, "variant_count"),
        ({"provider": "mystery"}, "provider"),
        ({"provider": "local"}, "provider"),
        ({"tenant_id": "bad tenant"}, "tenant_id"),
        ({"model": "two words"}, "model"),
        ({"content_type": 99}, "content_type"),
        ({"length": 7}, "length"),
    ],
)
async def test_an_invalid_request_is_refused_before_any_key_is_used(
    pki: Pki,
    keyvault: RunningKeyVault,
    standin: Standin,
    tenant: str,
    fields: dict[str, object],
    fragment: str,
) -> None:
    request = request_for(tenant, "openai")
    for name, value in fields.items():
        if isinstance(value, list):
            del getattr(request, name)[:]
            getattr(request, name).extend(value)
        else:
            setattr(request, name, value)
    env = {**provider_env(standin), **platform_keys({"openai": sentinel_key("p")})}

    outcome = await generate(pki, keyvault.address, request, **env)

    assert outcome.code == grpc.StatusCode.INVALID_ARGUMENT
    assert outcome.reason == "INVALID_REQUEST"
    assert fragment in outcome.error.details()
    assert standin.requests == []


async def test_a_caller_leaving_closes_the_provider_stream_at_once(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str
) -> None:
    key = sentinel_key("a")
    await save_key(pki, keyvault, tenant, "openai", key)
    standin.script(key, Script(deltas=64, interval_s=0.05))
    # One variant at a time, so a next variant would start after the first.
    request = request_for(tenant, "openai", variants=3)
    env = {**provider_env(standin), "GENERATION_MAX_PARALLEL_VARIANTS": "1"}

    async with (
        generation_server(pki, keyvault.address, **env) as running,
        generation_stub(pki, running) as stub,
    ):
        call = stub.GenerateContent(request, timeout=20)
        async for event in call:
            if event.WhichOneof("event") == "text_delta":
                break
        call.cancel()
        left_at = time.monotonic()
        record = standin.requests[0]
        assert await record.wait_ended(3)
        # Long enough for a wrongly started retry to reach the stand-in.
        await asyncio.sleep(0.2)

    assert record.outcome == "client_closed"
    assert record.ended_at - left_at < 1.0
    assert record.chunks_sent < 20
    assert len(standin.requests) == 1


async def test_one_log_line_per_rpc_names_tenant_provider_and_key_source(
    pki: Pki,
    keyvault: RunningKeyVault,
    standin: Standin,
    tenant: str,
    captured_logs: CapturedLogs,
) -> None:
    await save_key(pki, keyvault, tenant, "openai", sentinel_key("a"))

    await generate(
        pki, keyvault.address, request_for(tenant, "openai"), **provider_env(standin)
    )

    lines = [line for line in captured_logs.rpc_lines() if "GenerateContent" in line]
    assert len(lines) == 1
    for field in (tenant, '"provider": "openai"', '"key_source": "tenant"', '"OK"'):
        assert field in lines[0]


async def test_variants_are_written_concurrently(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str
) -> None:
    key = sentinel_key("a")
    await save_key(pki, keyvault, tenant, "openai", key)
    # Each variant takes 0.5 s at the provider; four in a row would take 2 s.
    standin.script(key, Script(deltas=10, interval_s=0.05))
    request = request_for(tenant, "openai", variants=4)

    started = time.monotonic()
    outcome = await generate(pki, keyvault.address, request, **provider_env(standin))
    elapsed = time.monotonic() - started

    assert outcome.summary.variants_completed == 4
    assert elapsed < 1.5


async def test_a_keyvault_that_never_answers_fails_within_the_lookup_timeout(
    pki: Pki, standin: Standin, tenant: str
) -> None:
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    silent = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    env = {
        **provider_env(standin),
        **platform_keys({"openai": sentinel_key("p")}),
        "GENERATION_KEYVAULT_TIMEOUT_S": "0.5",
    }
    try:
        started = time.monotonic()
        outcome = await generate(
            pki, f"127.0.0.1:{port}", request_for(tenant, "openai"), **env
        )
        elapsed = time.monotonic() - started
    finally:
        for writer in held:
            writer.close()
        silent.close()

    assert outcome.code == grpc.StatusCode.UNAVAILABLE
    assert outcome.reason == "KEYVAULT_UNAVAILABLE"
    assert elapsed < 3
    assert standin.requests == []
