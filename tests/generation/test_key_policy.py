"""Whose key pays: the tenant's policy, provenance, and rejected keys."""

from __future__ import annotations

import grpc
import pytest
from byok.generation.v1 import generation_pb2
from byok.keyvault.v1 import keyvault_pb2

from keyvault_service.server import RunningKeyVault
from provider_standin import Behaviour, Script, Standin
from shared.rpc import error_info
from tests.conftest import Pki
from tests.generation.conftest import CapturedLogs, request_for, save_key
from tests.support.generation import (
    call_generate,
    generate,
    generation_server,
    generation_stub,
)
from tests.support.keyvault import keyvault_stub
from tests.support.standin import pieces_of, platform_keys, provider_env, sentinel_key

TENANT = generation_pb2.KEY_SOURCE_TENANT
PLATFORM = generation_pb2.KEY_SOURCE_PLATFORM
ALLOWED = generation_pb2.PLATFORM_KEY_FALLBACK_ALLOWED
DENIED = generation_pb2.PLATFORM_KEY_FALLBACK_DENIED


async def set_policy(
    pki: Pki,
    keyvault: RunningKeyVault,
    database_url: str,
    policy: generation_pb2.TenantPolicy,
) -> generation_pb2.TenantPolicy:
    async with (
        generation_server(
            pki, keyvault.address, GENERATION_DATABASE_URL=database_url
        ) as running,
        generation_stub(pki, running) as stub,
    ):
        response = await stub.SetTenantPolicy(
            generation_pb2.SetTenantPolicyRequest(policy=policy), timeout=10
        )
    return response.policy


async def test_a_tenant_with_keys_of_its_own_gets_no_platform_key_by_default(
    pki: Pki,
    keyvault: RunningKeyVault,
    database_url: str,
    standin: Standin,
    tenant: str,
) -> None:
    await save_key(pki, keyvault, tenant, "openai", sentinel_key("own"))
    env = {
        **provider_env(standin),
        **platform_keys({"anthropic": sentinel_key("platform")}),
        "GENERATION_DATABASE_URL": database_url,
    }

    outcome = await generate(
        pki, keyvault.address, request_for(tenant, "anthropic"), **env
    )

    assert outcome.code == grpc.StatusCode.FAILED_PRECONDITION
    assert outcome.reason == "PLATFORM_KEY_NOT_ALLOWED"
    assert "anthropic" in outcome.error.details()
    assert "openai" in outcome.error.details()
    assert standin.requests == []


async def test_a_tenant_policy_can_allow_the_platform_key(
    pki: Pki,
    keyvault: RunningKeyVault,
    database_url: str,
    standin: Standin,
    tenant: str,
) -> None:
    await save_key(pki, keyvault, tenant, "openai", sentinel_key("own"))
    platform_key = sentinel_key("platform")
    await set_policy(
        pki,
        keyvault,
        database_url,
        generation_pb2.TenantPolicy(tenant_id=tenant, platform_key_fallback=ALLOWED),
    )
    env = {
        **provider_env(standin),
        **platform_keys({"anthropic": platform_key}),
        "GENERATION_DATABASE_URL": database_url,
    }

    outcome = await generate(
        pki, keyvault.address, request_for(tenant, "anthropic"), **env
    )

    assert outcome.summary.key_source == PLATFORM
    assert outcome.summary.key_fingerprint == ""
    assert [r.api_key for r in standin.requests] == [platform_key]


async def test_a_tenant_policy_can_deny_the_platform_key_to_a_tenant_without_keys(
    pki: Pki,
    keyvault: RunningKeyVault,
    database_url: str,
    standin: Standin,
    tenant: str,
) -> None:
    await set_policy(
        pki,
        keyvault,
        database_url,
        generation_pb2.TenantPolicy(tenant_id=tenant, platform_key_fallback=DENIED),
    )
    env = {
        **provider_env(standin),
        **platform_keys({"openai": sentinel_key("platform")}),
        "GENERATION_DATABASE_URL": database_url,
    }

    outcome = await generate(
        pki, keyvault.address, request_for(tenant, "openai"), **env
    )

    assert outcome.reason == "PLATFORM_KEY_NOT_ALLOWED"
    assert standin.requests == []


async def test_the_service_default_can_deny_the_platform_key_without_a_database(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str
) -> None:
    env = {
        **provider_env(standin),
        **platform_keys({"openai": sentinel_key("platform")}),
        "GENERATION_PLATFORM_KEY_FALLBACK": "denied",
    }

    outcome = await generate(
        pki, keyvault.address, request_for(tenant, "openai"), **env
    )

    assert outcome.reason == "PLATFORM_KEY_NOT_ALLOWED"
    assert standin.requests == []


