"""A real Generation service for tests, and a client that calls it over mTLS.

::

    async with generation_server(pki, keyvault.address, **provider_env(s)) as running:
        async with generation_stub(pki, running) as stub:
            async for event in stub.GenerateContent(request): ...

Settings overrides are environment variable names. By default every
platform key is empty, whatever the test process's environment holds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import grpc
from byok.generation.v1 import generation_pb2_grpc

from generation_service.config import PROVIDER_DEFAULTS, GenerationSettings
from generation_service.server import RunningGeneration, serve_generation
from shared.tls import channel_credentials

if TYPE_CHECKING:
    from tests.conftest import Pki


def generation_settings(
    pki: Pki, keyvault_address: str, **overrides: str
) -> GenerationSettings:
    files = pki.files("generation")
    env = {
        "GENERATION_LISTEN": "127.0.0.1:0",
        "GENERATION_TLS_CA": str(files.ca),
        "GENERATION_TLS_CERT": str(files.cert),
        "GENERATION_TLS_KEY": str(files.key),
        "KEYVAULT_ADDRESS": keyvault_address,
        "GENERATION_MAX_RETRY_WAIT_S": "1",
        **{f"{prefix}_API_KEY": "" for prefix, _, _ in PROVIDER_DEFAULTS.values()},
        **overrides,
    }
    return GenerationSettings.from_env(env)


@asynccontextmanager
async def generation_server(
    pki: Pki, keyvault_address: str, **overrides: str
) -> AsyncIterator[RunningGeneration]:
    settings = generation_settings(pki, keyvault_address, **overrides)
    async with serve_generation(settings) as running:
        yield running


@asynccontextmanager
async def generation_stub(
    pki: Pki, running: RunningGeneration, identity: str = "platform"
) -> AsyncIterator[generation_pb2_grpc.GenerationServiceStub]:
    credentials = channel_credentials(pki.files(identity))
    async with grpc.aio.secure_channel(running.address, credentials) as channel:
        yield generation_pb2_grpc.GenerationServiceStub(channel)
