"""The local KEKs stored keys were wrapped with, checked against the keyring.

The keyring file is created on first start. Once the database holds keys
wrapped by the local provider, a missing file means ``KEK_LOCAL_KEYRING``
names the wrong path: a new keyring there would let the service serve while
every stored key answers ``DATA_LOSS``. So the start is refused instead, as
it is when the keyring lacks the KEK name or a version stored keys need.

The database is read before migrations run, so that a refused start writes
nothing; a database without the schema yet holds no keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from pathlib import Path

import asyncpg

from keyvault_service.database import translated
from keyvault_service.errors import KeyringError

_VERSIONS = """
SELECT kek_key_name, array_agg(DISTINCT kek_version) AS versions
FROM provider_keys WHERE kek_provider = 'local' GROUP BY kek_key_name
"""
# A row naming a KEK the registry never saw was edited: the row answers
# DATA_LOSS on its own, and must not keep the service from starting.
_REGISTERED_VERSIONS = """
SELECT k.kek_key_name, array_agg(DISTINCT k.kek_version) AS versions
FROM provider_keys AS k
JOIN kek_registry AS r USING (kek_provider, kek_key_name)
WHERE k.kek_provider = 'local' GROUP BY k.kek_key_name
"""


async def local_kek_versions(
    database_url: str, timeout_s: float
) -> dict[str, frozenset[int]]:
    """KEK name -> versions, for every key the local provider wrapped."""
    with translated():
        connection = await asyncpg.connect(database_url, timeout=timeout_s)
    try:
        with translated():
            keys, registry = await connection.fetchrow(
                "SELECT to_regclass('provider_keys'), to_regclass('kek_registry')",
                timeout=timeout_s,
            )
            if keys is None:
                return {}
            query = _VERSIONS if registry is None else _REGISTERED_VERSIONS
            rows = await connection.fetch(query, timeout=timeout_s)
    finally:
        await connection.close()
    return {row["kek_key_name"]: frozenset(row["versions"]) for row in rows}


def require_keyring_covers(
    path: Path,
    key_name: str,
    versions: Set[int],
    stored: Mapping[str, Set[int]],
) -> None:
    """Refuse a keyring (``versions`` empty: none on disk) stored keys lack."""
    if not stored:
        return
    if not versions:
        raise KeyringError(
            f"keyring {path} does not exist, but the database holds keys "
            f"wrapped by local KEK {', '.join(sorted(stored))}; set "
            f"KEK_LOCAL_KEYRING to the keyring they were wrapped with"
        )

    # A tenant's own keyring is checked when it is used, and may have been
    # destroyed on purpose with the tenant.
    tenant_prefix = f"{key_name}/tenant/"
    for name, needed in sorted(stored.items()):
        if name.startswith(tenant_prefix):
            continue
        if name != key_name:
            raise KeyringError(
                f"keyring {path} holds KEK {key_name}, but the database holds "
                f"keys wrapped by local KEK {name}; set KEK_LOCAL_KEYRING to "
                f"the keyring they were wrapped with"
            )
        missing = sorted(needed - versions)
        if missing:
            raise KeyringError(
                f"keyring {path} lacks version "
                f"{', '.join(str(version) for version in missing)} of KEK "
                f"{name}, which stored keys were wrapped with; restore the "
                f"keyring file from a backup"
            )
