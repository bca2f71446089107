"""Whose key pays for a generation: the tenant's, or the platform's.

The policy, in order:

1. ``local`` is hosted by the platform and needs no tenant key: its platform
   key (often none at all) is used without asking KeyVault.
2. KeyVault has the tenant's key for the provider: use it (TENANT).
3. KeyVault answers NOT_FOUND: use the platform's key for that same provider
   (PLATFORM) when one is configured, else fail with NO_KEY_CONFIGURED.
4. Any other KeyVault answer (unavailable, deadline, permission, data loss)
   fails the request. Falling back to the platform key there would bill the
   platform for a tenant whose own key merely could not be read.

A key is only ever looked up for the provider it will be sent to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import grpc
import structlog
from byok.generation.v1 import generation_pb2
from byok.keyvault.v1 import keyvault_pb2, keyvault_pb2_grpc

from generation_service.config import ProviderSettings
from generation_service.errors import (
    InvalidRequest,
    KeyVaultFailed,
    KeyVaultUnavailable,
    NoKeyConfigured,
)
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

    @property
    def fingerprint(self) -> str:
        secret = self.secret.reveal()
        return "" if secret == LOCAL_PLACEHOLDER_KEY else fingerprint_of(secret)

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
        self._providers = providers
        self._timeout_s = timeout_s

    async def resolve(
        self, tenant_id: str, provider: str, time_remaining_s: float | None
    ) -> ResolvedKey:
        settings = self._providers[provider]
        if provider == "local":
            key = settings.platform_key.reveal() or LOCAL_PLACEHOLDER_KEY
            return ResolvedKey(provider, SecretStr(key), PLATFORM)

        timeout = self._timeout_s
        if time_remaining_s is not None:
            timeout = min(timeout, max(time_remaining_s, 0.0))
        request = keyvault_pb2.GetDecryptedKeyRequest(
            tenant_id=tenant_id, provider=provider
        )
        try:
            response = await self._keyvault.GetDecryptedKey(request, timeout=timeout)
        except grpc.aio.AioRpcError as error:
            return self._without_tenant_key(provider, error.code(), settings)

        if not response.api_key:
            raise KeyVaultFailed(f"the key vault returned an empty {provider} key")
        _log.debug("key resolved", provider=provider, key_source="tenant")
        return ResolvedKey(provider, SecretStr(response.api_key), TENANT)

    def _without_tenant_key(
        self, provider: str, code: grpc.StatusCode, settings: ProviderSettings
    ) -> ResolvedKey:
        if code in _UNAVAILABLE:
            raise KeyVaultUnavailable(
                f"the key vault did not answer ({code.name}); "
                f"no {provider} key was used"
            )
        if code == grpc.StatusCode.INVALID_ARGUMENT:
            raise InvalidRequest("the key vault rejected the tenant or provider")
        if code != grpc.StatusCode.NOT_FOUND:
            raise KeyVaultFailed(
                f"the key vault failed ({code.name}); no {provider} key was used"
            )

        if not settings.platform_key:
            raise NoKeyConfigured(
                f"no {provider} key is configured for this tenant or the platform"
            )
        _log.debug("key resolved", provider=provider, key_source="platform")
        return ResolvedKey(provider, settings.platform_key, PLATFORM)
