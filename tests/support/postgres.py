"""A fresh PostgreSQL database per test session on a real server.

The server is ``TEST_DATABASE_URL`` (default: the machine's PostgreSQL on
127.0.0.1:5432 with trust auth). Each session creates its own database and
drops it afterwards, so concurrent runs never share rows.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def admin_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", DEFAULT_ADMIN_URL)


@asynccontextmanager
async def scratch_database() -> AsyncIterator[str]:
    base = admin_url()
    name = f"byok_test_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(base)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()

    prefix, _, _ = base.rpartition("/")
    try:
        yield f"{prefix}/{name}"
    finally:
        admin = await asyncpg.connect(base)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
