"""Every way a KeyVault operation can fail, and the gRPC status each one gets.

::

    KeyVaultError
    ├── InvalidArgument            the request is malformed; nothing was written
    │   ├── InvalidTenantId
    │   ├── InvalidProvider
    │   ├── InvalidApiKey
    │   └── InvalidField           any other field; the instance names it
    ├── CallerNotAllowed           the client certificate may not make this call
    ├── KeyNotFound                the tenant has no key for the provider
    ├── KeyUnusable                the key exists but must not be used now
    │   ├── KeyDisabled            the platform disabled it
    │   ├── KeyRejectedByProvider  the provider refused it; save a new one
    │   └── KeyExpired             its expiry date has passed
    ├── KeyUnreadable              a stored key failed authentication (opaque)
    ├── KeyChanged                 the key was replaced while being worked on
    ├── TenantDeleted              the tenant is being deleted; no new keys
    ├── TenantNotFound             the tenant has no keys and no deletion
    ├── RotationRefused            a rotation step would lose or race data
    │   ├── RowsBelowVersion       rows still need a KEK version being retired
    │   └── RotationInProgress     another replica is rotating right now
    ├── StorageError               PostgreSQL answered with an error
    │   └── StorageUnavailable     PostgreSQL cannot be reached in time
    ├── KekError                   the key-encryption key misbehaved
    │   ├── KekUnavailable         Vault cannot be reached, is sealed or busy
    │   │   └── KekLoginFailed     Vault refused or did not answer a login
    │   ├── KekAccessDenied        Vault refused the token
    │   ├── KekMisconfigured       the KEK is missing or not a derived key
    │   └── KekMismatch            a row is wrapped by a KEK we do not hold
    └── StartupError               the service must not start
        ├── KeyringError           the local keyring is unsafe, malformed or not
        │                          the one stored keys were wrapped with
        └── MigrationError         the schema cannot be brought up to date

:data:`ERROR_TABLE` gives each class its status, ``ErrorInfo`` reason and, for
errors whose text could help an attacker or confuse a tenant, a fixed public
message. Messages never carry key material or the caller's raw input.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc


class KeyVaultError(Exception):
    """Root of every error the KeyVault service raises on purpose."""


class InvalidArgument(KeyVaultError):
    """The request is malformed; its message names the field, not its value."""

    field = ""


class InvalidTenantId(InvalidArgument):
    field = "tenant_id"


class InvalidProvider(InvalidArgument):
    field = "provider"


class InvalidApiKey(InvalidArgument):
    field = "api_key"


class InvalidField(InvalidArgument):
    """A request field other than tenant, provider and key is malformed."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class CallerNotAllowed(KeyVaultError):
    """The caller's certificate is not on the allow-list of this call.

    The message says what the certificate may not do, in words fixed by the
    call; it never holds the request's input or the certificate's names.
    """

    def __init__(self, action: str) -> None:
        super().__init__(f"this client certificate may not {action}")


class KeyNotFound(KeyVaultError):
    """No key is stored for this tenant and provider."""


class KeyUnusable(KeyVaultError):
    """A key is stored but its lifecycle state forbids using it.

    Generation must not fall back to the platform key here: the tenant has a
    key, it is just not usable until the platform fixes it.
    """


class KeyDisabled(KeyUnusable):
    """The platform disabled the key."""


class KeyRejectedByProvider(KeyUnusable):
    """A provider refused the key; it stays refused until replaced or re-enabled."""


class KeyExpired(KeyUnusable):
    """The key's expiry date has passed."""


class KeyUnreadable(KeyVaultError):
    """A stored key cannot be decrypted: tampered, moved, or wrongly wrapped.

    The cause is deliberately not carried: telling a caller which layer
    rejected a forged row helps forge the next one.
    """


class KeyChanged(KeyVaultError):
    """The stored key was replaced or deleted during the operation."""


class TenantDeleted(KeyVaultError):
    """The tenant was deleted; its keys cannot be saved until it is shredded."""


class TenantNotFound(KeyVaultError):
    """The tenant has no keys and was never deleted: nothing to delete."""


class RotationRefused(KeyVaultError):
    """A rotation step was refused because it would lose or race data."""


class RowsBelowVersion(RotationRefused):
    """Stored keys still need a KEK version the request would retire."""


class RotationInProgress(RotationRefused):
    """Another replica holds the rotation lock."""


class StorageError(KeyVaultError):
    """PostgreSQL rejected a statement."""


class StorageUnavailable(StorageError):
    """PostgreSQL could not be reached or did not answer in time."""


class KekError(KeyVaultError):
    """The key-encryption key provider failed in an unexpected way."""


class KekUnavailable(KekError):
    """The KEK provider cannot be reached, is sealed or is overloaded."""


class KekLoginFailed(KekUnavailable):
    """Logging in to Vault failed: bad credentials or no answer."""


class KekAccessDenied(KekError):
    """The KEK provider refused our credentials (expired or revoked token)."""


class KekMisconfigured(KekError):
    """The configured KEK does not exist or cannot bind a tenant context."""


class KekMismatch(KekError):
    """A stored data key is wrapped by another provider or key name."""


class StartupError(KeyVaultError):
    """A condition found at start-up that must stop the service."""


class KeyringError(StartupError):
    """The local keyring file is missing, unsafe or malformed."""


class MigrationError(StartupError):
    """The database schema cannot be brought up to date."""


@dataclass(frozen=True)
class Outcome:
    """How one error class ends an RPC."""

    code: grpc.StatusCode
    reason: str
    # None: the error's own message is safe and useful to show the caller.
    message: str | None = None
    retry_after_s: float | None = None


