"""The servers of one harness run, each started on first use in its own process.

Every service runs through its real entry point (``python -m
keyvault_service``, ``python -m generation_service``, ``python -m
provider_standin``) with settings in its environment, on a free loopback
port, with development certificates made for the run. Each KeyVault gets a
scratch database of its own. :meth:`Stack.close` stops everything and drops
the databases.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import grpc
from byok.keyvault.v1 import keyvault_pb2, keyvault_pb2_grpc

from bench import litellm, vault
from bench.database import Databases
from bench.processes import ServiceProcess, free_port, port_open
from bench.targets import Tls
from shared.devcerts import create_dev_pki

START_TIMEOUT_S = 60.0
SEED_PARALLEL = 32
# The provider the Generation requests name, and so the key KeyVault holds.
PROVIDER = "openai"
PROVIDER_PREFIXES = ("OPENAI", "ANTHROPIC", "GOOGLE", "DEEPSEEK", "QWEN", "META_LLAMA")


class Stack:
    def __init__(
        self,
        work_dir: Path,
        deltas: int,
        interval_ms: float,
        litellm_venv: Path | None,
    ) -> None:
        self.work_dir = work_dir
        self.log_dir = work_dir / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._pki_dir = work_dir / "pki"
        create_dev_pki(self._pki_dir)
        self._deltas = deltas
        self._interval_ms = interval_ms
        self._litellm_venv = litellm_venv
        self._databases = Databases(work_dir)
        self._processes: dict[str, ServiceProcess] = {}
        self._addresses: dict[str, str] = {}
        self._bao: vault.Bao | None = None
        self._litellm: litellm.LiteLlm | None = None
        self.litellm_problem = "" if litellm_venv else "disabled by --no-litellm"

    # -- identities ----------------------------------------------------------

    def tls(self, identity: str) -> Tls:
        return Tls(
            ca=str(self._pki_dir / "ca.pem"),
            cert=str(self._pki_dir / f"{identity}.pem"),
            key=str(self._pki_dir / f"{identity}-key.pem"),
        )

    def pids(self) -> dict[str, int]:
        return {name: p.pid for name, p in self._processes.items() if p.alive()}

    # -- servers -------------------------------------------------------------

    def echo(self) -> str:
        if "echo" not in self._addresses:
            tls = self.tls("keyvault")
            port = free_port()
            self._start(
                "echo",
                [
                    sys.executable,
                    "-m",
                    "bench.echo",
                    "--listen",
                    f"127.0.0.1:{port}",
                    "--ca",
                    tls.ca,
                    "--cert",
                    tls.cert,
                    "--key",
                    tls.key,
                ],
                {},
                port,
            )
        return self._addresses["echo"]

    def keyvault(self, kek: str) -> str:
        """KeyVault with the ``local`` keyring or the ``vault`` transit KEK."""
        name = f"keyvault-{kek}"
        if name not in self._addresses:
            tls = self.tls("keyvault")
            state = self.work_dir / name
            state.mkdir(exist_ok=True)
            port = free_port()
            env = {
                "BYOK_STATE_DIR": str(state),
                "DATABASE_URL": self._databases.create(),
                "KEYVAULT_LISTEN": f"127.0.0.1:{port}",
                "KEYVAULT_TLS_CA": tls.ca,
                "KEYVAULT_TLS_CERT": tls.cert,
                "KEYVAULT_TLS_KEY": tls.key,
                "KEYVAULT_DECRYPT_ALLOWED_CLIENTS": "generation",
                "KEK_PROVIDER": kek,
                "KEK_LOCAL_KEYRING": str(state / "keyring.json"),
                "KEYVAULT_SHUTDOWN_GRACE_S": "0.5",
            }
            if kek == "vault":
                bao = self._openbao()
                env |= {
                    "VAULT_ADDR": bao.address,
                    "VAULT_TOKEN": bao.token,
                    "VAULT_TRANSIT_CREATE_KEY": "true",
                }
            self._start(name, [sys.executable, "-m", "keyvault_service"], env, port)
        return self._addresses[name]

    def standin(self) -> str:
        """The stand-in's root URL; the openai SDK's base URL adds ``/v1``."""
        if "standin" not in self._addresses:
            port = free_port()
            self._start(
                "standin",
                [
                    sys.executable,
                    "-m",
                    "provider_standin",
                    "--port",
                    str(port),
                    "--deltas",
                    str(self._deltas),
                    "--interval-ms",
                    str(self._interval_ms),
                ],
                {},
                port,
            )
            self._addresses["standin"] = f"http://127.0.0.1:{port}"
        return self._addresses["standin"]

    def generation(self) -> str:
        if "generation" not in self._addresses:
            keyvault = self.keyvault("local")
            standin = self.standin()
            tls = self.tls("generation")
            port = free_port()
            env = {
                "BYOK_STATE_DIR": str(self.work_dir / "generation"),
                "GENERATION_LISTEN": f"127.0.0.1:{port}",
                "GENERATION_TLS_CA": tls.ca,
                "GENERATION_TLS_CERT": tls.cert,
                "GENERATION_TLS_KEY": tls.key,
                "KEYVAULT_ADDRESS": keyvault,
                "GENERATION_DEFAULT_PROVIDER": PROVIDER,
                **{f"{prefix}_API_KEY": "" for prefix in PROVIDER_PREFIXES},
                **{f"{p}_BASE_URL": f"{standin}/v1" for p in PROVIDER_PREFIXES},
                "ANTHROPIC_BASE_URL": standin,
            }
            self._start(
                name="generation",
                argv=[sys.executable, "-m", "generation_service"],
                env=env,
                port=port,
            )
        return self._addresses["generation"]

    def litellm(self) -> litellm.LiteLlm | None:
        """The LiteLLM proxy, or None (with :attr:`litellm_problem` saying why)."""
        if self._litellm is not None or self.litellm_problem:
            return self._litellm
        assert self._litellm_venv is not None
        try:
            executable = litellm.ensure_installed(self._litellm_venv, self.log_dir)
            self._litellm = litellm.start_litellm(
                executable, f"{self.standin()}/v1", self.work_dir, self.log_dir
            )
        except (OSError, RuntimeError, TimeoutError) as error:
            self.litellm_problem = f"LiteLLM unavailable: {error}"
            return None
        except Exception as error:  # a failed pip install raises CalledProcessError
            self.litellm_problem = f"LiteLLM unavailable: {type(error).__name__}"
            return None
        self._processes["litellm"] = self._litellm.process
        return self._litellm

    def _openbao(self) -> vault.Bao:
        if self._bao is None:
            self._bao = vault.start_bao(self.work_dir, self.log_dir)
            self._processes["openbao"] = self._bao.process
        return self._bao

    def _start(
        self, name: str, argv: Sequence[str], env: Mapping[str, str], port: int
    ) -> None:
        process = ServiceProcess(name, argv, _python_env(env), self.log_dir)
        self._processes[name] = process
        process.wait_until(lambda: port_open(port), START_TIMEOUT_S)
        self._addresses[name] = f"127.0.0.1:{port}"

    # -- data ----------------------------------------------------------------

    def seed_keys(self, address: str, tenants: Sequence[str]) -> str:
        """Save one provider key per tenant; returns the key (the same for all)."""
        api_key = f"bench-{secrets.token_hex(16)}"
        tls = self.tls("platform")
        credentials = grpc.ssl_channel_credentials(
            Path(tls.ca).read_bytes(),
            Path(tls.key).read_bytes(),
            Path(tls.cert).read_bytes(),
        )
        asyncio.run(_save_keys(address, credentials, tenants, api_key))
        return api_key

    def close(self) -> None:
        for process in reversed(list(self._processes.values())):
            process.stop()
        self._processes.clear()
        self._databases.drop_all()


def _python_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(Path.home()),
        "LANG": "C.UTF-8",
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "json",
    }
    if "PYTHONPATH" in os.environ:
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env | dict(extra)


async def _save_keys(
    address: str,
    credentials: grpc.ChannelCredentials,
    tenants: Sequence[str],
    api_key: str,
) -> None:
    slots = asyncio.Semaphore(SEED_PARALLEL)
    async with grpc.aio.secure_channel(address, credentials) as channel:
        stub = keyvault_pb2_grpc.KeyVaultServiceStub(channel)

        async def save(tenant: str) -> None:
            async with slots:
                await stub.SaveKey(
                    keyvault_pb2.SaveKeyRequest(
                        tenant_id=tenant, provider=PROVIDER, api_key=api_key
                    ),
                    timeout=30,
                )

        await asyncio.gather(*(save(tenant) for tenant in tenants))
