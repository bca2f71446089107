"""Starting and stopping KeyVault.

:func:`serve_keyvault` brings the service up in a fixed order and refuses to
serve when any step fails: the KEK check (with the Vault login, or the local
keyring against the keys stored), schema migrations, the PostgreSQL pool,
the cache invalidation listener, then the mTLS
gRPC server (with health and reflection), and only then the SERVING health
status. On exit it reports NOT_SERVING, gives in-flight RPCs a short grace,
stops the shred sweeper and the listener, and closes the KEK client and the
pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import grpc
import structlog
from byok.keyvault.v1 import keyvault_pb2_grpc
from grpc_health.v1 import health as grpc_health

from keyvault_service.cache import DataKeyCache
from keyvault_service.config import KeyVaultSettings
from keyvault_service.invalidation import InvalidationListener
from keyvault_service.kek import KekSet, open_keks
from keyvault_service.kek.vault_auth import Clock
from keyvault_service.keys import KeyService
from keyvault_service.migrate import apply_migrations
from keyvault_service.rotation import Rotation
from keyvault_service.servicer import SERVICE_NAME, KeyVaultServicer
from keyvault_service.shredding import TenantShredder
from keyvault_service.storage import KeyStore
from shared.rpc import build_server, mark_serving
from shared.tls import server_credentials

_log = structlog.get_logger("byok.keyvault")
_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "[::]", "::", "localhost"})  # noqa: S104


@dataclass(frozen=True)
class RunningKeyVault:
    port: int
    address: str  # "127.0.0.1:<port>" when listening on loopback or everywhere
    # The replica's own state, for health checks and tests.
    cache: DataKeyCache | None = None
    keks: KekSet | None = None


@asynccontextmanager
async def serve_keyvault(
    settings: KeyVaultSettings, database_url: str, clock: Clock | None = None
) -> AsyncIterator[RunningKeyVault]:
    """Serve KeyVault until the block ends.

    ``clock`` drives the Vault token schedule; tests inject one.
    """
    # The KEK first: a start it refuses leaves the database untouched.
    async with open_keks(settings, database_url, clock) as keks:
        applied = await apply_migrations(
            database_url, timeout_s=settings.db_timeout_s
        )
        if applied:
            _log.info("schema migrated", applied=applied)
        async with _serving(settings, database_url, keks) as running:
            yield running


@asynccontextmanager
async def _serving(
    settings: KeyVaultSettings, database_url: str, keks: KekSet
) -> AsyncIterator[RunningKeyVault]:
    async with (
        KeyStore.open(
            database_url, settings.db_pool_max, settings.db_timeout_s
        ) as store,
        _listening(settings, database_url, keks) as (cache, listener),
    ):
        await store.register_kek(keks.provider, keks.default.key_name)
        keys = KeyService(store, keks, cache, listener.apply)
        shredder = TenantShredder(
            store, keks, settings.shred_grace_s, listener.apply
        )
        servicer = KeyVaultServicer(
            keys,
            store,
            Rotation(store, keks, settings.rewrap_batch_size, listener.apply),
            shredder,
            settings.decrypt_allowed_clients,
            settings.admin_allowed_clients,
            dt.timedelta(days=settings.expiry_window_days),
        )
        sweeper = asyncio.create_task(
            shredder.run_sweeper(settings.shred_sweep_s), name="keyvault-shredder"
        )
        server, port, health = build_server(
            [SERVICE_NAME],
            server_credentials(settings.tls),
            settings.listen,
            lambda srv: keyvault_pb2_grpc.add_KeyVaultServiceServicer_to_server(
                servicer, srv
            ),
            max_concurrent_rpcs=settings.max_concurrent_rpcs,
        )
        await server.start()
        try:
            await mark_serving(health, [SERVICE_NAME])
            address = _address(settings.listen, port)
            running = RunningKeyVault(port, address, cache, keks)
            _log.info(
                "keyvault serving",
                address=running.address,
                kek_provider=keks.provider,
                kek_key=keks.default.key_name,
                tenant_keks=keks.per_tenant,
            )
            yield running
        finally:
            # Shielded: a second cancellation must not leave the port bound.
            await asyncio.shield(_stop(server, health, settings.shutdown_grace_s))
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper


@asynccontextmanager
async def _listening(
    settings: KeyVaultSettings, database_url: str, keks: KekSet
) -> AsyncIterator[tuple[DataKeyCache, InvalidationListener]]:
    cache = DataKeyCache(
        settings.dk_cache_max_age_s,
        settings.dk_cache_max_uses,
        settings.dk_cache_max_entries,
    )
    listener = InvalidationListener(database_url, cache, keks, settings.db_timeout_s)
    await listener.start()
    try:
        yield cache, listener
    finally:
        await listener.aclose()


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
