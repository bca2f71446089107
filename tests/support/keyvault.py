"""A real KeyVault for tests, and clients that call it over mTLS.

::

    async with keyvault_server(pki, database_url) as running:
        async with keyvault_stub(pki, running, identity="generation") as stub:
            await stub.GetDecryptedKey(...)

``keyvault_server`` takes settings overrides as environment variable names,
for example ``KEK_PROVIDER="vault"`` or
``KEYVAULT_DECRYPT_ALLOWED_CLIENTS="generation,platform"``. By default it
listens on 127.0.0.1:0 with KeyVault's test certificate, allows only
``generation`` to decrypt and ``platform`` the operator calls, and keeps its
state in a temporary directory that is removed afterwards. Its local keyring
is one per database for the whole test run: KeyVault refuses to start on a
new keyring while the database holds keys wrapped by another.
``clock`` is handed to the server to drive the Vault token schedule.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import grpc
from byok.keyvault.v1 import keyvault_pb2_grpc

from keyvault_service.config import KeyVaultSettings
from keyvault_service.kek.vault_auth import Clock
from keyvault_service.server import RunningKeyVault, serve_keyvault
from shared.tls import channel_credentials

if TYPE_CHECKING:
    from tests.conftest import Pki


def keyvault_env(pki: Pki, state: Path, **overrides: str) -> dict[str, str]:
    """The environment a KeyVault process (or the rotation command) runs with."""
    files = pki.files("keyvault")
    return {
        "BYOK_STATE_DIR": str(state),
        "KEYVAULT_LISTEN": "127.0.0.1:0",
        "KEYVAULT_TLS_CA": str(files.ca),
        "KEYVAULT_TLS_CERT": str(files.cert),
        "KEYVAULT_TLS_KEY": str(files.key),
        "KEYVAULT_DECRYPT_ALLOWED_CLIENTS": "generation",
        "KEYVAULT_ADMIN_ALLOWED_CLIENTS": "platform",
        "KEK_PROVIDER": "local",
        "KEK_LOCAL_KEYRING": str(state / "keyring.json"),
        "KEYVAULT_SHUTDOWN_GRACE_S": "0.5",
        **overrides,
    }


def keyvault_settings(pki: Pki, state: Path, **overrides: str) -> KeyVaultSettings:
    return KeyVaultSettings.from_env(keyvault_env(pki, state, **overrides))


_KEYRINGS: dict[str, Path] = {}


def shared_keyring(database_url: str) -> Path:
    """The local keyring every server on ``database_url`` uses by default."""
    # By database name: a test may reach the same database through a proxy.
    database = urlsplit(database_url).path
    if database not in _KEYRINGS:
        folder = Path(tempfile.mkdtemp(prefix="byok-keyring-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _KEYRINGS[database] = folder / "keyring.json"
    return _KEYRINGS[database]


@asynccontextmanager
async def keyvault_server(
    pki: Pki, database_url: str, clock: Clock | None = None, **overrides: str
) -> AsyncIterator[RunningKeyVault]:
    """Run the real service until the block ends."""
    state = Path(tempfile.mkdtemp(prefix="byok-keyvault-"))
    try:
        keyring = {"KEK_LOCAL_KEYRING": str(shared_keyring(database_url))}
        settings = keyvault_settings(pki, state, **{**keyring, **overrides})
        async with serve_keyvault(settings, database_url, clock) as running:
            yield running
    finally:
        shutil.rmtree(state, ignore_errors=True)


@asynccontextmanager
async def keyvault_stub(
    pki: Pki, running: RunningKeyVault, identity: str = "platform"
) -> AsyncIterator[keyvault_pb2_grpc.KeyVaultServiceStub]:
    """A client stub presenting ``identity``'s certificate."""
    credentials = channel_credentials(pki.files(identity))
    async with grpc.aio.secure_channel(running.address, credentials) as channel:
        yield keyvault_pb2_grpc.KeyVaultServiceStub(channel)
