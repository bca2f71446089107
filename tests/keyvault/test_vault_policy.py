"""The Vault policies written in the transit module are the ones that work.

Each test loads the policy text from :mod:`keyvault_service.kek.transit`'s
docstring into the real ``bao`` and runs KeyVault with a token holding only
that policy.
"""

from __future__ import annotations

import re
import secrets
import textwrap

import grpc
import pytest
from byok.keyvault.v1 import keyvault_pb2 as pb

from keyvault_service.kek import transit
from tests.keyvault.conftest import vault_overrides
from tests.support.bao import VaultServer
from tests.support.keyvault import keyvault_server, keyvault_stub

DOCUMENTED_KEY = "byok-kek"


def documented_policies(key: str) -> tuple[str, str]:
    """The service and the operator policy blocks, for transit key ``key``."""
    blocks = re.findall(r"::\n\n((?:    .*\n)+)", transit.__doc__ or "")
    service, operator = (textwrap.dedent(block) for block in blocks[:2])
    return (
        service.replace(DOCUMENTED_KEY, key),
        operator.replace(DOCUMENTED_KEY, key),
    )


def token_with(vault: VaultServer, *policies: str) -> str:
    name = f"documented-{secrets.token_hex(4)}"
    written = vault.api(
        "PUT", f"sys/policies/acl/{name}", {"policy": "\n".join(policies)}
    )
    assert written.status_code in (200, 204), written.text
    created = vault.api("POST", "auth/token/create", {"policies": [name]})
    return created.json()["auth"]["client_token"]


def capabilities(vault: VaultServer, token: str, path: str) -> list[str]:
    answer = vault.api(
        "POST", "sys/capabilities", {"token": token, "paths": [path]}
    )
    return answer.json()[path]


def key_versions(vault: VaultServer, key: str) -> tuple[int, int]:
    data = vault.api("GET", f"transit/keys/{key}").json()["data"]
    return data["latest_version"], data["min_decryption_version"]


@pytest.fixture
def transit_key(vault: VaultServer) -> str:
    key = f"policy-{secrets.token_hex(4)}"
    vault.api("POST", f"transit/keys/{key}", {"derived": True})
    return key


def as_token(vault: VaultServer, key: str, token: str) -> dict[str, str]:
    return vault_overrides(
        vault,
        VAULT_TRANSIT_KEY=key,
        VAULT_TRANSIT_CREATE_KEY="false",
        VAULT_TOKEN=token,
    )


async def test_the_service_policy_saves_and_reveals_but_cannot_rotate(
    pki, fresh_database_url, vault, transit_key, tenant, sentinels
):
    service, _ = documented_policies(transit_key)
    token = token_with(vault, service)
    key = sentinels.new()

    async with keyvault_server(
        pki, fresh_database_url, **as_token(vault, transit_key, token)
    ) as kv:
        async with keyvault_stub(pki, kv) as operator:
            await operator.SaveKey(
                pb.SaveKeyRequest(tenant_id=tenant, provider="openai", api_key=key)
            )
            with pytest.raises(grpc.aio.AioRpcError):
                await operator.RotateKek(pb.RotateKekRequest())
        async with keyvault_stub(pki, kv, identity="generation") as generation:
            revealed = await generation.GetDecryptedKey(
                pb.GetDecryptedKeyRequest(tenant_id=tenant, provider="openai")
            )

    assert revealed.api_key == key
    assert key_versions(vault, transit_key) == (1, 1)
    for path in (
        f"transit/datakey/plaintext/{transit_key}",
        f"transit/datakey/wrapped/{transit_key}",
        f"transit/keys/{transit_key}/rotate",
        f"transit/keys/{transit_key}/config",
        f"transit/export/encryption-key/{transit_key}",
    ):
        assert capabilities(vault, token, path) == ["deny"], path
    assert "create" not in capabilities(vault, token, f"transit/keys/{transit_key}")


async def test_the_operator_policy_rotates_rewraps_and_retires(
    pki, fresh_database_url, db_of, vault, transit_key, tenant, sentinels
):
    token = token_with(vault, *documented_policies(transit_key))
    key = sentinels.new()

    async with keyvault_server(
        pki, fresh_database_url, **as_token(vault, transit_key, token)
    ) as kv:
        async with keyvault_stub(pki, kv) as operator:
            await operator.SaveKey(
                pb.SaveKeyRequest(tenant_id=tenant, provider="openai", api_key=key)
            )
            rotated = await operator.RotateKek(
                pb.RotateKekRequest(raise_min_decryption_version=True)
            )
        async with keyvault_stub(pki, kv, identity="generation") as generation:
            revealed = await generation.GetDecryptedKey(
                pb.GetDecryptedKeyRequest(tenant_id=tenant, provider="openai")
            )

    connection = await db_of(fresh_database_url)
    versions = await connection.fetch("SELECT kek_version FROM provider_keys")
    assert list(rotated.failures) == []
    assert key_versions(vault, transit_key) == (2, 2)
    assert [row["kek_version"] for row in versions] == [2]
    assert revealed.api_key == key
