"""KeyVault's settings, read once from the environment at start-up.

Precedence: a value in the mapping given to :meth:`KeyVaultSettings.from_env`
(the process environment by default), then the ``DEFAULT_*`` constant below.
An empty ``DATABASE_URL`` means the caller starts an embedded PostgreSQL and
passes its URL to the server itself.

=================================  ==============================================
``KEYVAULT_LISTEN``                host:port of the mTLS server
``DATABASE_URL``                   PostgreSQL URL (may hold a password)
``KEYVAULT_TLS_CA/CERT/KEY``       PEM files; default ``$BYOK_STATE_DIR/certs``
``KEYVAULT_DECRYPT_ALLOWED_CLIENTS`` certificate names allowed GetDecryptedKey
``KEK_PROVIDER``                   ``local`` (keyring file) or ``vault``
``KEK_LOCAL_KEYRING``              path of the local keyring file
``VAULT_ADDR``, ``VAULT_TOKEN``    Vault (or OpenBao) address and token
``VAULT_TRANSIT_MOUNT``/``_KEY``   transit mount and derived key name
``VAULT_TRANSIT_CREATE_KEY``       create the key at start when missing (dev)
``VAULT_TIMEOUT_S``                budget of each Vault call
``KEYVAULT_DB_POOL_MAX``           PostgreSQL connections per replica
``KEYVAULT_DB_TIMEOUT_S``          budget of each PostgreSQL statement
``KEYVAULT_SHUTDOWN_GRACE_S``      time in-flight RPCs get on shutdown
=================================  ==============================================
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
DEFAULT_KEK_PROVIDER = "local"
DEFAULT_TRANSIT_MOUNT = "transit"
DEFAULT_TRANSIT_KEY = "byok-kek"
DEFAULT_VAULT_TIMEOUT_S = 5.0
DEFAULT_DB_POOL_MAX = 10
DEFAULT_DB_TIMEOUT_S = 5.0
DEFAULT_SHUTDOWN_GRACE_S = 2.0

KekProviderName = Literal["local", "vault"]


@dataclass(frozen=True)
class KeyVaultSettings:
    listen: str
    database_url: SecretStr
    tls: TlsFiles
    decrypt_allowed_clients: frozenset[str]
    kek_provider: KekProviderName
    local_keyring: Path
    vault_addr: str
    vault_token: SecretStr
    vault_transit_mount: str
    vault_transit_key: str
    vault_transit_create_key: bool
    vault_timeout_s: float
    db_pool_max: int
    db_timeout_s: float
    shutdown_grace_s: float

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> KeyVaultSettings:
        env = os.environ if env is None else env
        base = state_dir(env)
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
            kek_provider=_kek_provider(env),
            local_keyring=Path(
                env_str(env, "KEK_LOCAL_KEYRING", str(base / "keyring.json"))
            ),
            vault_addr=env_str(env, "VAULT_ADDR").rstrip("/"),
            vault_token=SecretStr(env_str(env, "VAULT_TOKEN")),
            vault_transit_mount=env_str(
                env, "VAULT_TRANSIT_MOUNT", DEFAULT_TRANSIT_MOUNT
            ).strip("/"),
            vault_transit_key=env_str(env, "VAULT_TRANSIT_KEY", DEFAULT_TRANSIT_KEY),
            vault_transit_create_key=env_bool(env, "VAULT_TRANSIT_CREATE_KEY", False),
            vault_timeout_s=env_float(env, "VAULT_TIMEOUT_S", DEFAULT_VAULT_TIMEOUT_S),
            db_pool_max=env_int(env, "KEYVAULT_DB_POOL_MAX", DEFAULT_DB_POOL_MAX),
            db_timeout_s=env_float(env, "KEYVAULT_DB_TIMEOUT_S", DEFAULT_DB_TIMEOUT_S),
            shutdown_grace_s=env_float(
                env, "KEYVAULT_SHUTDOWN_GRACE_S", DEFAULT_SHUTDOWN_GRACE_S
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
        ):
            if value <= 0:
                raise SettingsError(f"{name} must be greater than zero")
        if self.db_pool_max < 1:
            raise SettingsError("KEYVAULT_DB_POOL_MAX must be at least 1")
        if self.kek_provider != "vault":
            return
        if not self.vault_addr.startswith(("http://", "https://")):
            raise SettingsError("VAULT_ADDR must be an http:// or https:// URL")
        if not self.vault_token:
            raise SettingsError("VAULT_TOKEN is required when KEK_PROVIDER=vault")


def _kek_provider(env: Mapping[str, str]) -> KekProviderName:
    value = env_str(env, "KEK_PROVIDER", DEFAULT_KEK_PROVIDER).lower()
    if value == "local":
        return "local"
    if value == "vault":
        return "vault"
    raise SettingsError("KEK_PROVIDER must be local or vault")
