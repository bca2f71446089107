"""Every free-text and repeated field of a request is bounded, and checked
before any key is looked up; a request at the bounds never stalls others."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from byok.generation.v1 import brand_pb2, generation_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from generation_service.config import GenerationSettings
from generation_service.errors import InvalidRequest
from generation_service.validation import validate
from keyvault_service.server import RunningKeyVault
from provider_standin import Script, Standin
from shared.rpc import error_info
from shared.tls import channel_credentials
from tests.conftest import Pki
from tests.generation.conftest import request_for
from tests.support.generation import call_generate, generation_server, generation_stub
from tests.support.standin import platform_keys, provider_env, sentinel_key

SETTINGS = GenerationSettings.from_env({})


def refusal(request: generation_pb2.GenerateContentRequest) -> str:
    return str(refused(request))


def refused(request: generation_pb2.GenerateContentRequest) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as raised:
        validate(request, SETTINGS)
    return raised.value


def with_guide(**fields: object) -> generation_pb2.GenerateContentRequest:
    request = request_for("tenant-1", "openai")
    guide = brand_pb2.BrandGuide(**fields)  # type: ignore[arg-type]
    request.brand_guide.CopyFrom(guide)
    return request


def largest_allowed_guide() -> brand_pb2.BrandGuide:
    """A guide at the brand engine's term budget, every term at full length."""
    guide = brand_pb2.BrandGuide(name="N" * 200, version="v" * 100)
    guide.voice.descriptors.extend(f"voice {i:02d} " + "w" * 180 for i in range(25))
    for i in range(25):
        pair = guide.voice.pairs.add(is_not=f"not {i} " + "y" * 190)
        setattr(pair, "is", f"is {i} " + "x" * 190)
    for i in range(1000):
        words = " ".join(f"b{i}w{j}" for j in range(14))
        guide.banned_terms.add(term=words[:100], hint="h" * 300)
    for i in range(500):
        words = " ".join(f"p{i}w{j}" for j in range(14))
        guide.preferred_terms.add(use=words[:100], instead_of=[f"q{i} " + "z" * 95])
    for i in range(200):
        guide.rule_overrides.add(rule_id=f"banned.rule-{i}", disabled=True)
    return guide


def test_a_request_at_every_bound_is_accepted() -> None:
    request = request_for(
        "tenant-1",
        "openai",
        platforms=tuple(["x", "linkedin", "facebook", "instagram", "threads"]),
        variants=4,
        prompt="p" * 8000,
        tone="t" * 500,
        target_audience="a" * 500,
        keywords=[f"keyword {i:02d} " + "k" * 88 for i in range(50)],
    )
    request.brand_guide.CopyFrom(largest_allowed_guide())

    valid = validate(request, SETTINGS)

    assert valid.variant_count == 4


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"keywords": [f"k{i}" for i in range(51)]}, "keywords"),
        ({"keywords": ["k" * 101]}, "keywords[0]"),
        ({"keywords": ["ok", ""]}, "keywords[1]"),
        ({"keywords": ["  "]}, "keywords[0]"),
        ({"keywords": ["a\u0000b"]}, "keywords[0]"),
        ({"keywords": ["a\u202eb"]}, "keywords[0]"),
        ({"tone": "t" * 501}, "tone"),
        ({"target_audience": "a" * 501}, "target_audience"),
    ],
)
def test_oversized_or_empty_request_fields_are_refused_by_name(
    fields: dict[str, object], field: str
) -> None:
    request = request_for("tenant-1", "openai", **fields)

    error = refused(request)

    assert str(error).startswith(f"{field} ")
    assert error.field == field


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "n" * 201}, "brand_guide.name"),
        ({"version": "v" * 101}, "brand_guide.version"),
        (
            {"voice": brand_pb2.Voice(descriptors=["d"] * 51)},
            "brand_guide.voice",
        ),
        (
            {"voice": brand_pb2.Voice(descriptors=["d" * 201])},
            "brand_guide.voice.descriptors[0]",
        ),
        (
            {"voice": brand_pb2.Voice(pairs=[brand_pb2.VoicePair(is_not="n" * 201)])},
            "brand_guide.voice.pairs[0].is_not",
        ),
        (
            {"banned_terms": [brand_pb2.BannedTerm(term="t", hint="h" * 301)]},
            "brand_guide.banned_terms[0].hint",
        ),
        (
            {
                "rule_overrides": [
                    brand_pb2.RuleOverride(rule_id=f"emoji.r{i}", disabled=True)
                    for i in range(201)
                ]
            },
            "brand_guide.rule_overrides",
        ),
        (
            {"rule_overrides": [brand_pb2.RuleOverride(rule_id="emoji." + "r" * 100)]},
            "brand_guide.rule_overrides[0].rule_id",
        ),
        (
            {"platform_overrides": [brand_pb2.PlatformOverride(platform="p" * 5000)]},
            "brand_guide.platform_overrides[0].platform",
        ),
    ],
)
def test_brand_guide_fields_the_brand_engine_leaves_open_are_bounded(
    fields: dict[str, object], field: str
) -> None:
    error = refused(with_guide(**fields))

    assert str(error).startswith(f"{field} ")
    assert error.field == field
    assert len(str(error)) < 300


