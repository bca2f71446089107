"""Key-encryption key providers: ``local`` (keyring file) and ``vault`` (transit).

:func:`open_keks` builds the configured provider and proves, before the
service answers anyone or migrates its schema, that it holds the KEKs stored
keys need (:mod:`.stored`), wraps, unwraps and isolates contexts. The
:class:`~.keks.KekSet` it yields picks the KEK of each tenant: the shared
one, or with ``KEYVAULT_TENANT_KEKS=true`` a KEK per tenant that deleting
the tenant destroys.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from keyvault_service.config import KeyVaultSettings
from keyvault_service.errors import KekMisconfigured, KeyUnreadable
from keyvault_service.kek.base import KekProvider, KeyInfo, WrappedKey
from keyvault_service.kek.keks import KekSet
from keyvault_service.kek.local import LocalKek
from keyvault_service.kek.stored import local_kek_versions, require_keyring_covers
from keyvault_service.kek.transit import TransitKek, VaultSession
from keyvault_service.kek.vault_auth import Clock

__all__ = [
    "KekProvider",
    "KekSet",
    "KeyInfo",
    "LocalKek",
    "TransitKek",
    "VaultSession",
    "WrappedKey",
    "open_keks",
    "verify_isolation",
]

# ':' cannot occur in a tenant id, so probes never share a tenant's context.
_PROBE_CONTEXTS = ("keyvault:probe-a", "keyvault:probe-b")
_LOCAL_TENANT_DIR = "tenant-keks"
# Transit key names must end in a word character; tenant ids may not.
_TRANSIT_TENANT_SUFFIX = "-kek"


def vault_session(
    settings: KeyVaultSettings, clock: Clock | None = None
) -> VaultSession:
    if settings.vault_auth_method == "approle":
        return VaultSession.with_approle(
            settings.vault_addr,
            settings.vault_approle_mount,
            settings.vault_role_id,
            settings.vault_secret_id,
            settings.vault_timeout_s,
            clock=clock,
        )
    return VaultSession.with_token(
        settings.vault_addr, settings.vault_token, settings.vault_timeout_s, clock
    )


def build_keks(settings: KeyVaultSettings, clock: Clock | None = None) -> KekSet:
    if settings.kek_provider == "vault":
        session = vault_session(settings, clock)
        mount, prefix = settings.vault_transit_mount, settings.vault_tenant_key_prefix
        default = TransitKek(
            session,
            mount,
            settings.vault_transit_key,
            create_key=settings.vault_transit_create_key,
        )
        suffix = _TRANSIT_TENANT_SUFFIX
        return KekSet(
            default,
            tenant_prefix=f"{mount}/{prefix}" if settings.tenant_keks else None,
            tenant_suffix=suffix,
            tenant_kek=lambda tenant: TransitKek(
                session, mount, f"{prefix}{tenant}{suffix}"
            ),
            close=session.aclose,
        )

    # Created by open_keks, once it knows no stored key needs another.
    local = LocalKek(settings.local_keyring, create=False)
    folder = settings.local_keyring.parent / _LOCAL_TENANT_DIR
    prefix = f"{local.key_name}/tenant/"
    return KekSet(
        local,
        tenant_prefix=prefix if settings.tenant_keks else None,
        tenant_kek=lambda tenant: LocalKek(
            folder / f"{tenant}.json", key_name=f"{prefix}{tenant}"
        ),
    )


@asynccontextmanager
async def open_keks(
    settings: KeyVaultSettings, database_url: str, clock: Clock | None = None
) -> AsyncIterator[KekSet]:
    """The configured KEKs, checked; closed when the block ends.

    ``database_url`` is only read, to learn which local KEKs stored keys
    were wrapped with; a database without the schema holds none.
    """
    keks = build_keks(settings, clock)
    try:
        if isinstance(keks.default, LocalKek):
            await _open_keyring(keks.default, database_url, settings.db_timeout_s)
        await keks.default.check()
        await verify_isolation(keks.default)
        yield keks
    finally:
        await keks.aclose()


async def _open_keyring(kek: LocalKek, database_url: str, timeout_s: float) -> None:
    stored = await local_kek_versions(database_url, timeout_s)
    require_keyring_covers(kek.path, kek.key_name, kek.versions, stored)
    await kek.ensure()


async def verify_isolation(kek: KekProvider) -> None:
    """Wrap a random key, unwrap it, and prove another context cannot."""
    probe = secrets.token_bytes(32)
    own, other = _PROBE_CONTEXTS
    wrapped = await kek.wrap(probe, own)
    if await kek.unwrap(wrapped.text, own) != probe:
        raise KekMisconfigured(f"KEK {kek.key_name} does not round-trip a data key")
    try:
        await kek.unwrap(wrapped.text, other)
    except KeyUnreadable:
        return
    raise KekMisconfigured(
        f"KEK {kek.key_name} unwraps under any context; it must be a derived key"
    )
