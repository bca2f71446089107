"""The gRPC face of :class:`KeyService`: validation, authorisation, statuses.

Every RPC runs through :func:`_guarded`, which ends a failed call with the
status, reason and message that :data:`keyvault_service.errors.ERROR_TABLE`
gives its error. Unexpected exceptions become a bare ``INTERNAL``: their text
is logged without traceback locals and never sent to the caller.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Set
from typing import TypeVar

import grpc
import structlog
from byok.keyvault.v1 import keyvault_pb2, keyvault_pb2_grpc
from google.protobuf.timestamp_pb2 import Timestamp

from keyvault_service import validation
from keyvault_service.errors import (
    CallerNotAllowed,
    InvalidArgument,
    KeyVaultError,
    outcome_of,
    public_message,
)
from keyvault_service.keys import KeyService
from keyvault_service.storage import KeyMetadata
from shared.rpc import abort, annotate
from shared.tls import peer_identities

SERVICE_NAME = keyvault_pb2.DESCRIPTOR.services_by_name["KeyVaultService"].full_name

_log = structlog.get_logger("byok.keyvault.rpc")


_Request = TypeVar("_Request")
_Response = TypeVar("_Response")
_Handler = Callable[
    ["KeyVaultServicer", _Request, grpc.aio.ServicerContext], Awaitable[_Response]
]


def _guarded(handler: _Handler[_Request, _Response]) -> _Handler[_Request, _Response]:
    """End the RPC with the mapped status when the handler raises."""

    @functools.wraps(handler)
    async def guarded(
        self: KeyVaultServicer, request: _Request, context: grpc.aio.ServicerContext
    ) -> _Response:
        try:
            return await handler(self, request, context)
        except KeyVaultError as error:
            outcome = outcome_of(error)
            _log.debug("rpc failed", error=type(error).__name__, detail=str(error))
            field = error.field if isinstance(error, InvalidArgument) else ""
            await abort(
                context,
                outcome.code,
                public_message(error),
                outcome.reason,
                metadata={"field": field} if field else None,
                retry_after_s=outcome.retry_after_s,
            )
        except Exception as error:
            outcome = outcome_of(error)
            _log.error("rpc raised unexpectedly", exc_info=True)
            await abort(context, outcome.code, outcome.message or "", outcome.reason)

    return guarded


class KeyVaultServicer(keyvault_pb2_grpc.KeyVaultServiceServicer):
    def __init__(self, keys: KeyService, decrypt_allowed: Set[str]) -> None:
        self._keys = keys
        self._decrypt_allowed = frozenset(decrypt_allowed)

    @_guarded
    async def SaveKey(
        self, request: keyvault_pb2.SaveKeyRequest, context: grpc.aio.ServicerContext
    ) -> keyvault_pb2.SaveKeyResponse:
        tenant, provider = _tenant_and_provider(request)
        api_key = validation.api_key(request.api_key)
        metadata, created = await self._keys.save(tenant, provider, api_key)
        annotate(created=created, kek_version=metadata.kek_version)
        return keyvault_pb2.SaveKeyResponse(key=_metadata(metadata), created=created)

    @_guarded
    async def DeleteKey(
        self, request: keyvault_pb2.DeleteKeyRequest, context: grpc.aio.ServicerContext
    ) -> keyvault_pb2.DeleteKeyResponse:
        tenant, provider = _tenant_and_provider(request)
        deleted = await self._keys.delete(tenant, provider)
        annotate(deleted=deleted)
        return keyvault_pb2.DeleteKeyResponse(deleted=deleted)

    @_guarded
    async def ListProviders(
        self,
        request: keyvault_pb2.ListProvidersRequest,
        context: grpc.aio.ServicerContext,
    ) -> keyvault_pb2.ListProvidersResponse:
        tenant = validation.tenant_id(request.tenant_id)
        annotate(tenant=tenant)
        keys = await self._keys.list(tenant)
        annotate(count=len(keys))
        return keyvault_pb2.ListProvidersResponse(keys=[_metadata(k) for k in keys])

    @_guarded
    async def GetDecryptedKey(
        self,
        request: keyvault_pb2.GetDecryptedKeyRequest,
        context: grpc.aio.ServicerContext,
    ) -> keyvault_pb2.GetDecryptedKeyResponse:
        self._authorise_decrypt(context)
        tenant, provider = _tenant_and_provider(request)
        api_key, metadata = await self._keys.reveal(tenant, provider)
        annotate(kek_version=metadata.kek_version)
        return keyvault_pb2.GetDecryptedKeyResponse(
            api_key=api_key.reveal(), key=_metadata(metadata)
        )

    def _authorise_decrypt(self, context: grpc.aio.ServicerContext) -> None:
        identities = peer_identities(context)
        allowed = identities & self._decrypt_allowed
        if not allowed:
            annotate(caller=sorted(identities))
            raise CallerNotAllowed("caller is not on the decrypt allow-list")
        annotate(caller=sorted(allowed))


def _tenant_and_provider(
    request: keyvault_pb2.SaveKeyRequest
    | keyvault_pb2.DeleteKeyRequest
    | keyvault_pb2.GetDecryptedKeyRequest,
) -> tuple[str, str]:
    tenant = validation.tenant_id(request.tenant_id)
    annotate(tenant=tenant)
    provider = validation.provider(request.provider)
    annotate(provider=provider)
    return tenant, provider


def _metadata(metadata: KeyMetadata) -> keyvault_pb2.KeyMetadata:
    created = Timestamp()
    created.FromDatetime(metadata.created_at)
    updated = Timestamp()
    updated.FromDatetime(metadata.updated_at)
    return keyvault_pb2.KeyMetadata(
        tenant_id=metadata.tenant_id,
        provider=metadata.provider,
        fingerprint=metadata.fingerprint,
        create_time=created,
        update_time=updated,
        kek_version=metadata.kek_version,
    )
