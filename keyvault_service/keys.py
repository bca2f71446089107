"""What KeyVault does with keys, independent of gRPC.

:class:`KeyService` seals a key before it is stored and opens it after it is
read; the store only ever sees envelopes and the KEK only ever sees data keys.

Reading a key checks, in order: its lifecycle (status, expiry), that the row
is the current generation of the key (not a row put back from an earlier
save), that it names a KEK this tenant's keys may use, then unwraps the data
key (from the cache when warm) and opens the envelope. Every failure that
says the row was tampered with is the same opaque ``DATA_LOSS``; the log
line for operators names the row and the check that failed.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Callable

import structlog

from keyvault_service import audit, envelope
from keyvault_service.cache import DataKeyCache
from keyvault_service.errors import (
    InvalidArgument,
    InvalidField,
    KekMisconfigured,
    KekMismatch,
    KeyChanged,
    KeyDisabled,
    KeyExpired,
    KeyNotFound,
    KeyRejectedByProvider,
    KeyUnreadable,
    KeyVaultError,
    StorageError,
    outcome_of,
)
from keyvault_service.kek import KekProvider, KekSet
from keyvault_service.notices import Notice
from keyvault_service.storage import (
    ACTIVE,
    DISABLED,
    REJECTED_BY_PROVIDER,
    KeyMetadata,
    KeyStore,
    StoredKey,
)
from shared.secrets import SecretStr

_log = structlog.get_logger("byok.keyvault.keys")

class Keep(enum.Enum):
    """Marks a field an update leaves as it is."""

    UNCHANGED = "unchanged"


UNCHANGED = Keep.UNCHANGED


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class KeyService:
    def __init__(
        self,
        store: KeyStore,
        keks: KekSet,
        cache: DataKeyCache,
        invalidate: Callable[[Notice], None],
        now: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self._store = store
        self._keks = keks
        self._cache = cache
        self._invalidate = invalidate
        self._now = now
        # Tenant KEKs this replica has recorded in the KEK registry.
        self._registered: set[str] = set()

    async def save(
        self,
        tenant_id: str,
        provider: str,
        api_key: SecretStr,
        expires_at: dt.datetime | None = None,
        caller: str = "",
    ) -> tuple[KeyMetadata, bool]:
        """Store or replace a key; ``True`` when none existed before."""
        self.check_expiry(expires_at)
        # A new row id and generation per save: the ciphertext is bound to
        # both, so an old ciphertext (or a whole old row) cannot be put back.
        identity = envelope.KeyIdentity(
            uuid.uuid4(), tenant_id, provider, await self._store.next_generation()
        )
        kek = await self._new_key_kek(tenant_id)
        sealed = await envelope.seal(kek, identity, api_key)
        result = await self._store.save(
            identity, sealed, api_key.fingerprint, expires_at, caller
        )
        self._invalidate(Notice("key", tenant_id, provider))
        return result

    async def delete(self, tenant_id: str, provider: str, caller: str = "") -> bool:
        deleted = await self._store.delete(tenant_id, provider, caller)
        self._invalidate(Notice("key", tenant_id, provider))
        return deleted

    async def list(self, tenant_id: str) -> list[KeyMetadata]:
        return await self._store.list_metadata(tenant_id)

    async def reveal(
        self, tenant_id: str, provider: str, caller: str = ""
    ) -> tuple[SecretStr, KeyMetadata]:
        stored = await self._store.fetch(tenant_id, provider)
        if stored is None:
            raise KeyNotFound(f"no {provider} key for this tenant")
        try:
            self._check_usable(stored.metadata)
            api_key = await self._open(stored)
        except KeyVaultError as error:
            await self._record_failure(stored, error, caller)
            raise
        # No record, no key: a failed audit write fails the read.
        await self._store.record_use(stored, caller)
        return api_key, stored.metadata

    async def rekey(
        self, tenant_id: str, provider: str, caller: str = ""
    ) -> KeyMetadata:
        """Re-encrypt the stored key under a fresh data key and row id."""
        stored = await self._store.fetch(tenant_id, provider)
        if stored is None:
            raise KeyNotFound(f"no {provider} key for this tenant")
        api_key = await self._open(stored)

        identity = envelope.KeyIdentity(
            uuid.uuid4(), tenant_id, provider, await self._store.next_generation()
        )
        kek = await self._new_key_kek(tenant_id)
        sealed = await envelope.seal(kek, identity, api_key)
        metadata = await self._store.replace_envelope(
            stored.identity.row_id, identity, sealed, caller
        )
        self._invalidate(Notice("key", tenant_id, provider))
        if metadata is None:
            raise KeyChanged("the key was replaced or deleted while being re-keyed")
        return metadata

    async def update(
        self,
        tenant_id: str,
        provider: str,
        status: str | None,
        expires_at: dt.datetime | Keep | None,
        caller: str = "",
    ) -> KeyMetadata:
        """Set the status (active or disabled) and/or the expiry date.

        Setting what is already set is no change: nothing is written or
        recorded.
        """
        if status is None and isinstance(expires_at, Keep):
            raise InvalidArgument(
                "nothing to change: give status, expire_time or clear_expire_time"
            )
        expiry = None
        if not isinstance(expires_at, Keep):
            self.check_expiry(expires_at)
            expiry = (expires_at,)
        metadata = await self._store.update(
            tenant_id, provider, status, expiry, caller
        )
        if metadata is None:
            raise KeyNotFound(f"no {provider} key for this tenant")
        return metadata

    def check_expiry(self, expires_at: dt.datetime | None) -> None:
        """Refuse an expiry date that has already passed."""
        if expires_at is not None and expires_at <= self._now():
            raise InvalidField("expire_time", "expire_time is in the past")

    async def report_rejected(
        self,
        tenant_id: str,
        provider: str,
        key_id: uuid.UUID,
        reason: str,
        caller: str = "",
    ) -> bool:
        """Mark the key the provider refused; False if it was replaced since."""
        entry = audit.Entry(
            audit.Event.REJECTED_BY_PROVIDER, tenant_id, provider, caller,
            key_id=key_id, detail=reason,
        )
        metadata = await self._store.set_status(
            tenant_id, provider, REJECTED_BY_PROVIDER, reason, entry, key_id=key_id
        )
        return metadata is not None

    def expiring_soon(self, metadata: KeyMetadata, window: dt.timedelta) -> bool:
        expires = metadata.expires_at
        return expires is not None and expires <= self._now() + window

    async def _new_key_kek(self, tenant_id: str) -> KekProvider:
        kek = await self._keks.for_new_key(tenant_id)
        # Registered, a tenant KEK is told apart from a forged name even if
        # per-tenant KEKs are switched off later.
        if kek is not self._keks.default and kek.key_name not in self._registered:
            await self._store.register_kek(kek.name, kek.key_name)
            self._registered.add(kek.key_name)
        return kek

    def _check_usable(self, metadata: KeyMetadata) -> None:
        if metadata.status == DISABLED:
            raise KeyDisabled("the key is disabled")
        if metadata.status == REJECTED_BY_PROVIDER:
            raise KeyRejectedByProvider("the provider rejected the key")
        if metadata.status != ACTIVE:
            raise KeyUnreadable()
        if metadata.expires_at is not None and metadata.expires_at <= self._now():
            raise KeyExpired("the key has expired")

    async def _open(self, stored: StoredKey) -> SecretStr:
        self._check_generation(stored)
        kek = await self._kek_for(stored)
        envelope.check_shape(stored.envelope)

        identity, wrapped = stored.identity, stored.envelope.wrapped_key
        data_key = self._cache.get(identity.tenant_id, wrapped.text)
        if data_key is None:
            data_key = await self._unwrap(kek, stored)
            self._cache.put(
                identity.tenant_id, identity.provider, wrapped.text, data_key
            )
        try:
            return envelope.open_with_data_key(data_key, identity, stored.envelope)
        except KeyUnreadable:
            # The row failed authentication: tampering, a restore gone wrong,
            # or a row moved between tenants. Operators need the row, not why.
            self._cache.evict_key(identity.tenant_id, identity.provider)
            self._tampered(stored, "the ciphertext failed authentication")
            raise

    async def _unwrap(self, kek: KekProvider, stored: StoredKey) -> bytes:
        wrapped = stored.envelope.wrapped_key.text
        try:
            return await kek.unwrap(wrapped, stored.identity.tenant_id)
        except KekMisconfigured:
            if kek is self._keks.default:
                raise
            # A tenant's own KEK exists as long as its keys do; gone, it was
            # destroyed with the tenant, and so are these keys.
            self._tampered(stored, "the tenant's own KEK no longer exists")
            raise KeyUnreadable() from None

    def _check_generation(self, stored: StoredKey) -> None:
        if not stored.counter_present:
            self._tampered(stored, "the key has no generation record")
            raise KeyUnreadable()
        if stored.row_generation != stored.identity.generation:
            self._tampered(stored, "the row is not the current generation")
            raise KeyUnreadable()
        legacy = stored.envelope.format_version == envelope.LEGACY_FORMAT_VERSION
        if legacy and stored.identity.generation != 0:
            self._tampered(stored, "a legacy row after a newer save")
            raise KeyUnreadable()

    async def _kek_for(self, stored: StoredKey) -> KekProvider:
        wrapped = stored.envelope.wrapped_key
        # The text carries its own provider and version; columns that
        # disagree with it were edited.
        if not wrapped.text.startswith(f"{wrapped.provider}:v{wrapped.version}:"):
            self._tampered(stored, "the KEK columns disagree with the wrapped key")
            raise KeyUnreadable()

        kek = self._keks.for_row(stored.identity.tenant_id, wrapped)
        if kek is not None:
            return kek
        if self._keks.owner_of(wrapped.key_name) is None and (
            await self._store.kek_registered(wrapped.provider, wrapped.key_name)
        ):
            _log.error(
                "stored key wrapped by another KEK",
                row_id=str(stored.identity.row_id),
                kek_provider=wrapped.provider,
                kek_key_name=wrapped.key_name,
            )
            raise KekMismatch(f"row wrapped by {wrapped.provider} {wrapped.key_name}")
        self._tampered(stored, "the row names a KEK it cannot have been wrapped by")
        raise KeyUnreadable()

    def _tampered(self, stored: StoredKey, check: str) -> None:
        _log.warning(
            "stored key failed authentication",
            row_id=str(stored.identity.row_id),
            kek_version=stored.envelope.wrapped_key.version,
            check=check,
        )

    async def _record_failure(
        self, stored: StoredKey, error: KeyVaultError, caller: str
    ) -> None:
        wrapped = stored.envelope.wrapped_key
        entry = audit.Entry(
            audit.Event.DECRYPT_FAILED,
            tenant_id=stored.identity.tenant_id,
            provider=stored.identity.provider,
            caller=caller,
            key_id=stored.identity.row_id,
            kek_provider=wrapped.provider,
            kek_key_name=wrapped.key_name,
            kek_version=wrapped.version,
            detail=outcome_of(error).reason,
        )
        try:
            await self._store.record(entry)
        except StorageError as failure:
            # The read fails anyway; its own error is the one to return.
            _log.warning("could not record a failed decrypt", error=str(failure))
