"""Honest stream ends, retries by error type, deadlines, over real gRPC."""

from __future__ import annotations

import asyncio
import itertools
import time

import grpc
import pytest
from byok.generation.v1 import generation_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from keyvault_service.server import RunningKeyVault
from provider_standin import Behaviour, Script, Standin
from tests.conftest import Pki
from tests.generation.conftest import CapturedLogs, request_for, save_key
from tests.support.generation import (
    Outcome,
    call_generate,
    generate,
    generation_server,
    generation_stub,
)
from tests.support.standin import pieces_of, provider_env, sentinel_key


def retry_delay_s(outcome: Outcome) -> float:
    assert outcome.error is not None
    status = rpc_status.from_call(outcome.error)
    for detail in status.details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return info.retry_delay.ToMilliseconds() / 1000
    raise AssertionError("no RetryInfo")


@pytest.fixture
async def tenant_key(
    pki: Pki, keyvault: RunningKeyVault, tenant: str, request: pytest.FixtureRequest
) -> str:
    """A sentinel key saved for the tenant under the test's ``provider``."""
    provider = getattr(request, "param", "openai")
    key = sentinel_key("tenant")
    await save_key(pki, keyvault, tenant, provider, key)
    return key


@pytest.mark.parametrize(
    ("tenant_key", "provider"),
    [("openai", "openai"), ("anthropic", "anthropic")],
    indirect=["tenant_key"],
)
async def test_a_malformed_chunk_before_any_text_is_retried_by_type(
    pki: Pki,
    keyvault: RunningKeyVault,
    standin: Standin,
    tenant: str,
    tenant_key: str,
    provider: str,
) -> None:
    standin.script(
        tenant_key, Script(behaviour=Behaviour.MALFORMED, fail_after=0), Script()
    )

    outcome = await generate(
        pki, keyvault.address, request_for(tenant, provider), **provider_env(standin)
    )

    assert outcome.code == grpc.StatusCode.OK
    assert [a.outcome for a in outcome.summary.attempts] == ["MALFORMED_STREAM", "ok"]
    assert len(outcome.completed()) == 1


@pytest.mark.parametrize(
    ("tenant_key", "provider", "behaviour", "reason"),
    [
        ("openai", "openai", Behaviour.MALFORMED, "MALFORMED_STREAM"),
        ("anthropic", "anthropic", Behaviour.MALFORMED, "MALFORMED_STREAM"),
        ("openai", "openai", Behaviour.STALL, "PROVIDER_STALLED"),
        ("anthropic", "anthropic", Behaviour.CUT, "STREAM_INCOMPLETE"),
        ("anthropic", "anthropic", Behaviour.RESET, "PROVIDER_UNREACHABLE"),
    ],
    indirect=["tenant_key"],
)
async def test_a_stream_broken_after_text_fails_the_variant_and_the_rpc(
    pki: Pki,
    keyvault: RunningKeyVault,
    standin: Standin,
    tenant: str,
    tenant_key: str,
    provider: str,
    behaviour: Behaviour,
    reason: str,
) -> None:
    standin.script(tenant_key, Script(behaviour=behaviour, fail_after=2))
    env = {**provider_env(standin), "GENERATION_STREAM_IDLE_TIMEOUT_S": "0.3"}

    outcome = await generate(
        pki, keyvault.address, request_for(tenant, provider), **env
    )

    assert outcome.completed() == []
    assert [f.reason for f in outcome.failed()] == [reason]
    assert outcome.failed()[0].usage.estimated
    assert outcome.code == grpc.StatusCode.UNAVAILABLE
    assert outcome.reason == reason
    assert "summary" not in outcome.kinds
    # The text reached the caller, so it was not tried again.
    assert len(standin.requests) == 1


async def test_empty_output_is_retried_and_never_reported_as_completed(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str, tenant_key: str
) -> None:
    standin.script(tenant_key, Script(behaviour=Behaviour.EMPTY))

    outcome = await generate(
        pki, keyvault.address, request_for(tenant, "openai"), **provider_env(standin)
    )

    assert outcome.completed() == []
    assert [f.reason for f in outcome.failed()] == ["EMPTY_OUTPUT"]
    assert outcome.code == grpc.StatusCode.UNAVAILABLE
    assert outcome.reason == "EMPTY_OUTPUT"
    assert len(standin.requests) == 3


