"""The Generation gRPC server and its lifecycle.

:func:`serve_generation` opens the mTLS channel to KeyVault (the service's
own certificate is its client identity there), the provider connection
pools and the server; on exit it stops the server first, so no RPC is left
holding a closed channel, then closes the pools and the channel.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import grpc
import structlog
from byok.generation.v1 import generation_pb2, generation_pb2_grpc
from byok.keyvault.v1 import keyvault_pb2_grpc

from generation_service.admin import Admin
from generation_service.config import GenerationSettings
from generation_service.generate import Generator
from generation_service.keys import KeyResolver
from generation_service.limits import Clock, Limiter, utc_now
from generation_service.policies import PolicySource
from generation_service.pricing import PriceTable
from generation_service.providers import Adapters
from generation_service.servicer import GenerationServicer
from generation_service.store.database import Database
from generation_service.store.ledger import Ledger
from generation_service.store.policies import Policies
from shared.rpc import build_server, mark_serving
from shared.tls import channel_credentials, server_credentials

SERVICE_NAME = generation_pb2.DESCRIPTOR.services_by_name["GenerationService"].full_name
STOP_GRACE_S = 5.0
# Past the longest request, so a running request's reservation never
# expires under it.
RESERVATION_MARGIN_S = 60.0
# The brand engine's CPU work runs on worker threads. At Python's default
# 5 ms, every time gRPC hands the GIL back the event loop waits up to that
# long to get it again, and a health check took over a second behind one
# large guide; at 1 ms it stays near a tenth of that.
GIL_SWITCH_INTERVAL_S = 0.001

_log = structlog.get_logger("byok.generation")


@dataclass
class RunningGeneration:
    port: int
    address: str
    adapters: Adapters
    database: Database | None


@asynccontextmanager
async def serve_generation(
    settings: GenerationSettings, clock: Clock = utc_now
) -> AsyncIterator[RunningGeneration]:
    """Serve until the block ends; ``clock`` is the time limits are kept in."""
    prices = PriceTable.load(settings.price_table)
    async with AsyncExitStack() as stack:
        stack.callback(sys.setswitchinterval, sys.getswitchinterval())
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        database = await _open_database(stack, settings)
        channel = grpc.aio.secure_channel(
            settings.keyvault_address, channel_credentials(settings.tls)
        )
        stack.push_async_callback(channel.close)
        adapters = Adapters(settings)
        stack.push_async_callback(adapters.aclose)
        keys = KeyResolver(
            keyvault_pb2_grpc.KeyVaultServiceStub(channel),
            settings.providers,
            settings.keyvault_timeout_s,
        )
        stack.push_async_callback(keys.aclose)

        ledger = Ledger(database) if database else None
        policies = PolicySource(settings, Policies(database) if database else None)
        limiter = Limiter(
            ledger, settings.request_timeout_s + RESERVATION_MARGIN_S, clock
        )
        servicer = GenerationServicer(
            Generator(settings, keys, adapters, policies, limiter, prices),
            Admin(settings.admin_clients, policies, ledger, clock),
            settings.caller_clients,
        )
        server, port, health = build_server(
            [SERVICE_NAME],
            server_credentials(settings.tls),
            settings.listen,
            lambda s: generation_pb2_grpc.add_GenerationServiceServicer_to_server(
                servicer, s
            ),
            max_concurrent_rpcs=settings.max_concurrent_rpcs,
        )
        await server.start()
        try:
            await mark_serving(health, [SERVICE_NAME])
            host = settings.listen.rsplit(":", 1)[0]
            yield RunningGeneration(port, f"{host}:{port}", adapters, database)
        finally:
            await server.stop(STOP_GRACE_S)


async def _open_database(
    stack: AsyncExitStack, settings: GenerationSettings
) -> Database | None:
    url = settings.database_url.reveal()
    if not url:
        _log.warning(
            "no GENERATION_DATABASE_URL: usage records, budgets, rate limits "
            "and tenant policies are off; every tenant gets the defaults"
        )
        return None
    return await stack.enter_async_context(
        Database.open(url, settings.database_pool_size)
    )


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
                provider_chain=list(settings.provider_chain),
                usage_database=running.database is not None,
            )
            await stop.wait()
            _log.info("stopping")
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