@pytest.mark.parametrize("behaviour", [Behaviour.UNAUTHORIZED, Behaviour.FORBIDDEN])
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_a_rejected_tenant_key_is_never_replaced_by_the_platform_key(
    pki: Pki,
    keyvault: RunningKeyVault,
    database_url: str,
    standin: Standin,
    captured_logs: CapturedLogs,
    tenant: str,
    provider: str,
    behaviour: Behaviour,
) -> None:
    tenant_key = sentinel_key("tenant")
    platform_key = sentinel_key("platform")
    await save_key(pki, keyvault, tenant, provider, tenant_key)
    standin.script(tenant_key, Script(behaviour=behaviour))
    # Even a tenant that allows the platform key does not get it here.
    await set_policy(
        pki,
        keyvault,
        database_url,
        generation_pb2.TenantPolicy(tenant_id=tenant, platform_key_fallback=ALLOWED),
    )
    env = {
        **provider_env(standin),
        **platform_keys({provider: platform_key}),
        "GENERATION_DATABASE_URL": database_url,
    }

    outcome = await generate(
        pki, keyvault.address, request_for(tenant, provider, variants=2), **env
    )

    assert outcome.code == grpc.StatusCode.FAILED_PRECONDITION
    assert outcome.reason == "TENANT_KEY_REJECTED"
    assert provider in outcome.error.details()
    assert {r.api_key for r in standin.requests} == {tenant_key}
    rejected = [
        line
        for line in captured_logs.text.splitlines()
        if "tenant key rejected by provider" in line
    ]
    assert len(rejected) == 1
    assert tenant_key[-4:] in rejected[0]
    assert not pieces_of(tenant_key) & pieces_of(captured_logs.text)

    # KeyVault was told, so the key is not sent again, nor replaced.
    async with keyvault_stub(pki, keyvault) as stub:
        listed = await stub.ListProviders(
            keyvault_pb2.ListProvidersRequest(tenant_id=tenant)
        )
    assert [k.status for k in listed.keys] == [
        keyvault_pb2.KEY_STATUS_REJECTED_BY_PROVIDER
    ]
    standin.reset()
    again = await generate(pki, keyvault.address, request_for(tenant, provider), **env)
    assert again.code == grpc.StatusCode.FAILED_PRECONDITION
    assert again.reason == "TENANT_KEY_UNUSABLE"
    assert "rejected by provider" in again.error.details()
    assert standin.requests == []


async def test_the_trailers_carry_key_source_fingerprint_and_attempts(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str
) -> None:
    tenant_key = sentinel_key("tenant")
    await save_key(pki, keyvault, tenant, "openai", tenant_key)
    standin.script(tenant_key, Script(behaviour=Behaviour.SERVER_ERROR), Script())

    outcome = await generate(
        pki, keyvault.address, request_for(tenant, "openai"), **provider_env(standin)
    )

    fingerprint = tenant_key[-4:]
    assert outcome.trailers["byok-key-source"] == "tenant"
    assert outcome.trailers["byok-key-fingerprint"] == fingerprint
    assert outcome.trailers["byok-provider"] == "openai"
    assert outcome.trailers["byok-request-id"] == outcome.summary.request_id
    assert outcome.trailers["byok-attempts"] == (
        f"0:openai:tenant:{fingerprint}:PROVIDER_ERROR,0:openai:tenant:{fingerprint}:ok"
    )
    assert [
        (a.variant_index, a.key_fingerprint, a.outcome)
        for a in outcome.summary.attempts
    ] == [(0, fingerprint, "PROVIDER_ERROR"), (0, fingerprint, "ok")]


async def test_a_failed_request_still_carries_its_provenance(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str
) -> None:
    tenant_key = sentinel_key("tenant")
    await save_key(pki, keyvault, tenant, "anthropic", tenant_key)
    standin.script(tenant_key, Script(behaviour=Behaviour.UNAVAILABLE))

    outcome = await generate(
        pki,
        keyvault.address,
        request_for(tenant, "anthropic"),
        **provider_env(standin),
    )

    assert outcome.reason == "PROVIDER_OVERLOADED"
    assert outcome.trailers["byok-key-source"] == "tenant"
    assert outcome.trailers["byok-attempts"].count("PROVIDER_OVERLOADED") == 3
    info = error_info(outcome.error)
    assert info.metadata["key-fingerprint"] == tenant_key[-4:]
    assert info.metadata["provider"] == "anthropic"


