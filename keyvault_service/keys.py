"""What KeyVault does with keys, independent of gRPC.

:class:`KeyService` seals a key before it is stored and opens it after it is
read; the store only ever sees envelopes and the KEK only ever sees data keys.
"""

from __future__ import annotations

import uuid

import structlog

from keyvault_service import envelope
from keyvault_service.errors import KekMismatch, KeyNotFound, KeyUnreadable
from keyvault_service.kek.base import KekProvider
from keyvault_service.storage import KeyMetadata, KeyStore
from shared.secrets import SecretStr

_log = structlog.get_logger("byok.keyvault.keys")


class KeyService:
    def __init__(self, store: KeyStore, kek: KekProvider) -> None:
        self._store = store
        self._kek = kek

    async def save(
        self, tenant_id: str, provider: str, api_key: SecretStr
    ) -> tuple[KeyMetadata, bool]:
        """Store or replace a key; ``True`` when none existed before."""
        # A new row id per save: the ciphertext is bound to it, so an old
        # ciphertext cannot be put back under the replacement's id.
        identity = envelope.KeyIdentity(uuid.uuid4(), tenant_id, provider)
        sealed = await envelope.seal(self._kek, identity, api_key)
        return await self._store.upsert(identity, sealed, api_key.fingerprint)

    async def delete(self, tenant_id: str, provider: str) -> bool:
        return await self._store.delete(tenant_id, provider)

    async def list(self, tenant_id: str) -> list[KeyMetadata]:
        return await self._store.list_metadata(tenant_id)

    async def reveal(
        self, tenant_id: str, provider: str
    ) -> tuple[SecretStr, KeyMetadata]:
        stored = await self._store.fetch(tenant_id, provider)
        if stored is None:
            raise KeyNotFound(f"no {provider} key for this tenant")

        wrapped = stored.envelope.wrapped_key
        if (wrapped.provider, wrapped.key_name) != (self._kek.name, self._kek.key_name):
            _log.error(
                "stored key wrapped by another KEK",
                row_id=str(stored.identity.row_id),
                kek_provider=wrapped.provider,
                kek_key_name=wrapped.key_name,
            )
            raise KekMismatch(f"row wrapped by {wrapped.provider} {wrapped.key_name}")

        # TODO(data-key cache): every read unwraps through the KEK; a cache of
        # unwrapped data keys keyed by (wrapped key, tenant) with a short max
        # age would sit here, in front of open_envelope.
        try:
            api_key = await envelope.open_envelope(
                self._kek, stored.identity, stored.envelope
            )
        except KeyUnreadable:
            # The row failed authentication: tampering, a restore gone wrong,
            # or a row moved between tenants. Operators need the row, not why.
            _log.warning(
                "stored key failed authentication",
                row_id=str(stored.identity.row_id),
                kek_version=wrapped.version,
            )
            raise
        return api_key, stored.metadata
