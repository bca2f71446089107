"""Only the certificate's common name counts for KeyVault's allow-list."""

from __future__ import annotations

import grpc
import pytest
from byok.keyvault.v1 import keyvault_pb2, keyvault_pb2_grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from shared.devcerts import issue
from shared.tls import TlsFiles, channel_credentials
from tests.support.keyvault import keyvault_server, keyvault_stub


async def test_a_host_name_matching_the_allow_list_does_not_grant_decrypt(
    pki, database_url: str
) -> None:
    ca_cert = x509.load_pem_x509_certificate(pki.ca.read_bytes())
    ca_key = serialization.load_pem_private_key(
        (pki.directory / "ca-key.pem").read_bytes(), password=None
    )
    impostor = issue(pki.directory, "impostor", ca_cert, ca_key, ("generation",))
    files = TlsFiles(ca=pki.ca, cert=impostor.cert, key=impostor.key)

    async with keyvault_server(pki, database_url) as running:
        async with keyvault_stub(pki, running) as operator:
            await operator.SaveKey(
                keyvault_pb2.SaveKeyRequest(
                    tenant_id="t-impostor",
                    provider="openai",
                    api_key="sk-impostor-0123456789",
                )
            )
        channel = grpc.aio.secure_channel(running.address, channel_credentials(files))
        async with channel:
            stub = keyvault_pb2_grpc.KeyVaultServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as denied:
                await stub.GetDecryptedKey(
                    keyvault_pb2.GetDecryptedKeyRequest(
                        tenant_id="t-impostor", provider="openai"
                    )
                )

    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
