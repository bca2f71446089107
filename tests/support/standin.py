"""Pointing the Generation service at the provider stand-in, and test keys.

Sentinel keys are unique strings planted as provider keys so that logs,
statuses and captured requests can be searched for them. They deliberately
do not look like provider keys: the log redactor masks key-shaped values,
and a leak test must not pass merely because of that mask.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from provider_standin import Standin

OPENAI_COMPATIBLE = ("openai", "google", "deepseek", "qwen", "meta_llama")
ENV_PREFIX = {
    "openai": "OPENAI",
    "anthropic": "ANTHROPIC",
    "google": "GOOGLE",
    "deepseek": "DEEPSEEK",
    "qwen": "QWEN",
    "meta_llama": "META_LLAMA",
}


def sentinel_key(label: str) -> str:
    return f"SENTINEL{label.upper()}{secrets.token_hex(12).upper()}"


def pieces_of(secret: str, size: int = 8) -> set[str]:
    """Every ``size``-character piece of ``secret``, for leak searches."""
    return {secret[i : i + size] for i in range(len(secret) - size + 1)}


def provider_env(standin: Standin, local: bool = False) -> dict[str, str]:
    """Every provider's base URL aimed at the stand-in."""
    env = {
        f"{ENV_PREFIX[p]}_BASE_URL": standin.openai_base_url for p in OPENAI_COMPATIBLE
    }
    env["ANTHROPIC_BASE_URL"] = standin.base_url
    if local:
        env["LOCAL_MODEL_BASE_URL"] = standin.openai_base_url
    return env


def platform_keys(
    keys: dict[str, str], providers: Iterable[str] = ()
) -> dict[str, str]:
    """``{PROVIDER}_API_KEY`` variables for ``keys``; other named providers empty."""
    env = {f"{ENV_PREFIX[name]}_API_KEY": "" for name in providers}
    env.update({f"{ENV_PREFIX[name]}_API_KEY": key for name, key in keys.items()})
    return env
