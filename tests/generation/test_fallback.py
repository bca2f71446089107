"""The provider chain: moving on only before text, only with allowed keys.

OpenAI-compatible providers and Anthropic are served by two stand-ins on
different ports here, so a key reaching the wrong host would show.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from byok.generation.v1 import generation_pb2

from keyvault_service.server import RunningKeyVault
from provider_standin import Behaviour, Script, Standin, running_standin
from tests.conftest import Pki
from tests.generation.conftest import request_for, save_key
from tests.support.generation import generate, generation_server, generation_stub
from tests.support.standin import platform_keys, provider_env, sentinel_key


@pytest.fixture(scope="module")
async def anthropic_host() -> AsyncIterator[Standin]:
    async with running_standin() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_anthropic_host(anthropic_host: Standin) -> None:
    anthropic_host.reset()


def chain_env(openai_host: Standin, anthropic_host: Standin, chain: str) -> dict:
    return {
        **provider_env(openai_host),
        "ANTHROPIC_BASE_URL": anthropic_host.base_url,
        "GENERATION_PROVIDER_CHAIN": chain,
    }


async def test_an_overloaded_provider_falls_back_to_the_next_with_its_own_key(
    pki: Pki,
    keyvault: RunningKeyVault,
    standin: Standin,
    anthropic_host: Standin,
    tenant: str,
) -> None:
    openai_key, anthropic_key = sentinel_key("oa"), sentinel_key("an")
    await save_key(pki, keyvault, tenant, "openai", openai_key)
    await save_key(pki, keyvault, tenant, "anthropic", anthropic_key)
    standin.script(openai_key, Script(behaviour=Behaviour.UNAVAILABLE))
    env = chain_env(standin, anthropic_host, "openai,anthropic")

    outcome = await generate(pki, keyvault.address, request_for(tenant, ""), **env)

    assert outcome.code == grpc.StatusCode.OK
    (completed,) = outcome.completed()
    assert completed.provider == "anthropic"
    assert completed.key_fingerprint == anthropic_key[-4:]
    assert [(a.provider, a.outcome) for a in outcome.summary.attempts] == [
        ("openai", "PROVIDER_OVERLOADED"),
        ("openai", "PROVIDER_OVERLOADED"),
        ("openai", "PROVIDER_OVERLOADED"),
        ("anthropic", "ok"),
    ]
    # Each key reached its own provider's host only.
    assert {r.api_key for r in standin.requests} == {openai_key}
    assert {r.api_key for r in anthropic_host.requests} == {anthropic_key}
    # The summary names the provider asked first.
    assert outcome.summary.provider == "openai"


async def test_a_fallback_step_without_an_allowed_key_is_skipped(
    pki: Pki,
    keyvault: RunningKeyVault,
    standin: Standin,
    anthropic_host: Standin,
    tenant: str,
) -> None:
    openai_key = sentinel_key("oa")
    await save_key(pki, keyvault, tenant, "openai", openai_key)
    standin.script(openai_key, Script(behaviour=Behaviour.SERVER_ERROR))
    env = {
        **chain_env(standin, anthropic_host, "openai,anthropic,deepseek"),
        # The tenant has a key of its own, so these are not for it.
        **platform_keys({"anthropic": sentinel_key("p"), "deepseek": "pk-ds"}),
    }

    outcome = await generate(pki, keyvault.address, request_for(tenant, ""), **env)

    assert outcome.code == grpc.StatusCode.UNAVAILABLE
    assert outcome.reason == "PROVIDER_ERROR"
    assert outcome.attempt_chain() == [
        ("openai", "PROVIDER_ERROR"),
        ("openai", "PROVIDER_ERROR"),
        ("openai", "PROVIDER_ERROR"),
        ("anthropic", "PLATFORM_KEY_NOT_ALLOWED"),
        ("deepseek", "PLATFORM_KEY_NOT_ALLOWED"),
    ]
    assert anthropic_host.requests == []
    assert {r.api_key for r in standin.requests} == {openai_key}


async def test_a_tenants_own_order_wins_over_the_services_chain(
    pki: Pki,
    keyvault: RunningKeyVault,
    database_url: str,
    standin: Standin,
    anthropic_host: Standin,
    tenant: str,
) -> None:
    await save_key(pki, keyvault, tenant, "openai", sentinel_key("oa"))
    anthropic_key = sentinel_key("an")
    await save_key(pki, keyvault, tenant, "anthropic", anthropic_key)
    env = {
        **chain_env(standin, anthropic_host, "openai,anthropic"),
        "GENERATION_DATABASE_URL": database_url,
    }
    policy = generation_pb2.TenantPolicy(
        tenant_id=tenant, provider_order=["anthropic", "openai"]
    )
    async with (
        generation_server(pki, keyvault.address, **env) as running,
        generation_stub(pki, running) as stub,
    ):
        await stub.SetTenantPolicy(generation_pb2.SetTenantPolicyRequest(policy=policy))

    outcome = await generate(pki, keyvault.address, request_for(tenant, ""), **env)

    assert outcome.summary.provider == "anthropic"
    assert [r.api_key for r in anthropic_host.requests] == [anthropic_key]
    assert standin.requests == []


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        (Behaviour.UNAUTHORIZED, "TENANT_KEY_REJECTED"),
        (Behaviour.BAD_REQUEST, "PROVIDER_REJECTED_REQUEST"),
    ],
)
async def test_no_fallback_after_a_rejected_key_or_request(
    pki: Pki,
    keyvault: RunningKeyVault,
    standin: Standin,
    anthropic_host: Standin,
    tenant: str,
    behaviour: Behaviour,
    reason: str,
) -> None:
    openai_key = sentinel_key("oa")
    await save_key(pki, keyvault, tenant, "openai", openai_key)
    await save_key(pki, keyvault, tenant, "anthropic", sentinel_key("an"))
    standin.script(openai_key, Script(behaviour=behaviour))
    env = chain_env(standin, anthropic_host, "openai,anthropic")

    outcome = await generate(pki, keyvault.address, request_for(tenant, ""), **env)

    assert outcome.reason == reason
    assert anthropic_host.requests == []


async def test_no_fallback_once_text_reached_the_caller(
    pki: Pki,
    keyvault: RunningKeyVault,
    standin: Standin,
    anthropic_host: Standin,
    tenant: str,
) -> None:
    openai_key = sentinel_key("oa")
    await save_key(pki, keyvault, tenant, "openai", openai_key)
    await save_key(pki, keyvault, tenant, "anthropic", sentinel_key("an"))
    standin.script(openai_key, Script(behaviour=Behaviour.CUT, fail_after=2))
    env = chain_env(standin, anthropic_host, "openai,anthropic")

    outcome = await generate(pki, keyvault.address, request_for(tenant, ""), **env)

    assert [f.reason for f in outcome.failed()] == ["STREAM_INCOMPLETE"]
    assert outcome.code == grpc.StatusCode.UNAVAILABLE
    assert anthropic_host.requests == []


async def test_a_pinned_provider_never_falls_back(
    pki: Pki,
    keyvault: RunningKeyVault,
    standin: Standin,
    anthropic_host: Standin,
    tenant: str,
) -> None:
    openai_key = sentinel_key("oa")
    await save_key(pki, keyvault, tenant, "openai", openai_key)
    await save_key(pki, keyvault, tenant, "anthropic", sentinel_key("an"))
    standin.script(openai_key, Script(behaviour=Behaviour.UNAVAILABLE))
    env = chain_env(standin, anthropic_host, "openai,anthropic")

    outcome = await generate(
        pki, keyvault.address, request_for(tenant, "openai"), **env
    )

    assert outcome.reason == "PROVIDER_OVERLOADED"
    assert anthropic_host.requests == []


async def test_a_model_per_content_type_is_used_for_each_step(
    pki: Pki,
    keyvault: RunningKeyVault,
    standin: Standin,
    anthropic_host: Standin,
    tenant: str,
) -> None:
    await save_key(pki, keyvault, tenant, "openai", sentinel_key("oa"))
    env = {
        **chain_env(standin, anthropic_host, "openai"),
        "OPENAI_MODEL_BLOG_POST": "gpt-4.1",
    }
    request = request_for(tenant, "")
    request.content_type = generation_pb2.CONTENT_TYPE_BLOG_POST

    outcome = await generate(pki, keyvault.address, request, **env)

    assert outcome.summary.model == "gpt-4.1"
    assert standin.requests[0].body["model"] == "gpt-4.1"