async def test_tenant_policies_round_trip_and_need_an_admin_caller(
    pki: Pki, keyvault: RunningKeyVault, database_url: str, tenant: str
) -> None:
    policy = generation_pb2.TenantPolicy(
        tenant_id=tenant,
        platform_key_fallback=DENIED,
        provider_order=["anthropic", "openai"],
        limits=generation_pb2.TenantLimits(
            requests_per_minute=30,
            spend_limit_usd=12.5,
            spend_period=generation_pb2.SPEND_PERIOD_DAY,
        ),
    )
    async with generation_server(
        pki, keyvault.address, GENERATION_DATABASE_URL=database_url
    ) as running:
        async with generation_stub(pki, running) as admin:
            await admin.SetTenantPolicy(
                generation_pb2.SetTenantPolicyRequest(policy=policy)
            )
            stored = await admin.GetTenantPolicy(
                generation_pb2.GetTenantPolicyRequest(tenant_id=tenant)
            )
            other = await admin.GetTenantPolicy(
                generation_pb2.GetTenantPolicyRequest(tenant_id=f"{tenant}-other")
            )
        async with generation_stub(pki, running, identity="intruder") as intruder:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await intruder.SetTenantPolicy(
                    generation_pb2.SetTenantPolicyRequest(policy=policy)
                )

    assert stored.policy == policy
    assert not stored.policy.limits.HasField("tokens_per_minute")
    assert other.policy == generation_pb2.TenantPolicy(
        tenant_id=f"{tenant}-other", limits=generation_pb2.TenantLimits()
    )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize(
    ("policy", "fragment"),
    [
        (generation_pb2.TenantPolicy(tenant_id="bad tenant"), "tenant_id"),
        (
            generation_pb2.TenantPolicy(tenant_id="t1", provider_order=["mystery"]),
            "unknown providers",
        ),
        (
            generation_pb2.TenantPolicy(
                tenant_id="t1", provider_order=["openai", "openai"]
            ),
            "once",
        ),
        (
            generation_pb2.TenantPolicy(
                tenant_id="t1",
                limits=generation_pb2.TenantLimits(requests_per_minute=-1),
            ),
            "negative",
        ),
        (
            generation_pb2.TenantPolicy(
                tenant_id="t1",
                limits=generation_pb2.TenantLimits(spend_limit_usd=float("inf")),
            ),
            "spend_limit_usd",
        ),
    ],
)
async def test_an_invalid_policy_is_refused(
    pki: Pki,
    keyvault: RunningKeyVault,
    database_url: str,
    policy: generation_pb2.TenantPolicy,
    fragment: str,
) -> None:
    async with (
        generation_server(
            pki, keyvault.address, GENERATION_DATABASE_URL=database_url
        ) as running,
        generation_stub(pki, running) as admin,
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await admin.SetTenantPolicy(
                generation_pb2.SetTenantPolicyRequest(policy=policy)
            )

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fragment in refused.value.details()


async def test_without_a_database_policies_cannot_be_set_and_say_why(
    pki: Pki, keyvault: RunningKeyVault, tenant: str, captured_logs: CapturedLogs
) -> None:
    async with (
        generation_server(pki, keyvault.address) as running,
        generation_stub(pki, running) as admin,
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await admin.SetTenantPolicy(
                generation_pb2.SetTenantPolicyRequest(
                    policy=generation_pb2.TenantPolicy(tenant_id=tenant)
                )
            )

    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(refused.value).reason == "STORE_DISABLED"
    assert "GENERATION_DATABASE_URL" in captured_logs.text


async def test_keys_go_only_to_their_own_providers_host(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str
) -> None:
    keys = {name: sentinel_key(name) for name in ("openai", "anthropic", "qwen")}
    for name, key in keys.items():
        await save_key(pki, keyvault, tenant, name, key)

    async with (
        generation_server(pki, keyvault.address, **provider_env(standin)) as running,
        generation_stub(pki, running) as stub,
    ):
        for name in keys:
            outcome = await call_generate(stub, request_for(tenant, name))
            assert outcome.code == grpc.StatusCode.OK

    paths = {r.api_key: r.path for r in standin.requests}
    assert paths == {
        keys["openai"]: "/v1/chat/completions",
        keys["anthropic"]: "/v1/messages",
        keys["qwen"]: "/v1/chat/completions",
    }


async def test_the_platform_key_serves_only_its_allowed_models(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str
) -> None:
    env = {
        **provider_env(standin),
        **platform_keys({"openai": sentinel_key("platform")}),
        "OPENAI_PLATFORM_MODELS": "gpt-4o-mini,gpt-4.1-mini",
    }
    request = request_for(tenant, "openai")
    request.model = "o1-pro"

    async with (
        generation_server(pki, keyvault.address, **env) as running,
        generation_stub(pki, running) as stub,
    ):
        refused = await call_generate(stub, request)
        request.model = "gpt-4.1-mini"
        allowed = await call_generate(stub, request)

    assert refused.code == grpc.StatusCode.FAILED_PRECONDITION
    assert refused.reason == "PLATFORM_KEY_NOT_ALLOWED"
    assert "o1-pro" in refused.error.details()
    assert allowed.summary.model == "gpt-4.1-mini"
    assert [r.body["model"] for r in standin.requests] == ["gpt-4.1-mini"]


async def test_a_tenant_key_may_name_any_model(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str
) -> None:
    await save_key(pki, keyvault, tenant, "openai", sentinel_key("own"))
    request = request_for(tenant, "openai")
    request.model = "o1-pro"

    outcome = await generate(pki, keyvault.address, request, **provider_env(standin))

    assert outcome.summary.model == "o1-pro"
    assert outcome.summary.key_source == TENANT


async def test_a_fallback_step_on_a_disallowed_platform_model_is_skipped(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str
) -> None:
    anthropic_key = sentinel_key("platform-a")
    standin.script(anthropic_key, Script(behaviour=Behaviour.UNAVAILABLE))
    env = {
        **provider_env(standin),
        **platform_keys(
            {"anthropic": anthropic_key, "openai": sentinel_key("platform-o")}
        ),
        "GENERATION_PROVIDER_CHAIN": "anthropic,openai",
        "OPENAI_MODEL": "gpt-4o",
        "OPENAI_PLATFORM_MODELS": "gpt-4o-mini",
    }

    outcome = await generate(pki, keyvault.address, request_for(tenant, ""), **env)

    assert outcome.reason == "PROVIDER_OVERLOADED"
    assert {r.path for r in standin.requests} == {"/v1/messages"}
    assert ("openai", "PLATFORM_KEY_NOT_ALLOWED") in outcome.attempt_chain()


@pytest.mark.parametrize("identity", ["keyvault", "generation", "intruder"])
async def test_only_allow_listed_callers_may_generate_content(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str, identity: str
) -> None:
    key = sentinel_key("caller")
    await save_key(pki, keyvault, tenant, "openai", key)
    # Invalid as well: the caller is refused before the request is read.
    request = request_for(tenant, "openai", prompt="")
    async with (
        generation_server(pki, keyvault.address, **provider_env(standin)) as running,
        generation_stub(pki, running, identity=identity) as stranger,
    ):
        outcome = await call_generate(stranger, request)

    assert outcome.code == grpc.StatusCode.PERMISSION_DENIED
    assert outcome.reason == "CALLER_NOT_ALLOWED"
    assert outcome.events == []
    assert standin.requests == []
    async with keyvault_stub(pki, keyvault) as admin:
        listed = await admin.ListProviders(
            keyvault_pb2.ListProvidersRequest(tenant_id=tenant)
        )
    assert not listed.keys[0].HasField("last_use_time")


async def test_the_generate_allow_list_is_configurable(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str
) -> None:
    await save_key(pki, keyvault, tenant, "openai", sentinel_key("batch"))
    env = {**provider_env(standin), "GENERATION_CALLER_ALLOWED_CLIENTS": "intruder"}
    async with generation_server(pki, keyvault.address, **env) as running:
        async with generation_stub(pki, running, identity="intruder") as listed:
            allowed = await call_generate(listed, request_for(tenant, "openai"))
        async with generation_stub(pki, running) as platform:
            refused = await call_generate(platform, request_for(tenant, "openai"))

    assert allowed.code == grpc.StatusCode.OK
    assert refused.reason == "CALLER_NOT_ALLOWED"


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        (
            generation_pb2.TenantPolicy(platform_key_fallback=7),  # type: ignore[arg-type]
            "policy.platform_key_fallback",
        ),
        (
            generation_pb2.TenantPolicy(
                limits=generation_pb2.TenantLimits(spend_period=9)  # type: ignore[arg-type]
            ),
            "policy.limits.spend_period",
        ),
    ],
)
async def test_a_policy_with_an_unknown_enum_value_is_refused_naming_the_field(
    pki: Pki,
    keyvault: RunningKeyVault,
    database_url: str,
    tenant: str,
    policy: generation_pb2.TenantPolicy,
    field: str,
) -> None:
    policy.tenant_id = tenant
    async with (
        generation_server(
            pki, keyvault.address, GENERATION_DATABASE_URL=database_url
        ) as running,
        generation_stub(pki, running) as admin,
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await admin.SetTenantPolicy(
                generation_pb2.SetTenantPolicyRequest(policy=policy)
            )
        stored = await admin.GetTenantPolicy(
            generation_pb2.GetTenantPolicyRequest(tenant_id=tenant)
        )

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field.rsplit(".", 1)[-1] in refused.value.details()
    info = error_info(refused.value)
    assert info is not None
    assert info.metadata["field"] == field
    assert stored.policy == generation_pb2.TenantPolicy(
        tenant_id=tenant, limits=generation_pb2.TenantLimits()
    )
