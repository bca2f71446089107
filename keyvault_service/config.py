"""KeyVault's settings, read once from the environment at start-up.

Precedence: a value in the mapping given to :meth:`KeyVaultSettings.from_env`
(the process environment by default), then the ``DEFAULT_*`` constant below.
An empty ``DATABASE_URL`` means the caller starts an embedded PostgreSQL and
passes its URL to the server itself.

===================================  ============================================
``KEYVAULT_LISTEN``                  host:port of the mTLS server
``DATABASE_URL``                     PostgreSQL URL (may hold a password)
``KEYVAULT_TLS_CA/CERT/KEY``         PEM files; default ``$BYOK_STATE_DIR/certs``
``KEYVAULT_DECRYPT_ALLOWED_CLIENTS`` certificate names allowed GetDecryptedKey
                                     and ReportKeyRejected
``KEYVAULT_ADMIN_ALLOWED_CLIENTS``   certificate names allowed the operator RPCs
``KEK_PROVIDER``                     ``local`` (keyring file) or ``vault``
``KEK_LOCAL_KEYRING``                path of the local keyring file
``KEYVAULT_TENANT_KEKS``             one KEK per tenant, destroyed with the tenant
``VAULT_ADDR``                       Vault (or OpenBao) address
``VAULT_AUTH_METHOD``                ``token`` or ``approle`` (default: approle
                                     when ``VAULT_ROLE_ID`` is set)
``VAULT_TOKEN``                      token for ``token`` auth
``VAULT_ROLE_ID``/``_SECRET_ID``     AppRole credentials
``VAULT_APPROLE_MOUNT``              mount path of the AppRole auth method
``VAULT_TRANSIT_MOUNT``/``_KEY``     transit mount and derived key name
``VAULT_TENANT_KEY_PREFIX``          name prefix of per-tenant transit keys
``VAULT_TRANSIT_CREATE_KEY``         create the key at start when missing (dev)
``VAULT_TIMEOUT_S``                  budget of each Vault call, retries included
``KEYVAULT_DK_CACHE_MAX_AGE_S``      life of a cached data key; 0 disables
``KEYVAULT_DK_CACHE_MAX_USES``       reads one cached data key may serve
``KEYVAULT_DK_CACHE_MAX_ENTRIES``    data keys one replica holds at most
``KEYVAULT_REWRAP_BATCH_SIZE``       rows per transit rewrap call
``KEYVAULT_EXPIRY_WINDOW_DAYS``      ListProviders flags keys expiring this soon
``KEYVAULT_SHRED_GRACE_S``           delay between DeleteTenant and shredding
``KEYVAULT_SHRED_SWEEP_S``           how often a replica looks for due shreds
``KEYVAULT_DB_POOL_MAX``             PostgreSQL connections per replica
``KEYVAULT_DB_TIMEOUT_S``            budget of each PostgreSQL statement
``KEYVAULT_SHUTDOWN_GRACE_S``        time in-flight RPCs get on shutdown
``KEYVAULT_MAX_CONCURRENT_RPCS``     RPCs served at once; past it, callers get
                                     ``RESOURCE_EXHAUSTED`` at once
===================================  ============================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from shared.secrets import SecretStr
from shared.settings import (
    SettingsError,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_str,
    state_dir,
)
from shared.tls import TlsFiles

DEFAULT_LISTEN = "127.0.0.1:50051"
DEFAULT_DECRYPT_ALLOWED_CLIENTS = ("generation",)
DEFAULT_ADMIN_ALLOWED_CLIENTS = ("platform",)
DEFAULT_KEK_PROVIDER = "local"
DEFAULT_APPROLE_MOUNT = "approle"
DEFAULT_TRANSIT_MOUNT = "transit"
DEFAULT_TRANSIT_KEY = "byok-kek"
DEFAULT_TENANT_KEY_PREFIX = "byok-tenant-"
DEFAULT_VAULT_TIMEOUT_S = 5.0
# The AWS Encryption SDK's advice: the shortest age that still helps.
DEFAULT_DK_CACHE_MAX_AGE_S = 60.0
DEFAULT_DK_CACHE_MAX_USES = 1000
DEFAULT_DK_CACHE_MAX_ENTRIES = 10_000
DEFAULT_REWRAP_BATCH_SIZE = 100
MAX_REWRAP_BATCH_SIZE = 1000
DEFAULT_EXPIRY_WINDOW_DAYS = 30.0
DEFAULT_SHRED_GRACE_S = 24 * 3600.0
DEFAULT_SHRED_SWEEP_S = 60.0
DEFAULT_DB_POOL_MAX = 10
DEFAULT_DB_TIMEOUT_S = 5.0
DEFAULT_SHUTDOWN_GRACE_S = 2.0
# Well above what one process serves within its deadlines on two cores; the
# limit is there to refuse a flood at once rather than queue it for gRPC to
# cancel 30 s later without a word.
DEFAULT_MAX_CONCURRENT_RPCS = 1000

KekProviderName = Literal["local", "vault"]
VaultAuthMethod = Literal["token", "approle"]


@dataclass(frozen=True)
class KeyVaultSettings:
    listen: str
    database_url: SecretStr
    tls: TlsFiles
    decrypt_allowed_clients: frozenset[str]
    admin_allowed_clients: frozenset[str]
    kek_provider: KekProviderName
    local_keyring: Path
    tenant_keks: bool
    vault_addr: str
    vault_auth_method: VaultAuthMethod
    vault_token: SecretStr
    vault_role_id: str
    vault_secret_id: SecretStr
    vault_approle_mount: str
    vault_transit_mount: str
    vault_transit_key: str
    vault_tenant_key_prefix: str
    vault_transit_create_key: bool
    vault_timeout_s: float
    dk_cache_max_age_s: float
    dk_cache_max_uses: int
    dk_cache_max_entries: int
    rewrap_batch_size: int
    expiry_window_days: float
    shred_grace_s: float
    shred_sweep_s: float
    db_pool_max: int
    db_timeout_s: float
    shutdown_grace_s: float
    max_concurrent_rpcs: int = DEFAULT_MAX_CONCURRENT_RPCS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> KeyVaultSettings:
        env = os.environ if env is None else env
        base = state_dir(env)
        role_id = env_str(env, "VAULT_ROLE_ID")
        settings = cls(
            listen=env_str(env, "KEYVAULT_LISTEN", DEFAULT_LISTEN),
            database_url=SecretStr(env_str(env, "DATABASE_URL")),
            tls=TlsFiles.from_env(env, "KEYVAULT", base / "certs", "keyvault"),
            decrypt_allowed_clients=frozenset(
                env_list(
                    env,
                    "KEYVAULT_DECRYPT_ALLOWED_CLIENTS",
                    DEFAULT_DECRYPT_ALLOWED_CLIENTS,
                )
            ),
            admin_allowed_clients=frozenset(
                env_list(
                    env, "KEYVAULT_ADMIN_ALLOWED_CLIENTS", DEFAULT_ADMIN_ALLOWED_CLIENTS
                )
            ),
            kek_provider=_kek_provider(env),
            local_keyring=Path(
                env_str(env, "KEK_LOCAL_KEYRING", str(base / "keyring.json"))
            ),
            tenant_keks=env_bool(env, "KEYVAULT_TENANT_KEKS", False),
            vault_addr=env_str(env, "VAULT_ADDR").rstrip("/"),
            vault_auth_method=_vault_auth_method(env, role_id),
            vault_token=SecretStr(env_str(env, "VAULT_TOKEN")),
            vault_role_id=role_id,
            vault_secret_id=SecretStr(env_str(env, "VAULT_SECRET_ID")),
            vault_approle_mount=env_str(
                env, "VAULT_APPROLE_MOUNT", DEFAULT_APPROLE_MOUNT
            ).strip("/"),
            vault_transit_mount=env_str(
                env, "VAULT_TRANSIT_MOUNT", DEFAULT_TRANSIT_MOUNT
            ).strip("/"),
            vault_transit_key=env_str(env, "VAULT_TRANSIT_KEY", DEFAULT_TRANSIT_KEY),
            vault_tenant_key_prefix=env_str(
                env, "VAULT_TENANT_KEY_PREFIX", DEFAULT_TENANT_KEY_PREFIX
            ),
            vault_transit_create_key=env_bool(env, "VAULT_TRANSIT_CREATE_KEY", False),
            vault_timeout_s=env_float(env, "VAULT_TIMEOUT_S", DEFAULT_VAULT_TIMEOUT_S),
            dk_cache_max_age_s=env_float(
                env, "KEYVAULT_DK_CACHE_MAX_AGE_S", DEFAULT_DK_CACHE_MAX_AGE_S
            ),
            dk_cache_max_uses=env_int(
                env, "KEYVAULT_DK_CACHE_MAX_USES", DEFAULT_DK_CACHE_MAX_USES
            ),
            dk_cache_max_entries=env_int(
                env, "KEYVAULT_DK_CACHE_MAX_ENTRIES", DEFAULT_DK_CACHE_MAX_ENTRIES
            ),
            rewrap_batch_size=env_int(
                env, "KEYVAULT_REWRAP_BATCH_SIZE", DEFAULT_REWRAP_BATCH_SIZE
            ),
            expiry_window_days=env_float(
                env, "KEYVAULT_EXPIRY_WINDOW_DAYS", DEFAULT_EXPIRY_WINDOW_DAYS
            ),
            shred_grace_s=env_float(
                env, "KEYVAULT_SHRED_GRACE_S", DEFAULT_SHRED_GRACE_S
            ),
            shred_sweep_s=env_float(
                env, "KEYVAULT_SHRED_SWEEP_S", DEFAULT_SHRED_SWEEP_S
            ),
            db_pool_max=env_int(env, "KEYVAULT_DB_POOL_MAX", DEFAULT_DB_POOL_MAX),
            db_timeout_s=env_float(env, "KEYVAULT_DB_TIMEOUT_S", DEFAULT_DB_TIMEOUT_S),
            shutdown_grace_s=env_float(
                env, "KEYVAULT_SHUTDOWN_GRACE_S", DEFAULT_SHUTDOWN_GRACE_S
            ),
            max_concurrent_rpcs=env_int(
                env, "KEYVAULT_MAX_CONCURRENT_RPCS", DEFAULT_MAX_CONCURRENT_RPCS
            ),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        """Refuse combinations the service cannot run with."""
        if not self.decrypt_allowed_clients:
            raise SettingsError("KEYVAULT_DECRYPT_ALLOWED_CLIENTS must name a client")
        for name, value in (
            ("VAULT_TIMEOUT_S", self.vault_timeout_s),
            ("KEYVAULT_DB_TIMEOUT_S", self.db_timeout_s),
            ("KEYVAULT_SHRED_SWEEP_S", self.shred_sweep_s),
        ):
            if value <= 0:
                raise SettingsError(f"{name} must be greater than zero")
        for name, value in (
            ("KEYVAULT_DK_CACHE_MAX_AGE_S", self.dk_cache_max_age_s),
            ("KEYVAULT_EXPIRY_WINDOW_DAYS", self.expiry_window_days),
            ("KEYVAULT_SHRED_GRACE_S", self.shred_grace_s),
        ):
            if value < 0:
                raise SettingsError(f"{name} must not be negative")
        for name, count in (
            ("KEYVAULT_DB_POOL_MAX", self.db_pool_max),
            ("KEYVAULT_DK_CACHE_MAX_USES", self.dk_cache_max_uses),
            ("KEYVAULT_DK_CACHE_MAX_ENTRIES", self.dk_cache_max_entries),
            ("KEYVAULT_MAX_CONCURRENT_RPCS", self.max_concurrent_rpcs),
        ):
            if count < 1:
                raise SettingsError(f"{name} must be at least 1")
        if not 1 <= self.rewrap_batch_size <= MAX_REWRAP_BATCH_SIZE:
            raise SettingsError(
                f"KEYVAULT_REWRAP_BATCH_SIZE must be 1 to {MAX_REWRAP_BATCH_SIZE}"
            )
        if self.kek_provider != "vault":
            return
        if not self.vault_addr.startswith(("http://", "https://")):
            raise SettingsError("VAULT_ADDR must be an http:// or https:// URL")
        if self.vault_auth_method == "token" and not self.vault_token:
            raise SettingsError("VAULT_TOKEN is required when KEK_PROVIDER=vault")
        if self.vault_auth_method == "approle" and not (
            self.vault_role_id and self.vault_secret_id
        ):
            raise SettingsError(
                "VAULT_ROLE_ID and VAULT_SECRET_ID are required for AppRole login"
            )


def _kek_provider(env: Mapping[str, str]) -> KekProviderName:
    value = env_str(env, "KEK_PROVIDER", DEFAULT_KEK_PROVIDER).lower()
    if value == "local":
        return "local"
    if value == "vault":
        return "vault"
    raise SettingsError("KEK_PROVIDER must be local or vault")


def _vault_auth_method(env: Mapping[str, str], role_id: str) -> VaultAuthMethod:
    default = "approle" if role_id else "token"
    value = env_str(env, "VAULT_AUTH_METHOD", default).lower()
    if value == "token":
        return "token"
    if value == "approle":
        return "approle"
    raise SettingsError("VAULT_AUTH_METHOD must be token or approle")
