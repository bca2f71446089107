"""Whose key pays for a provider call: the tenant's, or the platform's.

The policy, in order:

1. ``local`` is hosted by the platform and needs no tenant key: its platform
   key (often none at all) is used without asking KeyVault.
2. KeyVault has the tenant's key for the provider: use it (TENANT).
3. KeyVault answers NOT_FOUND: the platform's key for that same provider
   (PLATFORM), if one is configured and the tenant's policy allows it:
   ``allowed``, or ``auto`` while KeyVault lists no key of the tenant's own
   for any provider. Otherwise NO_KEY_CONFIGURED or PLATFORM_KEY_NOT_ALLOWED.
4. KeyVault refuses the tenant's key (disabled, rejected by the provider
   earlier, expired): TENANT_KEY_UNUSABLE. The tenant has a key, so no other
   is used in its place.
5. Any other KeyVault answer (unavailable, deadline, permission, data loss)
   fails. Falling back to the platform key there would bill the platform for
   a tenant whose own key merely could not be read.

A key is only ever looked up for the provider it will be sent to, and a
tenant key the provider rejected is never replaced by the platform's. The
platform's key serves only its provider's ``platform_models``; a tenant's
own key may name any model. A platform key's fingerprint is never shown:
its last characters are no business of any tenant.
:class:`RequestKeys` resolves each provider at most once per request, however
many variants ask for it at the same time. A tenant key the provider
rejects is reported to KeyVault (``ReportKeyRejected``) in the background,
so it is not used again until the tenant saves a new one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

import grpc
import structlog
from byok.generation.v1 import generation_pb2
from byok.keyvault.v1 import keyvault_pb2, keyvault_pb2_grpc

from generation_service.config import ProviderSettings
from generation_service.errors import (
    InvalidRequest,
    KeyResolutionError,
    KeyVaultFailed,
    KeyVaultUnavailable,
    NoKeyConfigured,
    PlatformKeyNotAllowed,
    TenantKeyRejected,
    TenantKeyUnusable,
)
from generation_service.policy import PlatformFallback
from shared.rpc import error_info
from shared.secrets import SecretStr, fingerprint_of

TENANT = generation_pb2.KEY_SOURCE_TENANT
PLATFORM = generation_pb2.KEY_SOURCE_PLATFORM

# llama.cpp's server ignores the key unless started with --api-key, but the
# SDK will not build a client without one.
LOCAL_PLACEHOLDER_KEY = "local-model-no-key"

_UNAVAILABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}

_log = structlog.get_logger("byok.generation.keys")


@dataclass(frozen=True)
class ResolvedKey:
    provider: str
    secret: SecretStr
    source: generation_pb2.KeySource.ValueType
    # KeyVault's id of the stored key; empty for platform keys.
    key_id: str = ""

    @property
    def fingerprint(self) -> str:
        """The tenant key's last characters; empty for the platform's keys."""
        if self.source != TENANT:
            return ""
        return fingerprint_of(self.secret.reveal())

    @property
    def source_name(self) -> str:
        return "tenant" if self.source == TENANT else "platform"


class KeyResolver:
    def __init__(
        self,
        keyvault: keyvault_pb2_grpc.KeyVaultServiceStub,
        providers: Mapping[str, ProviderSettings],
        timeout_s: float,
    ) -> None:
        self._keyvault = keyvault
        self.providers = providers
        self._timeout_s = timeout_s
        self._reports: set[asyncio.Task[None]] = set()
        self._in_flight: dict[
            tuple[str, str], asyncio.Future[keyvault_pb2.GetDecryptedKeyResponse]
        ] = {}

    async def resolve(
        self,
        tenant_id: str,
        provider: str,
        fallback: PlatformFallback,
        time_remaining_s: float | None,
    ) -> ResolvedKey:
        settings = self.providers[provider]
        if provider == "local":
            key = settings.platform_key.reveal() or LOCAL_PLACEHOLDER_KEY
            return ResolvedKey(provider, SecretStr(key), PLATFORM)

        try:
            response = await self._fetch(
                tenant_id, provider, self._timeout(time_remaining_s)
            )
        except grpc.aio.AioRpcError as error:
            _raise_unless_not_found(provider, error)
            return await self._platform_key(
                tenant_id, settings, fallback, time_remaining_s
            )

        if not response.api_key:
            raise KeyVaultFailed(f"the key vault returned an empty {provider} key")
        _log.debug("key resolved", provider=provider, key_source="tenant")
        return ResolvedKey(
            provider, SecretStr(response.api_key), TENANT, response.key.key_id
        )

    async def _fetch(
        self, tenant_id: str, provider: str, timeout_s: float
    ) -> keyvault_pb2.GetDecryptedKeyResponse:
        """GetDecryptedKey, one call shared by whoever asks while it runs."""
        entry = (tenant_id, provider)
        shared = self._in_flight.get(entry)
        if shared is None:
            request = keyvault_pb2.GetDecryptedKeyRequest(
                tenant_id=tenant_id, provider=provider
            )
            shared = asyncio.ensure_future(
                self._keyvault.GetDecryptedKey(request, timeout=timeout_s)
            )
            self._in_flight[entry] = shared
            shared.add_done_callback(lambda done: self._landed(entry, done))
        try:
            # Shielded: one caller giving up does not cancel the others' call.
            return await asyncio.wait_for(asyncio.shield(shared), timeout_s)
        except TimeoutError:
            raise KeyVaultUnavailable(
                f"the key vault did not answer in time; no {provider} key was used"
            ) from None

    def _landed(
        self,
        entry: tuple[str, str],
        done: asyncio.Future[keyvault_pb2.GetDecryptedKeyResponse],
    ) -> None:
        self._in_flight.pop(entry, None)
        # Read here, so an error nobody waited for any more is not reported
        # as never retrieved.
        if not done.cancelled():
            done.exception()

    def report_rejected(
        self, tenant_id: str, key: ResolvedKey, error: TenantKeyRejected
    ) -> None:
        """Tell KeyVault the provider refused this tenant key, in the background.

        Best effort: the caller's response never waits for it, and a failed
        report is only logged.
        """
        _log.warning(
            "tenant key rejected by provider",
            tenant=tenant_id,
            provider=key.provider,
            key_fingerprint=key.fingerprint,
            code=error.code,
        )
        task = asyncio.create_task(self._report(tenant_id, key, error.code))
        self._reports.add(task)
        task.add_done_callback(self._reports.discard)

    async def aclose(self) -> None:
        """Give reports in flight a moment, then drop them."""
        if self._reports:
            await asyncio.wait(list(self._reports), timeout=self._timeout_s)
        for task in list(self._reports):
            task.cancel()

    async def _report(self, tenant_id: str, key: ResolvedKey, code: str) -> None:
        request = keyvault_pb2.ReportKeyRejectedRequest(
            tenant_id=tenant_id,
            provider=key.provider,
            key_id=key.key_id,
            reason=_report_code(code),
        )
        try:
            response = await self._keyvault.ReportKeyRejected(
                request, timeout=self._timeout_s
            )
        except grpc.aio.AioRpcError as error:
            _log.warning(
                "rejected key not reported",
                tenant=tenant_id,
                provider=key.provider,
                status=error.code().name,
            )
            return
        _log.info(
            "rejected key reported",
            tenant=tenant_id,
            provider=key.provider,
            marked=response.marked,
        )

    async def _platform_key(
        self,
        tenant_id: str,
        settings: ProviderSettings,
        fallback: PlatformFallback,
        time_remaining_s: float | None,
    ) -> ResolvedKey:
        provider = settings.name
        if not settings.platform_key:
            raise NoKeyConfigured(
                f"no {provider} key is configured for this tenant or the platform"
            )
        if fallback is PlatformFallback.DENIED:
            raise PlatformKeyNotAllowed(
                f"the tenant has no {provider} key, and its policy does not "
                "allow the platform's"
            )
        if fallback is PlatformFallback.AUTO:
            own = await self._own_providers(tenant_id, provider, time_remaining_s)
            if own:
                raise PlatformKeyNotAllowed(
                    f"the tenant has no {provider} key; it has keys of its own "
                    f"({', '.join(own)}), so the platform's is not used unless "
                    "its policy allows it"
                )

        _log.debug("key resolved", provider=provider, key_source="platform")
        return ResolvedKey(provider, settings.platform_key, PLATFORM)

    async def _own_providers(
        self, tenant_id: str, provider: str, time_remaining_s: float | None
    ) -> list[str]:
        request = keyvault_pb2.ListProvidersRequest(tenant_id=tenant_id)
        try:
            response = await self._keyvault.ListProviders(
                request, timeout=self._timeout(time_remaining_s)
            )
        except grpc.aio.AioRpcError as error:
            _raise_unless_not_found(provider, error)
            return []
        return sorted({key.provider for key in response.keys})

    def _timeout(self, time_remaining_s: float | None) -> float:
        if time_remaining_s is None:
            return self._timeout_s
        return min(self._timeout_s, max(time_remaining_s, 0.0))


def _raise_unless_not_found(provider: str, error: grpc.aio.AioRpcError) -> None:
    code = error.code()
    if code == grpc.StatusCode.NOT_FOUND:
        return
    if code == grpc.StatusCode.FAILED_PRECONDITION:
        info = error_info(error)
        why = info.reason.lower().replace("_", " ") if info else "refused"
        raise TenantKeyUnusable(
            f"the tenant's {provider} key cannot be used ({why}); "
            "no other key was used in its place"
        )
    if code in _UNAVAILABLE:
        raise KeyVaultUnavailable(
            f"the key vault did not answer ({code.name}); no {provider} key was used"
        )
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        raise InvalidRequest("the key vault rejected the tenant or provider")
    raise KeyVaultFailed(
        f"the key vault failed ({code.name}); no {provider} key was used"
    )


class RequestKeys:
    """The keys of one request, each provider resolved at most once."""

    def __init__(
        self,
        resolver: KeyResolver,
        tenant_id: str,
        fallback: PlatformFallback,
        deadline: float,
    ) -> None:
        self._resolver = resolver
        self._providers = resolver.providers
        self._tenant_id = tenant_id
        self._fallback = fallback
        self._deadline = deadline
        self._found: dict[str, asyncio.Future[ResolvedKey]] = {}
        self.rejected: set[str] = set()

    async def get(self, provider: str) -> ResolvedKey:
        """The key for ``provider``; raises the same error to every caller."""
        future = self._found.get(provider)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._found[provider] = future
            try:
                future.set_result(await self._resolve(provider))
            except KeyResolutionError as error:
                future.set_exception(error)
            except BaseException:
                # Cancelled or a defect: the next caller tries again.
                del self._found[provider]
                future.cancel()
                raise
        return await asyncio.shield(future)

    async def for_step(self, provider: str, model: str) -> ResolvedKey:
        """The key for a call to ``model``; the platform's serves few models."""
        key = await self.get(provider)
        allowed = self._providers[provider].platform_models
        if key.source == PLATFORM and model not in allowed:
            raise PlatformKeyNotAllowed(
                f"the platform's {provider} key serves only "
                f"{', '.join(sorted(allowed))}, not {model}; use a key of the "
                "tenant's own for other models"
            )
        return key

    def report_rejected(self, key: ResolvedKey, error: TenantKeyRejected) -> None:
        """Report a tenant key the provider refused, once per request."""
        if key.source != TENANT or key.provider in self.rejected:
            return
        self.rejected.add(key.provider)
        self._resolver.report_rejected(self._tenant_id, key, error)

    async def _resolve(self, provider: str) -> ResolvedKey:
        remaining = self._deadline - asyncio.get_running_loop().time()
        return await self._resolver.resolve(
            self._tenant_id, provider, self._fallback, remaining
        )


def _report_code(code: str) -> str:
    """``code`` in the shape KeyVault accepts: 1 to 64 of ``[a-z0-9_.:-]``."""
    cleaned = "".join(
        c if c.isascii() and (c.isalnum() or c in "_.:-") else "_" for c in code.lower()
    )
    return cleaned[:64] or "rejected"