def test_an_unknown_platform_is_echoed_short_with_the_valid_ids() -> None:
    request = request_for("tenant-1", "openai", platforms=("m" * 100_000,))

    message = refusal(request)

    assert len(message) < 600
    assert "mmmm" in message
    assert "m" * 100 not in message
    assert "linkedin" in message
    assert "google_ads" in message


def test_platforms_and_variants_per_request_are_capped() -> None:
    settings = GenerationSettings.from_env(
        {
            "GENERATION_MAX_PLATFORMS_PER_REQUEST": "3",
            "GENERATION_MAX_VARIANTS_PER_REQUEST": "6",
        }
    )
    four = request_for("t", "openai", platforms=("x", "linkedin", "sms", "email"))
    eight = request_for("t", "openai", platforms=("x", "linkedin"), variants=4)
    six = request_for("t", "openai", platforms=("x", "linkedin"), variants=3)

    with pytest.raises(InvalidRequest, match="at most 3 platforms"):
        validate(four, settings)
    with pytest.raises(InvalidRequest, match="at most 6 variants"):
        validate(eight, settings)
    assert validate(six, settings).variant_count == 3


async def test_a_request_at_every_bound_does_not_stall_a_health_check(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str
) -> None:
    request = request_for(
        tenant,
        "openai",
        platforms=("x", "linkedin", "facebook", "instagram", "threads"),
        variants=4,
        prompt="Announce the jacket. " * 380,
        tone="t" * 500,
        target_audience="a" * 500,
        keywords=[f"keyword {i:02d} " + "k" * 88 for i in range(50)],
    )
    # TODO(repair off the loop): at STRICT every variant here blocks and its
    # repair re-checks on the event loop; measured up to 0.45 s of delay.
    request.brand_guide.CopyFrom(largest_allowed_guide())
    env = {**provider_env(standin), **platform_keys({"openai": sentinel_key("p")})}
    delays: list[float] = []

    async with (
        generation_server(pki, keyvault.address, **env) as running,
        generation_stub(pki, running) as stub,
    ):
        credentials = channel_credentials(pki.files("platform"))
        async with grpc.aio.secure_channel(running.address, credentials) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            await health.Check(health_pb2.HealthCheckRequest())
            generation = asyncio.create_task(call_generate(stub, request, 60))
            while not generation.done():
                started = time.monotonic()
                await health.Check(health_pb2.HealthCheckRequest(), timeout=10)
                delays.append(time.monotonic() - started)
                await asyncio.sleep(0.02)
            outcome = await generation

    assert outcome.error is None, outcome.error
    assert len(outcome.completed()) == 20
    assert len(delays) > 5
    # The test's own loop runs the client too, and compiling the guide on a
    # worker thread still contends for the GIL: measured 0.1 to 0.45 s at
    # worst here, against over a second with the check on the loop.
    # TODO(GIL-free guide compilation): the aim is 0.1 s.
    assert max(delays) < 0.6, sorted(delays)[-5:]


async def test_rpcs_past_the_concurrency_limit_fail_at_once(
    pki: Pki, keyvault: RunningKeyVault, standin: Standin, tenant: str
) -> None:
    key = sentinel_key("p")
    standin.script(key, Script(deltas=40, interval_s=0.05))
    env = {
        **provider_env(standin),
        **platform_keys({"openai": key}),
        "GENERATION_MAX_CONCURRENT_RPCS": "1",
    }

    async with (
        generation_server(pki, keyvault.address, **env) as running,
        generation_stub(pki, running) as stub,
    ):
        first = stub.GenerateContent(request_for(tenant, "openai"), timeout=20)
        await first.read()
        started = time.monotonic()
        second = await call_generate(stub, request_for(tenant, "openai"))
        refused_in = time.monotonic() - started
        first.cancel()

    assert second.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert refused_in < 1.0


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"tenant_id": "no spaces"}, "tenant_id"),
        ({"platforms": []}, "platforms"),
        ({"variant_count": 99}, "variant_count"),
        ({"model": "../etc"}, "model"),
        ({"content_type": 99}, "content_type"),
    ],
)
async def test_an_invalid_request_names_its_field_in_the_error_details(
    pki: Pki, keyvault: RunningKeyVault, fields: dict[str, object], field: str
) -> None:
    request = request_for("tenant-1", "openai")
    for name, value in fields.items():
        request.ClearField(name)
        if isinstance(value, list):
            getattr(request, name).extend(value)
        else:
            setattr(request, name, value)
    async with (
        generation_server(pki, keyvault.address) as running,
        generation_stub(pki, running) as stub,
    ):
        outcome = await call_generate(stub, request)

    assert outcome.code == grpc.StatusCode.INVALID_ARGUMENT
    info = error_info(outcome.error) if outcome.error else None
    assert info is not None
    assert info.reason == "INVALID_REQUEST"
    assert info.metadata["field"] == field
    assert "byok-attempts" not in outcome.trailers
