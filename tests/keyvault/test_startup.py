"""KeyVault refuses to serve when its keyring, Vault or database is wrong."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys

import pytest
from byok.keyvault.v1 import keyvault_pb2 as pb

from keyvault_service.errors import (
    KekMisconfigured,
    KekUnavailable,
    KeyringError,
    StorageUnavailable,
)
from keyvault_service.kek import keyring_file
from keyvault_service.server import run_forever, serve_keyvault
from shared.settings import SettingsError
from tests.keyvault.conftest import vault_overrides
from tests.support.keyvault import (
    keyvault_server,
    keyvault_settings,
    keyvault_stub,
)
from tests.support.ports import free_port, wait_for_port


def nothing_listens(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


async def test_a_keyring_others_can_read_stops_the_start(
    pki, fresh_database_url, tmp_path
):
    keyring = tmp_path / "keyring.json"
    async with keyvault_server(
        pki, fresh_database_url, KEK_LOCAL_KEYRING=str(keyring)
    ):
        pass
    keyring.chmod(0o644)
    port = free_port()

    with pytest.raises(KeyringError, match="mode 0644"):
        async with keyvault_server(
            pki, fresh_database_url,
            KEK_LOCAL_KEYRING=str(keyring), KEYVAULT_LISTEN=f"127.0.0.1:{port}",
        ):
            pass

    assert nothing_listens(port)


async def test_the_first_start_creates_a_private_keyring(
    pki, fresh_database_url, tmp_path
):
    keyring = tmp_path / "fresh" / "keyring.json"

    async with keyvault_server(
        pki, fresh_database_url, KEK_LOCAL_KEYRING=str(keyring)
    ):
        mode = keyring.stat().st_mode & 0o777

    assert mode == 0o600


async def save_one_key(pki, running) -> None:
    async with keyvault_stub(pki, running) as stub:
        await stub.SaveKey(pb.SaveKeyRequest(
            tenant_id="acme", provider="openai", api_key="sk-stored-before-0123"
        ))


async def test_a_mistyped_keyring_path_stops_the_start_when_keys_are_stored(
    pki, fresh_database_url, tmp_path
):
    keyring = tmp_path / "keyring.json"
    mistyped = tmp_path / "keyring.jsn"
    async with keyvault_server(
        pki, fresh_database_url, KEK_LOCAL_KEYRING=str(keyring)
    ) as running:
        await save_one_key(pki, running)
    port = free_port()

    with pytest.raises(KeyringError, match="does not exist") as raised:
        async with keyvault_server(
            pki, fresh_database_url,
            KEK_LOCAL_KEYRING=str(mistyped), KEYVAULT_LISTEN=f"127.0.0.1:{port}",
        ):
            pass

    assert str(mistyped) in str(raised.value)
    assert "KEK_LOCAL_KEYRING" in str(raised.value)
    assert not mistyped.exists()
    assert nothing_listens(port)


async def test_a_keyring_lacking_the_stored_keys_version_stops_the_start(
    pki, fresh_database_url, tmp_path
):
    keyring = tmp_path / "keyring.json"
    overrides = {"KEK_LOCAL_KEYRING": str(keyring)}
    async with keyvault_server(pki, fresh_database_url, **overrides):
        pass
    before_rotation = keyring.read_bytes()
    async with keyvault_server(pki, fresh_database_url, **overrides) as running:
        async with keyvault_stub(pki, running) as admin:
            await admin.RotateKek(pb.RotateKekRequest())
        await save_one_key(pki, running)
    keyring.write_bytes(before_rotation)

    with pytest.raises(KeyringError, match="version 2"):
        async with keyvault_server(pki, fresh_database_url, **overrides):
            pass


async def test_a_keyring_of_another_name_stops_the_start_when_keys_are_stored(
    pki, fresh_database_url, tmp_path
):
    async with keyvault_server(
        pki, fresh_database_url, KEK_LOCAL_KEYRING=str(tmp_path / "keyring.json")
    ) as running:
        await save_one_key(pki, running)
    other = tmp_path / "other.json"
    keyring_file.load_or_create(other, name="someone-elses-kek")

    with pytest.raises(KeyringError, match="byok-local-kek"):
        async with keyvault_server(
            pki, fresh_database_url, KEK_LOCAL_KEYRING=str(other)
        ):
            pass


async def test_a_refused_start_leaves_a_new_database_without_schema(
    pki, fresh_database_url, db_of, tmp_path
):
    keyring = tmp_path / "keyring.json"
    keyring_file.load_or_create(keyring)
    keyring.chmod(0o644)

    with pytest.raises(KeyringError):
        async with keyvault_server(
            pki, fresh_database_url, KEK_LOCAL_KEYRING=str(keyring)
        ):
            pass

    connection = await db_of(fresh_database_url)
    tables = await connection.fetch(
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_schema = 'public'"
    )
    assert tables == []


async def test_a_refused_vault_start_leaves_a_new_database_without_schema(
    pki, fresh_database_url, db_of, vault
):
    overrides = vault_overrides(vault, VAULT_ADDR=f"http://127.0.0.1:{free_port()}")

    with pytest.raises(KekUnavailable):
        async with keyvault_server(pki, fresh_database_url, **overrides):
            pass

    connection = await db_of(fresh_database_url)
    assert await connection.fetchval("SELECT to_regclass('schema_migrations')") is None


async def test_a_transit_key_that_is_not_derived_stops_the_start(
    pki, database_url, vault
):
    name = f"plain-{secrets.token_hex(4)}"
    vault.api("POST", f"transit/keys/{name}", {"derived": False})

    with pytest.raises(KekMisconfigured, match="not derived"):
        async with keyvault_server(
            pki, database_url, **vault_overrides(vault, VAULT_TRANSIT_KEY=name)
        ):
            pass


async def test_a_missing_transit_key_stops_the_start_unless_creation_is_allowed(
    pki, database_url, vault
):
    name = f"absent-{secrets.token_hex(4)}"
    refusing = vault_overrides(
        vault, VAULT_TRANSIT_KEY=name, VAULT_TRANSIT_CREATE_KEY="false"
    )

    with pytest.raises(KekMisconfigured, match="does not exist"):
        async with keyvault_server(pki, database_url, **refusing):
            pass
    assert vault.api("GET", f"transit/keys/{name}").status_code == 404


async def test_an_unreachable_vault_stops_the_start(pki, database_url, vault):
    overrides = vault_overrides(vault, VAULT_ADDR=f"http://127.0.0.1:{free_port()}")

    with pytest.raises(KekUnavailable):
        async with keyvault_server(pki, database_url, **overrides):
            pass


async def test_an_unreachable_database_stops_the_start(pki):
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"

    with pytest.raises(StorageUnavailable):
        async with keyvault_server(pki, url):
            pass


async def test_missing_tls_files_stop_the_start(pki, database_url, tmp_path):
    with pytest.raises(SettingsError, match="TLS file"):
        async with keyvault_server(
            pki, database_url, KEYVAULT_TLS_CERT=str(tmp_path / "absent.pem")
        ):
            pass


async def test_run_forever_serves_until_sigterm(pki, fresh_database_url, tmp_path):
    port = free_port()
    settings = keyvault_settings(pki, tmp_path, KEYVAULT_LISTEN=f"127.0.0.1:{port}")
    serving = asyncio.create_task(run_forever(settings, fresh_database_url))

    await asyncio.to_thread(wait_for_port, port, 30)
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(serving, timeout=10)

    assert nothing_listens(port)
    assert signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None)


async def test_the_running_address_is_loopback_with_the_bound_port(
    pki, fresh_database_url, tmp_path
):
    settings = keyvault_settings(pki, tmp_path, KEYVAULT_LISTEN="127.0.0.1:0")

    async with serve_keyvault(settings, fresh_database_url) as running:
        assert running.address == f"127.0.0.1:{running.port}"
        assert running.port > 0


def test_the_module_entry_point_requires_a_database_url(tmp_path):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "BYOK_STATE_DIR": str(tmp_path),
        "LOG_FORMAT": "json",
    }

    finished = subprocess.run(
        [sys.executable, "-m", "keyvault_service"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )

    assert finished.returncode == 2
    assert "DATABASE_URL is required" in finished.stderr
