"""KeyVault settings: defaults, parsing, validation and masked secrets."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from keyvault_service.config import KeyVaultSettings
from shared.settings import SettingsError

VAULT = {
    "KEK_PROVIDER": "vault",
    "VAULT_ADDR": "http://127.0.0.1:8200/",
    "VAULT_TOKEN": "hvs.settings-test-token-value",
}


def test_defaults_listen_on_loopback_with_a_local_keyring_under_the_state_dir():
    settings = KeyVaultSettings.from_env({"BYOK_STATE_DIR": "/srv/byok"})

    assert settings.listen == "127.0.0.1:50051"
    assert settings.kek_provider == "local"
    assert settings.local_keyring == Path("/srv/byok/keyring.json")
    assert settings.tls.cert == Path("/srv/byok/certs/keyvault.pem")
    assert settings.tls.key == Path("/srv/byok/certs/keyvault-key.pem")
    assert settings.tls.ca == Path("/srv/byok/certs/ca.pem")
    assert settings.decrypt_allowed_clients == frozenset({"generation"})
    assert settings.vault_transit_mount == "transit"
    assert settings.vault_transit_key == "byok-kek"
    assert settings.vault_transit_create_key is False
    assert not settings.database_url
    assert settings.admin_allowed_clients == frozenset({"platform"})
    assert settings.vault_auth_method == "token"
    assert settings.tenant_keks is False
    assert settings.dk_cache_max_age_s == 60
    assert settings.dk_cache_max_uses == 1000
    assert settings.rewrap_batch_size == 100
    assert settings.expiry_window_days == 30
    assert settings.shred_grace_s == 24 * 3600
    assert settings.max_concurrent_rpcs == 1000


def test_a_role_id_selects_approle_login():
    settings = KeyVaultSettings.from_env({
        "KEK_PROVIDER": "vault",
        "VAULT_ADDR": "http://127.0.0.1:8200",
        "VAULT_ROLE_ID": "role-id-value",
        "VAULT_SECRET_ID": "secret-id-settings-value",
        "VAULT_APPROLE_MOUNT": "/approle-kv/",
    })

    assert settings.vault_auth_method == "approle"
    assert settings.vault_approle_mount == "approle-kv"
    assert settings.vault_secret_id.reveal() == "secret-id-settings-value"
    assert "secret-id-settings-value" not in repr(settings)


def test_explicit_values_are_parsed():
    settings = KeyVaultSettings.from_env({
        **VAULT,
        "KEYVAULT_LISTEN": "127.0.0.1:0",
        "KEYVAULT_DECRYPT_ALLOWED_CLIENTS": " generation , batch ,,",
        "VAULT_TRANSIT_MOUNT": "/kms/",
        "VAULT_TIMEOUT_S": "1.5",
        "VAULT_TRANSIT_CREATE_KEY": "true",
        "KEYVAULT_MAX_CONCURRENT_RPCS": "64",
    })

    assert settings.listen == "127.0.0.1:0"
    assert settings.decrypt_allowed_clients == frozenset({"generation", "batch"})
    assert settings.vault_addr == "http://127.0.0.1:8200"
    assert settings.vault_transit_mount == "kms"
    assert settings.vault_timeout_s == 1.5
    assert settings.vault_transit_create_key is True
    assert settings.max_concurrent_rpcs == 64
    assert settings.vault_token.reveal() == VAULT["VAULT_TOKEN"]


def test_secrets_are_masked_in_every_printed_form():
    settings = KeyVaultSettings.from_env({
        **VAULT, "DATABASE_URL": "postgresql://kv:db-password-value@db/kv",
    })

    for text in (repr(settings), str(settings), f"{settings}"):
        assert "settings-test-token-value" not in text
        assert "db-password-value" not in text
    assert settings.database_url.reveal().endswith("@db/kv")


def test_settings_cannot_be_changed_after_start():
    settings = KeyVaultSettings.from_env({})

    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.listen = "0.0.0.0:1"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KEK_PROVIDER": "kms"}, "KEK_PROVIDER"),
        ({"KEK_PROVIDER": "vault"}, "VAULT_ADDR"),
        ({**VAULT, "VAULT_ADDR": "127.0.0.1:8200"}, "VAULT_ADDR"),
        ({**VAULT, "VAULT_TOKEN": ""}, "VAULT_TOKEN"),
        ({"VAULT_TIMEOUT_S": "soon"}, "VAULT_TIMEOUT_S"),
        ({"VAULT_TIMEOUT_S": "0"}, "VAULT_TIMEOUT_S"),
        ({"KEYVAULT_DB_POOL_MAX": "0"}, "KEYVAULT_DB_POOL_MAX"),
        ({"KEYVAULT_MAX_CONCURRENT_RPCS": "0"}, "KEYVAULT_MAX_CONCURRENT_RPCS"),
        ({"KEYVAULT_DECRYPT_ALLOWED_CLIENTS": " , "}, "ALLOWED_CLIENTS"),
        ({"VAULT_TRANSIT_CREATE_KEY": "maybe"}, "VAULT_TRANSIT_CREATE_KEY"),
        ({**VAULT, "VAULT_AUTH_METHOD": "ldap"}, "VAULT_AUTH_METHOD"),
        ({**VAULT, "VAULT_ROLE_ID": "r", "VAULT_TOKEN": ""}, "VAULT_SECRET_ID"),
        ({"KEYVAULT_DK_CACHE_MAX_USES": "0"}, "KEYVAULT_DK_CACHE_MAX_USES"),
        ({"KEYVAULT_DK_CACHE_MAX_AGE_S": "-1"}, "KEYVAULT_DK_CACHE_MAX_AGE_S"),
        ({"KEYVAULT_REWRAP_BATCH_SIZE": "0"}, "KEYVAULT_REWRAP_BATCH_SIZE"),
        ({"KEYVAULT_REWRAP_BATCH_SIZE": "1001"}, "KEYVAULT_REWRAP_BATCH_SIZE"),
        ({"KEYVAULT_SHRED_GRACE_S": "-5"}, "KEYVAULT_SHRED_GRACE_S"),
        ({"KEYVAULT_SHRED_SWEEP_S": "0"}, "KEYVAULT_SHRED_SWEEP_S"),
        ({"KEYVAULT_TENANT_KEKS": "sometimes"}, "KEYVAULT_TENANT_KEKS"),
    ],
)
def test_unusable_settings_are_refused_by_name(env, message):
    with pytest.raises(SettingsError, match=message) as raised:
        KeyVaultSettings.from_env(env)

    assert "settings-test-token-value" not in str(raised.value)
