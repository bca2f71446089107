"""AppRole roles and least-privilege policies on the test Vault, made as root.

Logins are counted by Vault itself: each role's secret id may be used a
fixed number of times, and Vault reports how many uses remain.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from tests.support.bao import VaultServer

APPROLE_MOUNT = "approle"
SECRET_ID_USES = 10_000
CRYPTO_OPERATIONS = ("encrypt", "decrypt", "rewrap")


@dataclass(frozen=True)
class Role:
    name: str
    role_id: str
    secret_id: str

    def settings(self) -> dict[str, str]:
        """KeyVault settings that log in as this role."""
        return {
            "VAULT_AUTH_METHOD": "approle",
            "VAULT_ROLE_ID": self.role_id,
            "VAULT_SECRET_ID": self.secret_id,
            "VAULT_APPROLE_MOUNT": APPROLE_MOUNT,
            "VAULT_TOKEN": "",
        }


def service_policy(key: str, admin: bool = False) -> str:
    """The documented policy: crypto paths only, plus rotation when ``admin``."""
    rules = [
        f'path "transit/{op}/{key}" {{ capabilities = ["update"] }}'
        for op in CRYPTO_OPERATIONS
    ]
    rules.append(f'path "transit/keys/{key}" {{ capabilities = ["read"] }}')
    if admin:
        rules += [
            f'path "transit/keys/{key}/rotate" {{ capabilities = ["update"] }}',
            f'path "transit/keys/{key}/config" {{ capabilities = ["update"] }}',
        ]
    return "\n".join(rules)


def enable_approle(vault: VaultServer) -> None:
    response = vault.api("POST", f"sys/auth/{APPROLE_MOUNT}", {"type": "approle"})
    # 400: already enabled by an earlier test.
    assert response.status_code in (200, 204, 400), response.text


def create_role(
    vault: VaultServer,
    key: str,
    ttl: str,
    max_ttl: str,
    admin: bool = False,
) -> Role:
    """A role whose tokens may use transit ``key``, with the given TTLs."""
    enable_approle(vault)
    vault.api("POST", f"transit/keys/{key}", {"derived": True})
    name = f"keyvault-{secrets.token_hex(4)}"
    written = vault.api(
        "PUT", f"sys/policies/acl/{name}", {"policy": service_policy(key, admin)}
    )
    assert written.status_code in (200, 204), written.text
    created = vault.api("POST", f"auth/{APPROLE_MOUNT}/role/{name}", {
        "token_ttl": ttl,
        "token_max_ttl": max_ttl,
        "token_policies": [name],
        "secret_id_num_uses": SECRET_ID_USES,
    })
    assert created.status_code in (200, 204), created.text
    role_id = vault.api(
        "GET", f"auth/{APPROLE_MOUNT}/role/{name}/role-id"
    ).json()["data"]["role_id"]
    secret_id = vault.api(
        "POST", f"auth/{APPROLE_MOUNT}/role/{name}/secret-id", {}
    ).json()["data"]["secret_id"]
    return Role(name, role_id, secret_id)


def logins(vault: VaultServer, role: Role) -> int:
    """How many times the role's secret id has been used to log in."""
    looked_up = vault.api(
        "POST",
        f"auth/{APPROLE_MOUNT}/role/{role.name}/secret-id/lookup",
        {"secret_id": role.secret_id},
    )
    assert looked_up.status_code == 200, looked_up.text
    return SECRET_ID_USES - int(looked_up.json()["data"]["secret_id_num_uses"])


def destroy_secret_id(vault: VaultServer, role: Role) -> None:
    destroyed = vault.api(
        "POST",
        f"auth/{APPROLE_MOUNT}/role/{role.name}/secret-id/destroy",
        {"secret_id": role.secret_id},
    )
    assert destroyed.status_code in (200, 204), destroyed.text


def revoke_role_tokens(vault: VaultServer, role: Role) -> int:
    """Revoke every live token the role has issued; how many there were."""
    listed = vault.api("LIST", "auth/token/accessors")
    accessors = listed.json()["data"]["keys"] if listed.status_code == 200 else []
    revoked = 0
    for accessor in accessors:
        looked = vault.api(
            "POST", "auth/token/lookup-accessor", {"accessor": accessor}
        )
        if looked.status_code != 200:
            continue
        meta = looked.json()["data"].get("meta") or {}
        if meta.get("role_name") == role.name:
            vault.api("POST", "auth/token/revoke-accessor", {"accessor": accessor})
            revoked += 1
    return revoked
