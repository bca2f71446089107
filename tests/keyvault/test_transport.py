"""KeyVault speaks only mutual TLS, to clients of its own authority."""

from __future__ import annotations

import grpc
import pytest
from byok.keyvault.v1 import keyvault_pb2 as pb
from byok.keyvault.v1 import keyvault_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from keyvault_service.servicer import SERVICE_NAME
from shared.devcerts import create_dev_pki
from shared.tls import TlsFiles, channel_credentials
from tests.support.keyvault import keyvault_server

CALL_TIMEOUT_S = 5


@pytest.fixture(scope="module")
async def keyvault(pki, database_url):
    async with keyvault_server(pki, database_url) as running:
        yield running


def save_request(tenant: str) -> pb.SaveKeyRequest:
    return pb.SaveKeyRequest(tenant_id=tenant, provider="openai", api_key="x" * 20)


async def count_rows(db, tenant: str) -> int:
    return await db.fetchval(
        "SELECT count(*) FROM provider_keys WHERE tenant_id = $1", tenant
    )


async def test_a_plaintext_connection_is_refused(keyvault, db, tenant):
    async with grpc.aio.insecure_channel(keyvault.address) as channel:
        stub = keyvault_pb2_grpc.KeyVaultServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.SaveKey(
                save_request(tenant), timeout=CALL_TIMEOUT_S
            )

    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert await count_rows(db, tenant) == 0


async def test_a_client_certificate_from_another_authority_is_refused(
    keyvault, pki, db, tenant, tmp_path
):
    stranger = create_dev_pki(tmp_path, identities=("generation",))["generation"]
    # The client trusts KeyVault's CA, but presents a certificate it did not sign.
    files = TlsFiles(ca=pki.ca, cert=stranger.cert, key=stranger.key)

    async with grpc.aio.secure_channel(
        keyvault.address, channel_credentials(files)
    ) as channel:
        stub = keyvault_pb2_grpc.KeyVaultServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.SaveKey(
                save_request(tenant), timeout=CALL_TIMEOUT_S
            )

    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert await count_rows(db, tenant) == 0


async def test_a_server_not_signed_by_the_trusted_authority_is_not_trusted(
    keyvault, pki, tmp_path
):
    create_dev_pki(tmp_path, identities=())
    # The client's own certificate is valid; it just trusts another authority.
    files = TlsFiles(
        ca=tmp_path / "ca.pem",
        cert=pki.files("generation").cert,
        key=pki.files("generation").key,
    )

    async with grpc.aio.secure_channel(
        keyvault.address, channel_credentials(files)
    ) as channel:
        stub = keyvault_pb2_grpc.KeyVaultServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.ListProviders(
                pb.ListProvidersRequest(tenant_id="acme"), timeout=CALL_TIMEOUT_S
            )

    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_health_reports_serving_and_reflection_lists_the_service(keyvault, pki):
    credentials = channel_credentials(pki.files("platform"))

    async with grpc.aio.secure_channel(keyvault.address, credentials) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        overall = await health.Check(health_pb2.HealthCheckRequest(service=""))
        named = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME))
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        answers = reflection.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        listed = [
            service.name
            async for answer in answers
            for service in answer.list_services_response.service
        ]

    assert overall.status == health_pb2.HealthCheckResponse.SERVING
    assert named.status == health_pb2.HealthCheckResponse.SERVING
    assert SERVICE_NAME == "byok.keyvault.v1.KeyVaultService"
    assert SERVICE_NAME in listed
