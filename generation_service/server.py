"""The Generation gRPC server and its lifecycle.

:func:`serve_generation` opens the mTLS channel to KeyVault (the service's
own certificate is its client identity there), the provider connection
pools and the server; on exit it stops the server first, so no RPC is left
holding a closed channel, then closes the pools and the channel.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import grpc
import structlog
from byok.generation.v1 import generation_pb2, generation_pb2_grpc
from byok.keyvault.v1 import keyvault_pb2_grpc

from generation_service.config import GenerationSettings
from generation_service.keys import KeyResolver
from generation_service.providers import Adapters
from generation_service.servicer import GenerationServicer
from shared.rpc import build_server, mark_serving
from shared.tls import channel_credentials, server_credentials

SERVICE_NAME = generation_pb2.DESCRIPTOR.services_by_name["GenerationService"].full_name
STOP_GRACE_S = 5.0

_log = structlog.get_logger("byok.generation")


@dataclass
class RunningGeneration:
    port: int
    address: str


@asynccontextmanager
async def serve_generation(
    settings: GenerationSettings,
) -> AsyncIterator[RunningGeneration]:
    channel = grpc.aio.secure_channel(
        settings.keyvault_address, channel_credentials(settings.tls)
    )
    adapters = Adapters(settings)
    try:
        keys = KeyResolver(
            keyvault_pb2_grpc.KeyVaultServiceStub(channel),
            settings.providers,
            settings.keyvault_timeout_s,
        )
        servicer = GenerationServicer(settings, keys, adapters)
        server, port, health = build_server(
            [SERVICE_NAME],
            server_credentials(settings.tls),
            settings.listen,
            lambda s: generation_pb2_grpc.add_GenerationServiceServicer_to_server(
                servicer, s
            ),
        )
        await server.start()
        try:
            await mark_serving(health, [SERVICE_NAME])
            host = settings.listen.rsplit(":", 1)[0]
            yield RunningGeneration(port=port, address=f"{host}:{port}")
        finally:
            await server.stop(STOP_GRACE_S)
    finally:
        await adapters.aclose()
        await channel.close()


async def run_forever(settings: GenerationSettings) -> None:
    """Serve until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with serve_generation(settings) as running:
            _log.info(
                "serving",
                address=running.address,
                keyvault=settings.keyvault_address,
                providers=sorted(settings.providers),
                default_provider=settings.default_provider,
            )
            await stop.wait()
            _log.info("stopping")
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
