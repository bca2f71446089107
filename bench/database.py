"""Scratch PostgreSQL databases for one harness run, dropped at the end.

The server is ``BENCH_DATABASE_URL`` (an admin URL; default the machine's
PostgreSQL on 127.0.0.1:5432 with trust auth). When nothing answers there,
the embedded PostgreSQL of the local stack is used instead, so a clean
clone can run the harness without a database server of its own.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path

import asyncpg

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
CONNECT_TIMEOUT_S = 5.0


class Databases:
    def __init__(self, work_dir: Path) -> None:
        self._work_dir = work_dir
        self._admin_url = ""
        self._created: list[str] = []

    def create(self) -> str:
        """A new, empty database; returns its URL."""
        return asyncio.run(self._create())

    def drop_all(self) -> None:
        if self._created:
            asyncio.run(self._drop_all())

    async def _create(self) -> str:
        if not self._admin_url:
            self._admin_url = await _reachable_admin_url(self._work_dir)
        name = f"byok_bench_{secrets.token_hex(6)}"
        admin = await asyncpg.connect(self._admin_url, timeout=CONNECT_TIMEOUT_S)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        self._created.append(name)
        return _with_database(self._admin_url, name)

    async def _drop_all(self) -> None:
        admin = await asyncpg.connect(self._admin_url, timeout=CONNECT_TIMEOUT_S)
        try:
            for name in self._created:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
        self._created.clear()


async def _reachable_admin_url(work_dir: Path) -> str:
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_ADMIN_URL)
    try:
        connection = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT_S)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        if "BENCH_DATABASE_URL" in os.environ:
            raise
        from shared.devstack.embedded_db import start_embedded

        embedded = await start_embedded(work_dir / "postgres" / "data")
        return _with_database(embedded, "postgres")
    await connection.close()
    return url


def _with_database(url: str, name: str) -> str:
    base, _, rest = url.partition("?")
    prefix = base.rsplit("/", 1)[0]
    return f"{prefix}/{name}" + (f"?{rest}" if rest else "")
