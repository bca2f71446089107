"""End to end against the real local model: llama.cpp's OpenAI-compatible server.

This is the platform's default provider on a machine with nothing configured.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from byok.generation.v1 import brand_pb2, generation_pb2
from byok.keyvault.v1 import keyvault_pb2

from shared.devstack.demo import demo_brand_guide
from shared.devstack.local_model import (
    LocalModelServer,
    model_path,
    running_local_model,
)
from tests.support.generation import generation_server, generation_stub
from tests.support.keyvault import keyvault_server, keyvault_stub
from tests.support.ports import free_port


@pytest.fixture(scope="session")
async def local_model(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[LocalModelServer]:
    state = tmp_path_factory.mktemp("local-model")
    async with running_local_model(state, free_port(), threads=2) as server:
        yield server


def request_for(
    tenant: str, provider: str = ""
) -> generation_pb2.GenerateContentRequest:
    return generation_pb2.GenerateContentRequest(
        tenant_id=tenant,
        prompt="Announce our autumn menu: pumpkin bread and a maple latte.",
        content_type=generation_pb2.CONTENT_TYPE_SOCIAL_POST,
        platforms=["x", "linkedin"],
        tone="warm",
        keywords=["autumn"],
        target_audience="regulars of a neighbourhood cafe",
        variant_count=1,
        adherence=brand_pb2.ADHERENCE_LEVEL_LOOSE,
        provider=provider,
        brand_guide=demo_brand_guide(),
    )


def test_the_model_file_is_assembled_once_and_verified(tmp_path: Path) -> None:
    first = model_path(tmp_path)
    modified = first.stat().st_mtime_ns

    second = model_path(tmp_path)

    assert second == first
    assert second.stat().st_mtime_ns == modified
    assert first.stat().st_size > 100_000_000


async def test_a_tenant_without_a_key_streams_variants_from_the_platform_model(
    pki, database_url: str, local_model: LocalModelServer
) -> None:
    async with (
        keyvault_server(pki, database_url) as keyvault,
        generation_server(
            pki, keyvault.address, LOCAL_MODEL_BASE_URL=local_model.base_url
        ) as generation,
        generation_stub(pki, generation) as stub,
    ):
        events = [
            event
            async for event in stub.GenerateContent(request_for("cafe-1"), timeout=240)
        ]

    kinds = [event.WhichOneof("event") for event in events]
    completed = [e.variant_completed for e in events if e.HasField("variant_completed")]
    streamed: dict[int, str] = {}
    for event in events:
        if event.HasField("text_delta"):
            delta = event.text_delta
            streamed[delta.variant_index] = (
                streamed.get(delta.variant_index, "") + delta.text
            )
    summary = events[-1].summary
    assert kinds[-1] == "summary"
    assert kinds.count("variant_started") == 2
    assert sorted(variant.platform for variant in completed) == ["linkedin", "x"]
    assert all(variant.text.strip() for variant in completed)
    # LOOSE repairs nothing, so each variant is exactly what streamed.
    assert {v.variant_index: v.text.strip() for v in completed} == {
        index: text.strip() for index, text in streamed.items()
    }
    assert summary.provider == "local"
    assert summary.key_source == generation_pb2.KEY_SOURCE_PLATFORM
    assert summary.variants_completed == 2
    assert all(v.usage.output_tokens > 0 for v in completed)


async def test_a_tenant_key_reaches_the_local_server_as_its_openai_key(
    pki, database_url: str, local_model: LocalModelServer
) -> None:
    tenant_key = "sk-tenant-local-0123456789abcd"
    async with (
        keyvault_server(pki, database_url) as keyvault,
        keyvault_stub(pki, keyvault) as keys,
        generation_server(
            pki,
            keyvault.address,
            OPENAI_BASE_URL=local_model.base_url,
            OPENAI_MODEL=local_model.model,
        ) as generation,
        generation_stub(pki, generation) as stub,
    ):
        await keys.SaveKey(
            keyvault_pb2.SaveKeyRequest(
                tenant_id="cafe-2", provider="openai", api_key=tenant_key
            )
        )
        events = [
            event
            async for event in stub.GenerateContent(
                request_for("cafe-2", provider="openai"), timeout=240
            )
        ]

    summary = events[-1].summary
    assert summary.provider == "openai"
    assert summary.key_source == generation_pb2.KEY_SOURCE_TENANT
    assert summary.key_fingerprint == "abcd"
    assert summary.variants_completed == 2


async def test_a_port_already_in_use_is_refused_instead_of_adopting_its_server(
    tmp_path: Path,
) -> None:
    import socket

    from shared.devstack.local_model import LocalModelUnavailable

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]

        with pytest.raises(LocalModelUnavailable, match=f"port {port} is in use"):
            async with running_local_model(tmp_path, port):
                pass