async def test_a_server_error_is_retried_after_a_short_backoff(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str, tenant_key: str
) -> None:
    standin.script(tenant_key, Script(behaviour=Behaviour.SERVER_ERROR), Script())

    outcome = await generate(
        pki, keyvault.address, request_for(tenant, "openai"), **provider_env(standin)
    )

    first, second = standin.requests
    # The first backoff is 0.25 s with jitter of half either way.
    assert 0.1 <= second.received_at - first.received_at < 1.0
    assert [a.outcome for a in outcome.summary.attempts] == ["PROVIDER_ERROR", "ok"]


@pytest.mark.parametrize(
    ("tenant_key", "provider", "behaviour", "code", "reason"),
    [
        (
            "openai",
            "openai",
            Behaviour.BAD_REQUEST,
            grpc.StatusCode.INVALID_ARGUMENT,
            "PROVIDER_REJECTED_REQUEST",
        ),
        (
            "anthropic",
            "anthropic",
            Behaviour.BAD_REQUEST,
            grpc.StatusCode.INVALID_ARGUMENT,
            "PROVIDER_REJECTED_REQUEST",
        ),
        (
            "openai",
            "openai",
            Behaviour.UNAUTHORIZED,
            grpc.StatusCode.FAILED_PRECONDITION,
            "TENANT_KEY_REJECTED",
        ),
        (
            "openai",
            "openai",
            Behaviour.FORBIDDEN,
            grpc.StatusCode.FAILED_PRECONDITION,
            "TENANT_KEY_REJECTED",
        ),
        (
            "anthropic",
            "anthropic",
            Behaviour.FORBIDDEN,
            grpc.StatusCode.FAILED_PRECONDITION,
            "TENANT_KEY_REJECTED",
        ),
        (
            "openai",
            "openai",
            Behaviour.NOT_FOUND,
            grpc.StatusCode.FAILED_PRECONDITION,
            "MODEL_UNAVAILABLE",
        ),
    ],
    indirect=["tenant_key"],
)
async def test_client_errors_are_never_retried(
    pki: Pki,
    keyvault: RunningKeyVault,
    standin: Standin,
    tenant: str,
    tenant_key: str,
    provider: str,
    behaviour: Behaviour,
    code: grpc.StatusCode,
    reason: str,
) -> None:
    standin.script(tenant_key, Script(behaviour=behaviour), Script())

    outcome = await generate(
        pki, keyvault.address, request_for(tenant, provider), **provider_env(standin)
    )

    assert outcome.code == code
    assert outcome.reason == reason
    assert provider in outcome.error.details()
    assert len(standin.requests) == 1


async def test_a_retry_after_longer_than_allowed_is_not_waited_for(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str, tenant_key: str
) -> None:
    standin.script(
        tenant_key, Script(behaviour=Behaviour.RATE_LIMITED, retry_after_s=5)
    )

    started = time.monotonic()
    outcome = await generate(
        pki, keyvault.address, request_for(tenant, "openai"), **provider_env(standin)
    )

    assert time.monotonic() - started < 2
    assert outcome.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert outcome.reason == "PROVIDER_RATE_LIMITED"
    assert retry_delay_s(outcome) == 5
    assert len(standin.requests) == 1


async def test_a_retry_that_would_outlast_the_deadline_is_not_started(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str, tenant_key: str
) -> None:
    standin.script(
        tenant_key, Script(behaviour=Behaviour.RATE_LIMITED, retry_after_s=1), Script()
    )

    started = time.monotonic()
    outcome = await generate(
        pki,
        keyvault.address,
        request_for(tenant, "openai"),
        deadline_s=1.1,
        **provider_env(standin),
    )

    assert time.monotonic() - started < 1.0
    assert outcome.reason == "PROVIDER_RATE_LIMITED"
    assert len(standin.requests) == 1


