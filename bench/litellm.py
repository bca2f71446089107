"""The LiteLLM proxy as a baseline, from a virtualenv of its own.

LiteLLM's dependencies pin versions ours do not accept, so it lives in
``.tools/litellm-venv`` (made on first use with ``pip install
'litellm[proxy]'``) and never in the project's environment. The proxy runs
with one worker, no database and a master key, forwarding one model to the
provider stand-in. ``LITELLM_LOCAL_MODEL_COST_MAP`` keeps it from fetching
its price list from the internet at start-up: the run stays on loopback.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.processes import ServiceProcess, free_port

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VENV = REPO_ROOT / ".tools" / "litellm-venv"
MODEL_ALIAS = "bench-model"
INSTALL_TIMEOUT_S = 900
START_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class LiteLlm:
    process: ServiceProcess
    base_url: str  # the OpenAI-compatible root, ending in /v1
    master_key: str
    model: str = MODEL_ALIAS


def ensure_installed(venv: Path, log_dir: Path) -> Path:
    """The ``litellm`` executable, installing it into ``venv`` when missing."""
    executable = venv / "bin" / "litellm"
    if executable.exists():
        return executable
    print(f"installing litellm[proxy] into {venv} (first use only)...", flush=True)
    log = log_dir / "litellm-install.log"
    with log.open("wb") as output:
        if not (venv / "bin" / "python").exists():
            subprocess.run(
                [sys.executable, "-m", "venv", str(venv)],
                check=True,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        subprocess.run(
            [
                str(venv / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "litellm[proxy]",
            ],
            check=True,
            stdout=output,
            stderr=subprocess.STDOUT,
            timeout=INSTALL_TIMEOUT_S,
        )
    if not executable.exists():
        raise RuntimeError(f"pip installed no litellm executable; see {log}")
    return executable


def start_litellm(
    executable: Path, upstream_base_url: str, work_dir: Path, log_dir: Path
) -> LiteLlm:
    master_key = f"sk-{secrets.token_hex(32)}"
    config = work_dir / "litellm.yaml"
    config.write_text(_config(upstream_base_url, master_key))
    port = free_port()
    home = work_dir / "litellm-home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": f"{executable.parent}:/usr/bin:/bin",
        "HOME": str(home),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_DONT_SHOW_FEEDBACK_BOX": "true",
    }
    process = ServiceProcess(
        "litellm",
        [
            str(executable),
            "--config",
            str(config),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--num_workers",
            "1",
        ],
        env,
        log_dir,
        cwd=work_dir,
    )
    proxy = LiteLlm(process, f"http://127.0.0.1:{port}/v1", master_key)
    process.wait_until(lambda: _live(port), START_TIMEOUT_S)
    return proxy


def _config(upstream_base_url: str, master_key: str) -> str:
    # The upstream key is any string: the stand-in streams for every key.
    return (
        "model_list:\n"
        f"  - model_name: {MODEL_ALIAS}\n"
        "    litellm_params:\n"
        f"      model: openai/{MODEL_ALIAS}\n"
        f"      api_base: {upstream_base_url}\n"
        "      api_key: bench-upstream-key\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
        "general_settings:\n"
        f"  master_key: {master_key}\n"
    )


def _live(port: int) -> bool:
    url = f"http://127.0.0.1:{port}/health/liveliness"
    try:
        return httpx.get(url, timeout=1, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False
