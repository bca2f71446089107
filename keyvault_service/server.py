"""Starting and stopping KeyVault.

:func:`serve_keyvault` brings the service up in a fixed order and refuses to
serve when any step fails: schema migrations, the PostgreSQL pool, the KEK
check, then the mTLS gRPC server (with health and reflection), and only then
the SERVING health status. On exit it reports NOT_SERVING, gives in-flight
RPCs a short grace, and closes the KEK client and the pool.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import grpc
import structlog
from byok.keyvault.v1 import keyvault_pb2_grpc
from grpc_health.v1 import health as grpc_health

from keyvault_service.config import KeyVaultSettings
from keyvault_service.kek import open_kek_provider
from keyvault_service.keys import KeyService
from keyvault_service.migrate import apply_migrations
from keyvault_service.servicer import SERVICE_NAME, KeyVaultServicer
from keyvault_service.storage import KeyStore
from shared.rpc import build_server, mark_serving
from shared.tls import server_credentials

_log = structlog.get_logger("byok.keyvault")
_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "[::]", "::", "localhost"})  # noqa: S104


@dataclass(frozen=True)
class RunningKeyVault:
    port: int
    address: str  # "127.0.0.1:<port>" when listening on loopback or everywhere


@asynccontextmanager
async def serve_keyvault(
    settings: KeyVaultSettings, database_url: str
) -> AsyncIterator[RunningKeyVault]:
    """Serve KeyVault until the block ends."""
    applied = await apply_migrations(database_url, timeout_s=settings.db_timeout_s)
    if applied:
        _log.info("schema migrated", applied=applied)

    async with (
        KeyStore.open(
            database_url, settings.db_pool_max, settings.db_timeout_s
        ) as store,
        open_kek_provider(settings) as kek,
    ):
        keys = KeyService(store, kek)
        servicer = KeyVaultServicer(keys, settings.decrypt_allowed_clients)
        server, port, health = build_server(
            [SERVICE_NAME],
            server_credentials(settings.tls),
            settings.listen,
            lambda srv: keyvault_pb2_grpc.add_KeyVaultServiceServicer_to_server(
                servicer, srv
            ),
        )
        await server.start()
        try:
            await mark_serving(health, [SERVICE_NAME])
            address = _address(settings.listen, port)
            running = RunningKeyVault(port=port, address=address)
            _log.info(
                "keyvault serving",
                address=running.address,
                kek_provider=kek.name,
                kek_key=kek.key_name,
            )
            yield running
        finally:
            # Shielded: a second cancellation must not leave the port bound.
            await asyncio.shield(_stop(server, health, settings.shutdown_grace_s))


async def run_forever(settings: KeyVaultSettings, database_url: str) -> None:
    """Serve until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with serve_keyvault(settings, database_url):
            await stop.wait()
            _log.info("keyvault stopping")
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


async def _stop(
    server: grpc.aio.Server, health: grpc_health.aio.HealthServicer, grace_s: float
) -> None:
    await health.enter_graceful_shutdown()
    await server.stop(grace_s)


def _address(listen: str, port: int) -> str:
    host, _, _ = listen.rpartition(":")
    if host in _WILDCARD_HOSTS:
        host = "127.0.0.1"
    return f"{host}:{port}"
