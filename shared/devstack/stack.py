"""Start the whole local stack in one process.

Order matters: certificates, then the database, then the local model, then
KeyVault (it migrates the schema and checks its key-encryption key before it
listens), then Generation pointed at KeyVault. Everything stops in reverse.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from shared.devcerts import ensure_dev_pki
from shared.devstack.embedded_db import start_embedded
from shared.devstack.local_model import running_local_model
from shared.settings import env_bool, env_int, env_str, state_dir


@dataclass(frozen=True)
class Stack:
    keyvault_address: str
    generation_address: str
    certs: Path
    database: str
    local_model_url: str


@asynccontextmanager
async def running_stack(
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> AsyncIterator[Stack]:
    """Run KeyVault and Generation with embedded defaults for what is unset.

    ``overrides`` win over ``env``; the demo uses them to choose ports and to
    point a provider at the local model.
    """
    from generation_service.config import GenerationSettings
    from generation_service.server import serve_generation
    from keyvault_service.config import KeyVaultSettings
    from keyvault_service.server import serve_keyvault

    merged = {**(os.environ if env is None else env), **(overrides or {})}
    state = state_dir(merged)
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    certs = state / "certs"
    ensure_dev_pki(certs)

    async with AsyncExitStack() as stack:
        database_url = env_str(merged, "DATABASE_URL")
        database_label = "DATABASE_URL"
        if not database_url:
            database_url = await start_embedded(state / "postgres")
            database_label = f"embedded PostgreSQL in {state / 'postgres'}"

        model_url = env_str(merged, "LOCAL_MODEL_BASE_URL")
        if not model_url and env_bool(merged, "BYOK_LOCAL_MODEL", True):
            model = await stack.enter_async_context(
                running_local_model(state, env_int(merged, "LOCAL_MODEL_PORT", 50053))
            )
            model_url = model.base_url
            merged.setdefault("LOCAL_MODEL_MODEL", model.model)

        keyvault = await stack.enter_async_context(
            serve_keyvault(KeyVaultSettings.from_env(merged), database_url)
        )
        generation_env = {
            **merged,
            "KEYVAULT_ADDRESS": keyvault.address,
            "LOCAL_MODEL_BASE_URL": model_url,
            # Usage records, tenant policies and budgets share KeyVault's database
            # in the local stack; their tables live in a schema of their own.
            "GENERATION_DATABASE_URL": env_str(merged, "GENERATION_DATABASE_URL")
            or database_url,
        }
        generation = await stack.enter_async_context(
            serve_generation(GenerationSettings.from_env(generation_env))
        )
        yield Stack(
            keyvault_address=keyvault.address,
            generation_address=generation.address,
            certs=certs,
            database=database_label,
            local_model_url=model_url,
        )