async def test_the_deadline_closes_the_provider_stream_and_starts_nothing_new(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str, tenant_key: str
) -> None:
    standin.script(tenant_key, Script(deltas=64, interval_s=0.05))
    # One variant at a time, so a next variant would start after the first.
    request = request_for(tenant, "openai", variants=3)
    env = {**provider_env(standin), "GENERATION_MAX_PARALLEL_VARIANTS": "1"}

    async with (
        generation_server(pki, keyvault.address, **env) as running,
        generation_stub(pki, running) as stub,
    ):
        started = time.monotonic()
        outcome = await call_generate(stub, request, deadline_s=1.0)
        record = standin.requests[0]
        assert await record.wait_ended(3)
        # Long enough for a wrongly started retry or variant to arrive.
        await asyncio.sleep(0.3)

        assert outcome.code == grpc.StatusCode.DEADLINE_EXCEEDED
        assert record.outcome == "client_closed"
        assert record.ended_at - started < 2.0
        assert len(standin.requests) == 1
        assert await standin.connections_settle(at_most=0) == 0


async def test_one_broken_variant_leaves_the_others_and_the_summary_says_so(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str, tenant_key: str
) -> None:
    standin.script(tenant_key, Script(behaviour=Behaviour.CUT, fail_after=3), Script())
    request = request_for(tenant, "openai", variants=3)

    outcome = await generate(pki, keyvault.address, request, **provider_env(standin))

    assert outcome.code == grpc.StatusCode.OK
    assert outcome.summary.variants_completed == 2
    assert outcome.summary.variants_failed == 1
    (failed,) = outcome.failed()
    assert failed.reason == "STREAM_INCOMPLETE"
    completed = {c.variant_index for c in outcome.completed()}
    assert completed | {failed.variant_index} == {0, 1, 2}
    assert failed.variant_index not in completed


async def test_every_event_is_tagged_with_its_variant_and_interleaves(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str, tenant_key: str
) -> None:
    standin.script(tenant_key, Script(deltas=6, interval_s=0.03))
    request = request_for(tenant, "openai", platforms=("x", "linkedin"), variants=2)

    outcome = await generate(pki, keyvault.address, request, **provider_env(standin))

    order = [e.text_delta.variant_index for e in outcome.of_kind("text_delta")]
    assert sorted(set(order)) == [0, 1, 2, 3]
    # Interleaved: some variant's text arrives between another's pieces.
    switches = sum(1 for a, b in itertools.pairwise(order) if a != b)
    assert switches > 3
    assert outcome.summary.variants_completed == 4


async def test_the_provider_model_and_key_are_named_on_each_variant(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str, tenant_key: str
) -> None:
    outcome = await generate(
        pki, keyvault.address, request_for(tenant, "openai"), **provider_env(standin)
    )

    (completed,) = outcome.completed()
    assert completed.provider == "openai"
    assert completed.model == "gpt-4o-mini"
    assert completed.key_source == generation_pb2.KEY_SOURCE_TENANT
    assert completed.key_fingerprint == tenant_key[-4:]
    assert completed.finish_reason == "stop"


async def test_a_prompt_past_the_local_context_fails_invalid_without_retry(
    pki: Pki, standin: Standin, tenant: str
) -> None:
    env = {
        **provider_env(standin, local=True),
        "LOCAL_MODEL_API_KEY": "k-local-ctx",
    }
    standin.script("k-local-ctx", Script(behaviour=Behaviour.CONTEXT_EXCEEDED))

    outcome = await generate(pki, "127.0.0.1:1", request_for(tenant, "local"), **env)

    assert outcome.code == grpc.StatusCode.INVALID_ARGUMENT
    assert outcome.reason == "PROVIDER_REJECTED_REQUEST"
    assert "context" in outcome.error.details()
    # One streamed call and its one-token check; no retry.
    assert [r.streamed for r in standin.requests] == [True, False]


async def test_a_non_ascii_key_fails_clearly_and_logs_no_traceback(
    pki: Pki,
    keyvault: RunningKeyVault,
    standin: Standin,
    tenant: str,
    captured_logs: CapturedLogs,
) -> None:
    secret = "sk-\u00fcber-" + sentinel_key("u")
    env = {**provider_env(standin), "OPENAI_API_KEY": secret}

    outcome = await generate(
        pki, keyvault.address, request_for(tenant, "openai"), **env
    )

    assert outcome.code == grpc.StatusCode.INTERNAL
    assert outcome.reason == "PLATFORM_KEY_REJECTED"
    assert "characters an HTTP header cannot carry" in outcome.error.details()
    assert "Traceback" not in captured_logs.text
    assert "UnicodeEncodeError" not in captured_logs.text
    assert not any(piece in captured_logs.text for piece in pieces_of(secret))
    assert standin.requests == []