_RETRY_AFTER_S = 1.0

ERROR_TABLE: dict[type[KeyVaultError], Outcome] = {
    InvalidArgument: Outcome(grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
    InvalidTenantId: Outcome(grpc.StatusCode.INVALID_ARGUMENT, "INVALID_TENANT_ID"),
    InvalidProvider: Outcome(grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PROVIDER"),
    InvalidApiKey: Outcome(grpc.StatusCode.INVALID_ARGUMENT, "INVALID_API_KEY"),
    InvalidField: Outcome(grpc.StatusCode.INVALID_ARGUMENT, "INVALID_FIELD"),
    CallerNotAllowed: Outcome(
        grpc.StatusCode.PERMISSION_DENIED, "CALLER_NOT_ALLOWED"
    ),
    KeyNotFound: Outcome(
        grpc.StatusCode.NOT_FOUND,
        "KEY_NOT_FOUND",
        "no key is stored for this tenant and provider",
    ),
    KeyUnusable: Outcome(
        grpc.StatusCode.FAILED_PRECONDITION,
        "KEY_UNUSABLE",
        "the stored key may not be used",
    ),
    KeyDisabled: Outcome(
        grpc.StatusCode.FAILED_PRECONDITION,
        "KEY_DISABLED",
        "the stored key is disabled",
    ),
    KeyRejectedByProvider: Outcome(
        grpc.StatusCode.FAILED_PRECONDITION,
        "KEY_REJECTED_BY_PROVIDER",
        "the provider rejected the stored key; save a new one",
    ),
    KeyExpired: Outcome(
        grpc.StatusCode.FAILED_PRECONDITION,
        "KEY_EXPIRED",
        "the stored key has expired",
    ),
    KeyUnreadable: Outcome(
        grpc.StatusCode.DATA_LOSS,
        "KEY_UNREADABLE",
        "the stored key cannot be decrypted",
    ),
    KeyChanged: Outcome(
        grpc.StatusCode.ABORTED,
        "KEY_CHANGED",
        "the stored key changed during the operation; read it again",
    ),
    TenantDeleted: Outcome(
        grpc.StatusCode.FAILED_PRECONDITION,
        "TENANT_DELETED",
        "the tenant is being deleted",
    ),
    TenantNotFound: Outcome(
        grpc.StatusCode.NOT_FOUND,
        "TENANT_NOT_FOUND",
        "the tenant has no keys and no pending deletion",
    ),
    RotationRefused: Outcome(
        grpc.StatusCode.FAILED_PRECONDITION, "ROTATION_REFUSED"
    ),
    RowsBelowVersion: Outcome(
        grpc.StatusCode.FAILED_PRECONDITION, "ROWS_BELOW_VERSION"
    ),
    RotationInProgress: Outcome(
        grpc.StatusCode.ABORTED,
        "ROTATION_IN_PROGRESS",
        "another replica is rotating the key-encryption key",
    ),
    StorageError: Outcome(
        grpc.StatusCode.INTERNAL, "STORAGE_ERROR", "the key store failed"
    ),
    StorageUnavailable: Outcome(
        grpc.StatusCode.UNAVAILABLE,
        "STORAGE_UNAVAILABLE",
        "the key store is unavailable",
        _RETRY_AFTER_S,
    ),
    KekError: Outcome(
        grpc.StatusCode.INTERNAL,
        "KEK_ERROR",
        "the key-encryption service failed",
    ),
    KekUnavailable: Outcome(
        grpc.StatusCode.UNAVAILABLE,
        "KEK_UNAVAILABLE",
        "the key-encryption service is unavailable",
        _RETRY_AFTER_S,
    ),
    KekLoginFailed: Outcome(
        grpc.StatusCode.UNAVAILABLE,
        "KEK_LOGIN_FAILED",
        "the key-encryption service refused or did not answer a login",
        _RETRY_AFTER_S,
    ),
    KekAccessDenied: Outcome(
        grpc.StatusCode.UNAVAILABLE,
        "KEK_ACCESS_DENIED",
        "the key-encryption service refused this service's credentials",
        _RETRY_AFTER_S,
    ),
    KekMisconfigured: Outcome(
        grpc.StatusCode.INTERNAL,
        "KEK_MISCONFIGURED",
        "the key-encryption key is misconfigured",
    ),
    KekMismatch: Outcome(
        grpc.StatusCode.INTERNAL,
        "KEK_MISMATCH",
        "the stored key is wrapped by a key-encryption key this service lacks",
    ),
    StartupError: Outcome(
        grpc.StatusCode.INTERNAL, "STARTUP_FAILED", "the service is misconfigured"
    ),
    KeyringError: Outcome(
        grpc.StatusCode.INTERNAL, "KEYRING_INVALID", "the service is misconfigured"
    ),
    MigrationError: Outcome(
        grpc.StatusCode.INTERNAL, "MIGRATION_FAILED", "the service is misconfigured"
    ),
}

UNEXPECTED = Outcome(grpc.StatusCode.INTERNAL, "INTERNAL", "internal error")


def outcome_of(error: BaseException) -> Outcome:
    """The table row for ``error``'s class, or for an unexpected failure."""
    for cls in type(error).__mro__:
        if cls in ERROR_TABLE:
            return ERROR_TABLE[cls]
    return UNEXPECTED


def public_message(error: KeyVaultError) -> str:
    outcome = outcome_of(error)
    return outcome.message if outcome.message is not None else str(error)
