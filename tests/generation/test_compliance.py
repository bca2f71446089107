"""Brand compliance in the stream: the brief, early stops and repairs."""

from __future__ import annotations

import grpc
import pytest
from byok.generation.v1 import brand_pb2, generation_pb2

from keyvault_service.server import RunningKeyVault
from provider_standin import DEFAULT_TEXT, Behaviour, Script, Standin
from tests.conftest import Pki
from tests.generation.conftest import request_for, save_key
from tests.support.generation import generate
from tests.support.standin import provider_env, sentinel_key

GUIDE = brand_pb2.BrandGuide(
    name="Trailhead",
    banned_terms=[
        brand_pb2.BannedTerm(term="revolutionary", hint="say what is new instead")
    ],
)
BLOCKED_TEXT = (
    "Our revolutionary jacket is light enough for a morning run and warm "
    "enough for the summit, built from recycled nylon for any weather."
)
STRICT = brand_pb2.ADHERENCE_LEVEL_STRICT
MODERATE = brand_pb2.ADHERENCE_LEVEL_MODERATE


def strict_request(
    tenant: str, provider: str = "openai"
) -> generation_pb2.GenerateContentRequest:
    request = request_for(tenant, provider)
    request.adherence = STRICT
    request.brand_guide.CopyFrom(GUIDE)
    return request


@pytest.fixture
async def tenant_key(pki: Pki, keyvault: RunningKeyVault, tenant: str) -> str:
    key = sentinel_key("a")
    await save_key(pki, keyvault, tenant, "openai", key)
    return key


async def test_chat_models_are_briefed_with_the_brand_guide(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str, tenant_key: str
) -> None:
    request = strict_request(tenant)
    request.keywords.append("recycled nylon")
    request.tone = "plainspoken"

    await generate(pki, keyvault.address, request, **provider_env(standin))

    system, user = standin.requests[0].body["messages"]
    assert system["role"] == "system"
    assert 'Never write "revolutionary" (say what is new instead).' in system["content"]
    assert '"recycled nylon"' in system["content"]
    assert "plainspoken" in system["content"]
    assert "LinkedIn" in system["content"]
    assert user["content"] == request.prompt


async def test_a_strict_variant_is_stopped_at_once_and_repaired_by_a_rewrite(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str, tenant_key: str
) -> None:
    standin.script(
        tenant_key,
        Script(text=BLOCKED_TEXT, deltas=64, interval_s=0.02),
        Script(text=DEFAULT_TEXT),
    )

    outcome = await generate(
        pki, keyvault.address, strict_request(tenant), **provider_env(standin)
    )

    first, rewrite = standin.requests
    # Stopped a few pieces after the banned word, not read to its end.
    assert first.outcome == "client_closed"
    assert first.chunks_sent < 20
    # The rewrite got the exact problem and the draft as it stood.
    system, user = rewrite.body["messages"]
    assert 'Remove the word "revolutionary"' in system["content"]
    assert "stopped part-way" in system["content"]
    assert user["content"].startswith("Our revolutionary jacket")
    assert rewrite.body["stream"] is True

    (completed,) = outcome.completed()
    assert completed.text == DEFAULT_TEXT
    assert completed.compliance.compliant
    assert completed.compliance.repaired
    assert completed.compliance.repair_attempts == 1
    assert [a.outcome for a in outcome.summary.attempts] == ["BRAND_STOPPED", "rewrite"]
    # The variant's usage covers both calls: the rewrite's 8 reported tokens
    # and an estimate for what the stopped call had sent.
    assert completed.usage.output_tokens > 8
    assert completed.usage.estimated


async def test_a_strict_variant_that_cannot_be_repaired_fails_as_brand_blocked(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str, tenant_key: str
) -> None:
    standin.script(tenant_key, Script(text=BLOCKED_TEXT, deltas=32, interval_s=0.01))

    outcome = await generate(
        pki, keyvault.address, strict_request(tenant), **provider_env(standin)
    )

    assert outcome.completed() == []
    (failed,) = outcome.failed()
    assert failed.reason == "BRAND_BLOCKED"
    assert outcome.code == grpc.StatusCode.FAILED_PRECONDITION
    assert outcome.reason == "BRAND_BLOCKED"
    # The stopped call and two rewrites, every one recorded.
    assert outcome.attempt_chain() == [
        ("openai", "BRAND_STOPPED"),
        ("openai", "rewrite"),
        ("openai", "rewrite"),
    ]


async def test_a_whole_blocked_variant_is_repaired_and_replaces_the_streamed_text(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str, tenant_key: str
) -> None:
    standin.script(tenant_key, Script(text=BLOCKED_TEXT), Script(text=DEFAULT_TEXT))
    request = strict_request(tenant)
    request.adherence = MODERATE

    outcome = await generate(pki, keyvault.address, request, **provider_env(standin))

    streamed = "".join(e.text_delta.text for e in outcome.of_kind("text_delta"))
    assert streamed == BLOCKED_TEXT
    (completed,) = outcome.completed()
    assert completed.text == DEFAULT_TEXT
    assert completed.compliance.repaired
    system, _ = standin.requests[1].body["messages"]
    assert "stopped part-way" not in system["content"]


async def test_a_failed_rewrite_keeps_the_whole_variant_with_its_report(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str, tenant_key: str
) -> None:
    standin.script(
        tenant_key,
        Script(text=BLOCKED_TEXT),
        Script(behaviour=Behaviour.SERVER_ERROR),
    )
    request = strict_request(tenant)
    request.adherence = MODERATE

    outcome = await generate(pki, keyvault.address, request, **provider_env(standin))

    (completed,) = outcome.completed()
    assert completed.text == BLOCKED_TEXT
    assert not completed.compliance.compliant
    assert [v.rule_id for v in completed.compliance.violations] == [
        "banned.revolutionary"
    ]
    assert outcome.attempt_chain() == [("openai", "ok"), ("openai", "PROVIDER_ERROR")]


async def test_the_local_base_model_gets_a_frame_ending_where_the_copy_begins(
    pki: Pki, standin: Standin, tenant: str
) -> None:
    request = strict_request(tenant, provider="local")
    request.keywords.append("recycled nylon")
    request.length = generation_pb2.CONTENT_LENGTH_SHORT

    await generate(pki, "127.0.0.1:9", request, **provider_env(standin, local=True))

    body = standin.requests[0].body
    prompt = body["prompt"]
    assert prompt.endswith(
        "Brand: Trailhead\nPlatform: linkedin\nInclude: recycled nylon\n"
        f"Brief: {request.prompt}\nCopy:"
    )
    # Finished examples come first, each ending before the next brand.
    assert prompt.count("\nCopy: ") == 3
    assert "\n\n" in body["stop"]
    assert "\nBrand:" in body["stop"]
    assert "<start_of_image>" in body["stop"]
    assert body["max_tokens"] == 120
