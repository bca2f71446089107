"""Which KEK wraps a tenant's new data keys, and which may unwrap a stored one.

By default one shared KEK wraps every tenant's data keys, each bound to its
tenant by the derivation context. With per-tenant KEKs the tenant's own KEK
(named ``<prefix><tenant id><suffix>``) wraps new data keys; deleting the
tenant destroys it, and with it every copy of those data keys, backups
included. Rows a tenant saved before per-tenant KEKs were enabled stay under
the shared KEK until re-keyed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from keyvault_service.kek.base import KekProvider, WrappedKey


class KekSet:
    def __init__(
        self,
        default: KekProvider,
        *,
        tenant_prefix: str | None,
        tenant_kek: Callable[[str], KekProvider],
        tenant_suffix: str = "",
        close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.default = default
        self.provider = default.name
        self._tenant_prefix = tenant_prefix
        self._tenant_suffix = tenant_suffix
        self._make_tenant_kek = tenant_kek
        self._tenant_keks: dict[str, KekProvider] = {}
        self._ensured: set[str] = set()
        self._close = close

    @property
    def per_tenant(self) -> bool:
        return self._tenant_prefix is not None

    async def for_new_key(self, tenant: str) -> KekProvider:
        """The KEK that wraps ``tenant``'s next data key, created if need be."""
        if not self.per_tenant:
            return self.default
        kek = self._tenant_kek(tenant)
        if tenant not in self._ensured:
            await kek.ensure()
            self._ensured.add(tenant)
        return kek

    def for_row(self, tenant: str, wrapped: WrappedKey) -> KekProvider | None:
        """The KEK that may unwrap a row of ``tenant``; None if it names another."""
        if wrapped.provider != self.provider:
            return None
        if wrapped.key_name == self.default.key_name:
            return self.default
        if self.owner_of(wrapped.key_name) == tenant:
            return self._tenant_kek(tenant)
        return None

    def by_name(self, key_name: str) -> KekProvider | None:
        """The shared KEK or a tenant's, by the name rows store."""
        if key_name == self.default.key_name:
            return self.default
        owner = self.owner_of(key_name)
        return None if owner is None else self._tenant_kek(owner)

    def owner_of(self, key_name: str) -> str | None:
        """The tenant whose own KEK ``key_name`` is, if it is one."""
        prefix, suffix = self._tenant_prefix, self._tenant_suffix
        if prefix is None or not key_name.startswith(prefix):
            return None
        if not key_name.endswith(suffix):
            return None
        tenant = key_name[len(prefix) : len(key_name) - len(suffix)]
        return tenant or None

    def tenant_kek_name(self, tenant: str) -> str | None:
        """The name ``tenant``'s own KEK has or would have; None without them."""
        prefix = self._tenant_prefix
        return None if prefix is None else f"{prefix}{tenant}{self._tenant_suffix}"

    async def destroy_tenant(self, tenant: str) -> None:
        """Destroy ``tenant``'s own KEK and everything it could unwrap."""
        kek = self._tenant_kek(tenant)
        await kek.destroy()
        self.forget_tenant(tenant)
        await kek.aclose()

    def forget_tenant(self, tenant: str) -> None:
        """Drop what this replica knows of ``tenant``'s own KEK."""
        self._ensured.discard(tenant)
        self._tenant_keks.pop(tenant, None)

    async def refresh(self) -> None:
        await self.default.refresh()
        for kek in self._tenant_keks.values():
            await kek.refresh()

    async def aclose(self) -> None:
        for kek in (*self._tenant_keks.values(), self.default):
            await kek.aclose()
        if self._close is not None:
            await self._close()

    def _tenant_kek(self, tenant: str) -> KekProvider:
        kek = self._tenant_keks.get(tenant)
        if kek is None:
            kek = self._tenant_keks[tenant] = self._make_tenant_kek(tenant)
        return kek
