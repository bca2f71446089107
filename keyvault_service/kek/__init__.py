"""Key-encryption key providers: ``local`` (keyring file) and ``vault`` (transit).

:func:`open_kek_provider` builds the configured provider and proves, before
the service answers anyone, that it wraps, unwraps and isolates contexts.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from keyvault_service.config import KeyVaultSettings
from keyvault_service.errors import KekMisconfigured, KeyUnreadable
from keyvault_service.kek.base import KekProvider, KeyInfo, WrappedKey
from keyvault_service.kek.local import LocalKek
from keyvault_service.kek.transit import StaticToken, TransitKek

__all__ = [
    "KekProvider",
    "KeyInfo",
    "LocalKek",
    "TransitKek",
    "WrappedKey",
    "open_kek_provider",
    "verify_isolation",
]

# ':' cannot occur in a tenant id, so probes never share a tenant's context.
_PROBE_CONTEXTS = ("keyvault:probe-a", "keyvault:probe-b")


def build_kek_provider(settings: KeyVaultSettings) -> KekProvider:
    if settings.kek_provider == "vault":
        return TransitKek(
            address=settings.vault_addr,
            token=StaticToken(settings.vault_token),
            mount=settings.vault_transit_mount,
            key=settings.vault_transit_key,
            timeout_s=settings.vault_timeout_s,
            create_key=settings.vault_transit_create_key,
        )
    return LocalKek(settings.local_keyring)


@asynccontextmanager
async def open_kek_provider(settings: KeyVaultSettings) -> AsyncIterator[KekProvider]:
    """The configured provider, checked; closed when the block ends."""
    kek = build_kek_provider(settings)
    try:
        await kek.check()
        await verify_isolation(kek)
        yield kek
    finally:
        await kek.aclose()


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
