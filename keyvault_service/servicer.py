"""The gRPC face of KeyVault: validation, authorisation, statuses.

Who may call what, by the caller certificate's common name:

- the operator allow-list (``KEYVAULT_ADMIN_ALLOWED_CLIENTS``): every call
  that changes a key or reads custody records - SaveKey, DeleteKey,
  UpdateKey, RotateKek, RewrapKeys, SetMinDecryptionVersion, RekeyKey,
  DeleteTenant and ListAuditEvents;
- the decrypt allow-list (``KEYVAULT_DECRYPT_ALLOWED_CLIENTS``):
  GetDecryptedKey and ReportKeyRejected;
- either list: ListProviders, which shows metadata only.

A certificate from the service's CA proves who the caller is, not what it
may do: every other certificate is refused with ``PERMISSION_DENIED``.

Allow-lists are checked before the request is validated, so a stranger
learns nothing about tenant ids. Every RPC runs through :func:`_guarded`,
which ends a failed call with the status, reason and message that
:data:`keyvault_service.errors.ERROR_TABLE` gives its error. Unexpected
exceptions become a bare ``INTERNAL``: their text is logged without
traceback locals and never sent to the caller.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Awaitable, Callable, Set
from typing import TypeVar

import grpc
import structlog
from byok.keyvault.v1 import keyvault_pb2 as pb
from byok.keyvault.v1 import keyvault_pb2_grpc

from keyvault_service import audit, messages, validation
from keyvault_service.config import MAX_REWRAP_BATCH_SIZE
from keyvault_service.errors import (
    CallerNotAllowed,
    InvalidArgument,
    InvalidField,
    KeyVaultError,
    StorageError,
    outcome_of,
    public_message,
)
from keyvault_service.keys import UNCHANGED, Keep, KeyService
from keyvault_service.rotation import Rotation
from keyvault_service.shredding import TenantShredder
from keyvault_service.storage import KeyStore
from shared.rpc import abort, annotate
from shared.tls import peer_identities

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["KeyVaultService"].full_name
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
_REASON = re.compile(r"[a-z0-9_.:-]{1,64}")
# What a refused caller is told it may not do, per operator RPC group.
CHANGE_KEYS = "change keys"
OPERATOR_RPCS = "call operator RPCs"

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
    def __init__(
        self,
        keys: KeyService,
        store: KeyStore,
        rotation: Rotation,
        shredder: TenantShredder,
        decrypt_allowed: Set[str],
        admin_allowed: Set[str],
        expiry_window: dt.timedelta,
    ) -> None:
        self._keys = keys
        self._store = store
        self._rotation = rotation
        self._shredder = shredder
        self._decrypt_allowed = frozenset(decrypt_allowed)
        self._admin_allowed = frozenset(admin_allowed)
        self._expiry_window = expiry_window

    # -- operator allow-list: keys ------------------------------------------

    @_guarded
    async def SaveKey(
        self, request: pb.SaveKeyRequest, context: grpc.aio.ServicerContext
    ) -> pb.SaveKeyResponse:
        caller = self._authorise_admin(context, CHANGE_KEYS)
        tenant, provider = _tenant_and_provider(request)
        api_key = validation.api_key(request.api_key)
        expires_at = None
        if request.HasField("expire_time"):
            expires_at = messages.moment(request.expire_time, "expire_time")
        metadata, created = await self._keys.save(
            tenant, provider, api_key, expires_at, caller
        )
        annotate(created=created, kek_version=metadata.kek_version)
        return pb.SaveKeyResponse(key=self._metadata(metadata), created=created)

    @_guarded
    async def DeleteKey(
        self, request: pb.DeleteKeyRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteKeyResponse:
        caller = self._authorise_admin(context, CHANGE_KEYS)
        tenant, provider = _tenant_and_provider(request)
        deleted = await self._keys.delete(tenant, provider, caller)
        annotate(deleted=deleted)
        return pb.DeleteKeyResponse(deleted=deleted)

    @_guarded
    async def ListProviders(
        self, request: pb.ListProvidersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListProvidersResponse:
        self._authorise(
            context,
            self._admin_allowed | self._decrypt_allowed,
            "list keys",
        )
        tenant = validation.tenant_id(request.tenant_id)
        annotate(tenant=tenant)
        window = self._expiry_window
        if request.HasField("expiring_within"):
            window = request.expiring_within.ToTimedelta()
            if window < dt.timedelta(0):
                raise InvalidField("expiring_within", "expiring_within is negative")
        keys = [
            messages.key_metadata(k, self._keys.expiring_soon(k, window))
            for k in await self._keys.list(tenant)
        ]
        if request.expiring_only:
            keys = [k for k in keys if k.expiring_soon]
        annotate(count=len(keys))
        return pb.ListProvidersResponse(keys=keys)

    @_guarded
    async def UpdateKey(
        self, request: pb.UpdateKeyRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateKeyResponse:
        caller = self._authorise_admin(context, CHANGE_KEYS)
        tenant, provider = _tenant_and_provider(request)
        status = None
        if request.status != pb.KEY_STATUS_UNSPECIFIED:
            status = messages.SETTABLE_STATUS.get(request.status)
            if status is None:
                raise InvalidField("status", "status must be ACTIVE or DISABLED")
        expires_at: dt.datetime | Keep | None = UNCHANGED
        if request.HasField("expire_time") and request.clear_expire_time:
            raise InvalidField(
                "expire_time", "give expire_time or clear_expire_time, not both"
            )
        if request.HasField("expire_time"):
            expires_at = messages.moment(request.expire_time, "expire_time")
        elif request.clear_expire_time:
            expires_at = None
        annotate(key_status=status or "unchanged")
        metadata = await self._keys.update(
            tenant, provider, status, expires_at, caller
        )
        return pb.UpdateKeyResponse(key=self._metadata(metadata))

    # -- decrypt allow-list --------------------------------------------------

    @_guarded
    async def GetDecryptedKey(
        self, request: pb.GetDecryptedKeyRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetDecryptedKeyResponse:
        caller = await self._authorise_decrypt(context, request)
        tenant, provider = _tenant_and_provider(request)
        api_key, metadata = await self._keys.reveal(tenant, provider, caller)
        annotate(kek_version=metadata.kek_version)
        return pb.GetDecryptedKeyResponse(
            api_key=api_key.reveal(), key=self._metadata(metadata)
        )

    @_guarded
    async def ReportKeyRejected(
        self, request: pb.ReportKeyRejectedRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReportKeyRejectedResponse:
        caller = await self._authorise_decrypt(context, request)
        tenant, provider = _tenant_and_provider(request)
        key_id = messages.key_id(request.key_id)
        if not _REASON.fullmatch(request.reason):
            raise InvalidField(
                "reason", "reason must be 1 to 64 of a-z, 0-9, '_', '.', ':', '-'"
            )
        marked = await self._keys.report_rejected(
            tenant, provider, key_id, request.reason, caller
        )
        annotate(marked=marked)
        return pb.ReportKeyRejectedResponse(marked=marked)

    # -- operator allow-list: custody -----------------------------------------

    @_guarded
    async def RotateKek(
        self, request: pb.RotateKekRequest, context: grpc.aio.ServicerContext
    ) -> pb.RotateKekResponse:
        caller = self._authorise_admin(context, OPERATOR_RPCS)
        report = await self._rotation.rotate(
            caller,
            request.raise_min_decryption_version,
            _batch_size(request.batch_size),
        )
        keks, failures = messages.rotation_parts(report)
        annotate(failures=len(failures))
        return pb.RotateKekResponse(keks=keks, failures=failures)

    @_guarded
    async def RewrapKeys(
        self, request: pb.RewrapKeysRequest, context: grpc.aio.ServicerContext
    ) -> pb.RewrapKeysResponse:
        caller = self._authorise_admin(context, OPERATOR_RPCS)
        report = await self._rotation.rewrap(
            caller,
            request.raise_min_decryption_version,
            _batch_size(request.batch_size),
        )
        keks, failures = messages.rotation_parts(report)
        annotate(failures=len(failures))
        return pb.RewrapKeysResponse(keks=keks, failures=failures)

    @_guarded
    async def SetMinDecryptionVersion(
        self,
        request: pb.SetMinDecryptionVersionRequest,
        context: grpc.aio.ServicerContext,
    ) -> pb.SetMinDecryptionVersionResponse:
        caller = self._authorise_admin(context, OPERATOR_RPCS)
        if request.version < 1:
            raise InvalidField("version", "version must be 1 or more")
        report = await self._rotation.set_min_decryption_version(
            request.kek_key_name, request.version, caller
        )
        return pb.SetMinDecryptionVersionResponse(kek=messages.kek_state(report))

    @_guarded
    async def RekeyKey(
        self, request: pb.RekeyKeyRequest, context: grpc.aio.ServicerContext
    ) -> pb.RekeyKeyResponse:
        caller = self._authorise_admin(context, CHANGE_KEYS)
        tenant, provider = _tenant_and_provider(request)
        metadata = await self._keys.rekey(tenant, provider, caller)
        return pb.RekeyKeyResponse(key=self._metadata(metadata))

    @_guarded
    async def DeleteTenant(
        self, request: pb.DeleteTenantRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteTenantResponse:
        caller = self._authorise_admin(context, OPERATOR_RPCS)
        tenant = validation.tenant_id(request.tenant_id)
        annotate(tenant=tenant)
        deletion = await self._shredder.delete_tenant(tenant, caller)
        annotate(deleted=deletion.deleted_keys)
        return pb.DeleteTenantResponse(
            deleted_keys=deletion.deleted_keys,
            shred_time=messages.timestamp(deletion.shred_at),
            save_allowed_time=messages.timestamp(deletion.save_allowed_at),
        )

    @_guarded
    async def ListAuditEvents(
        self, request: pb.ListAuditEventsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAuditEventsResponse:
        self._authorise_admin(context, OPERATOR_RPCS)
        tenant = request.tenant_id and validation.tenant_id(request.tenant_id)
        annotate(tenant=tenant)
        size = request.page_size or DEFAULT_PAGE_SIZE
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise InvalidField("page_size", f"page_size must be 0 to {MAX_PAGE_SIZE}")
        records = await audit.list_events(
            self._store.pool,
            tenant,
            messages.before_id(request.page_token),
            size + 1,
            self._store.timeout_s,
        )
        page = records[:size]
        token = messages.page_token(page[-1].id) if len(records) > size else ""
        return pb.ListAuditEventsResponse(
            events=[messages.audit_event(record) for record in page],
            next_page_token=token,
        )

    # -- helpers -------------------------------------------------------------

    async def _authorise_decrypt(
        self,
        context: grpc.aio.ServicerContext,
        request: pb.GetDecryptedKeyRequest | pb.ReportKeyRejectedRequest,
    ) -> str:
        identities = peer_identities(context)
        allowed = identities & self._decrypt_allowed
        if allowed:
            annotate(caller=sorted(allowed))
            return sorted(allowed)[0]
        annotate(caller=sorted(identities))
        if isinstance(request, pb.GetDecryptedKeyRequest):
            await self._record_denied(request, _caller(context))
            raise CallerNotAllowed("read decrypted keys")
        raise CallerNotAllowed("report rejected keys")

    def _authorise_admin(self, context: grpc.aio.ServicerContext, action: str) -> str:
        return self._authorise(context, self._admin_allowed, action)

    def _authorise(
        self, context: grpc.aio.ServicerContext, allow_list: Set[str], action: str
    ) -> str:
        """The caller's allowed name; refused, the message names ``action``."""
        identities = peer_identities(context)
        allowed = identities & allow_list
        annotate(caller=sorted(allowed or identities))
        if not allowed:
            raise CallerNotAllowed(action)
        return sorted(allowed)[0]

    async def _record_denied(
        self, request: pb.GetDecryptedKeyRequest, caller: str
    ) -> None:
        # Recorded under the tenant asked for, when it is a well-formed id.
        try:
            tenant, provider = _tenant_and_provider(request)
        except InvalidArgument:
            tenant, provider = "", ""
        try:
            await self._store.record(audit.Entry(
                audit.Event.DECRYPT_DENIED, tenant, provider, caller,
                detail="CALLER_NOT_ALLOWED",
            ))
        except StorageError as error:
            _log.warning("could not record a denied decrypt", error=str(error))

    def _metadata(self, metadata: messages.KeyMetadata) -> pb.KeyMetadata:
        soon = self._keys.expiring_soon(metadata, self._expiry_window)
        return messages.key_metadata(metadata, soon)


def _caller(context: grpc.aio.ServicerContext) -> str:
    return ",".join(sorted(peer_identities(context)))


def _batch_size(requested: int) -> int:
    if not 0 <= requested <= MAX_REWRAP_BATCH_SIZE:
        raise InvalidField(
            "batch_size", f"batch_size must be 0 to {MAX_REWRAP_BATCH_SIZE}"
        )
    return requested


def _tenant_and_provider(
    request: pb.SaveKeyRequest
    | pb.DeleteKeyRequest
    | pb.GetDecryptedKeyRequest
    | pb.UpdateKeyRequest
    | pb.ReportKeyRejectedRequest
    | pb.RekeyKeyRequest,
) -> tuple[str, str]:
    tenant = validation.tenant_id(request.tenant_id)
    annotate(tenant=tenant)
    provider = validation.provider(request.provider)
    annotate(provider=provider)
    return tenant, provider
