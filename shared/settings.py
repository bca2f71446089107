"""Reading typed settings from the environment.

Each service has a frozen settings class built once at start-up by
``from_env``. Precedence is: an explicit argument, then the environment
variable, then the ``DEFAULT_*`` constant beside the setting. A value that
cannot be parsed raises :class:`SettingsError` naming the variable, never its
value (it may be a secret).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path


class SettingsError(ValueError):
    """A setting is missing or malformed."""


def env_str(env: Mapping[str, str], name: str, default: str = "") -> str:
    value = env.get(name, "").strip()
    return value or default


def env_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number") from None


def env_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number") from None
    if not math.isfinite(value):
        raise SettingsError(f"{name} must be a finite number")
    return value


def env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false")


def env_list(
    env: Mapping[str, str], name: str, default: tuple[str, ...] = ()
) -> tuple[str, ...]:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where the local stack keeps its files: certificates, keyring, database."""
    env = os.environ if env is None else env
    return Path(env_str(env, "BYOK_STATE_DIR", str(Path.home() / ".local/share/byok")))


def free_port(host: str = "127.0.0.1") -> int:
    """A port free right now on ``host``; for local child processes."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
