"""When PostgreSQL or Vault goes away, callers get UNAVAILABLE and may retry."""

from __future__ import annotations

import asyncio
import secrets
import time
from urllib.parse import urlsplit, urlunsplit

import grpc
import pytest
from byok.keyvault.v1 import keyvault_pb2 as pb
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from shared.rpc import error_info
from tests.keyvault.conftest import TEST_TRANSIT_KEY, vault_overrides
from tests.keyvault.proxy import tcp_proxy
from tests.support.keyvault import keyvault_server, keyvault_stub

# One stub both saves and reads: generation may save in these tests.
SAVES_AND_READS = {"KEYVAULT_ADMIN_ALLOWED_CLIENTS": "platform,generation"}


def retry_delay_s(error: grpc.aio.AioRpcError) -> float | None:
    status = rpc_status.from_call(error)
    for detail in status.details if status else ():
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return info.retry_delay.ToMilliseconds() / 1000
    return None


def through(url: str, port: int) -> str:
    parts = urlsplit(url)
    user = parts.netloc.rpartition("@")[0]
    netloc = f"{user}@127.0.0.1:{port}" if user else f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def address_port(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


async def failure_of(call) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    return raised.value


async def test_vault_down_is_unavailable_with_retry_info_and_recovers(
    pki, database_url, vault, tenant, sentinels
):
    key = sentinels.new()
    async with tcp_proxy("127.0.0.1", address_port(vault.address)) as proxy:
        overrides = vault_overrides(vault, VAULT_ADDR=f"http://127.0.0.1:{proxy.port}")
        async with (
            keyvault_server(
                pki, database_url, **overrides, **SAVES_AND_READS
            ) as running,
            keyvault_stub(pki, running, identity="generation") as stub,
        ):
            await stub.SaveKey(
                pb.SaveKeyRequest(tenant_id=tenant, provider="openai", api_key=key)
            )
            read = pb.GetDecryptedKeyRequest(tenant_id=tenant, provider="openai")

            await proxy.cut()
            failures = [
                await failure_of(stub.GetDecryptedKey(read)),
                await failure_of(stub.SaveKey(pb.SaveKeyRequest(
                    tenant_id=tenant, provider="google", api_key=sentinels.new()
                ))),
            ]
            # Metadata needs no KEK and stays available.
            listed = await stub.ListProviders(pb.ListProvidersRequest(tenant_id=tenant))

            await proxy.restore()
            recovered = await stub.GetDecryptedKey(read)

    for failure in failures:
        assert failure.code() == grpc.StatusCode.UNAVAILABLE
        assert error_info(failure).reason == "KEK_UNAVAILABLE"
        assert retry_delay_s(failure) == 1.0
        assert sentinels.leaks_in(failure.details()) == []
    assert [k.provider for k in listed.keys] == ["openai"]
    assert recovered.api_key == key


async def test_a_hung_vault_fails_the_call_within_the_vault_timeout(
    pki, database_url, vault, tenant
):
    async with tcp_proxy("127.0.0.1", address_port(vault.address)) as proxy:
        overrides = vault_overrides(
            vault, VAULT_ADDR=f"http://127.0.0.1:{proxy.port}", VAULT_TIMEOUT_S="0.3"
        )
        async with (
            keyvault_server(pki, database_url, **overrides) as running,
            keyvault_stub(pki, running) as stub,
        ):
            proxy.black_hole = True
            await proxy.cut()
            await proxy.restore()
            started = time.monotonic()
            failure = await failure_of(stub.SaveKey(pb.SaveKeyRequest(
                tenant_id=tenant, provider="openai", api_key="x" * 20
            )))
            elapsed = time.monotonic() - started

    assert failure.code() == grpc.StatusCode.UNAVAILABLE
    assert error_info(failure).reason == "KEK_UNAVAILABLE"
    assert elapsed < 1.5


async def test_a_revoked_vault_token_is_unavailable_and_never_echoed(
    pki, database_url, vault, tenant, sentinels, captured_logs
):
    name = TEST_TRANSIT_KEY
    policy = "\n".join(
        [f'path "transit/{op}/{name}" {{ capabilities = ["update"] }}'
         for op in ("encrypt", "decrypt", "rewrap")]
        + [f'path "transit/keys/{name}" {{ capabilities = ["read"] }}']
    )
    vault.api("PUT", "sys/policies/acl/keyvault-test", {"policy": policy})
    token = vault.api(
        "POST", "auth/token/create", {"policies": ["keyvault-test"], "ttl": "10m"}
    ).json()["auth"]["client_token"]
    key = sentinels.new()

    async with (
        keyvault_server(
            pki, database_url, **vault_overrides(vault, VAULT_TOKEN=token),
            **SAVES_AND_READS,
        ) as running,
        keyvault_stub(pki, running, identity="generation") as stub,
    ):
        await stub.SaveKey(
            pb.SaveKeyRequest(tenant_id=tenant, provider="openai", api_key=key)
        )
        vault.api("POST", "auth/token/revoke", {"token": token})
        failure = await failure_of(stub.GetDecryptedKey(
            pb.GetDecryptedKeyRequest(tenant_id=tenant, provider="openai")
        ))

    assert failure.code() == grpc.StatusCode.UNAVAILABLE
    assert error_info(failure).reason == "KEK_ACCESS_DENIED"
    assert token not in failure.details()
    assert token not in captured_logs.text


async def test_database_down_is_unavailable_with_retry_info_and_recovers(
    pki, database_url, tenant, sentinels
):
    key = sentinels.new()
    async with (
        tcp_proxy("127.0.0.1", address_port(database_url)) as proxy, keyvault_server(
            pki, through(database_url, proxy.port), KEYVAULT_DB_TIMEOUT_S="1",
            **SAVES_AND_READS,
        ) as running,
        keyvault_stub(pki, running, identity="generation") as stub,
    ):
        await stub.SaveKey(
            pb.SaveKeyRequest(tenant_id=tenant, provider="openai", api_key=key)
        )
        read = pb.GetDecryptedKeyRequest(tenant_id=tenant, provider="openai")

        await proxy.cut()
        failures = [
            await failure_of(stub.GetDecryptedKey(read)),
            await failure_of(stub.ListProviders(
                pb.ListProvidersRequest(tenant_id=tenant)
            )),
            await failure_of(stub.DeleteKey(
                pb.DeleteKeyRequest(tenant_id=tenant, provider="openai")
            )),
        ]

        await proxy.restore()
        recovered = await stub.GetDecryptedKey(read)

    for failure in failures:
        assert failure.code() == grpc.StatusCode.UNAVAILABLE
        assert error_info(failure).reason == "STORAGE_UNAVAILABLE"
        assert retry_delay_s(failure) == 1.0
    assert recovered.api_key == key


async def test_a_hung_database_fails_the_call_within_the_statement_timeout(
    pki, database_url, tenant
):
    async with (
        tcp_proxy("127.0.0.1", address_port(database_url)) as proxy, keyvault_server(
            pki, through(database_url, proxy.port), KEYVAULT_DB_TIMEOUT_S="0.5"
        ) as running,
        keyvault_stub(pki, running) as stub,
    ):
        proxy.black_hole = True
        await proxy.cut()
        await proxy.restore()
        started = time.monotonic()
        failure = await failure_of(stub.ListProviders(
            pb.ListProvidersRequest(tenant_id=f"{tenant}-{secrets.token_hex(2)}")
        ))
        elapsed = time.monotonic() - started

    assert failure.code() == grpc.StatusCode.UNAVAILABLE
    assert error_info(failure).reason == "STORAGE_UNAVAILABLE"
    assert elapsed < 2.5


async def test_calls_past_the_concurrency_limit_are_refused_at_once(
    pki, database_url, tenant
):
    async with (
        tcp_proxy("127.0.0.1", address_port(database_url)) as proxy, keyvault_server(
            pki, through(database_url, proxy.port), KEYVAULT_DB_TIMEOUT_S="2",
            KEYVAULT_MAX_CONCURRENT_RPCS="1",
        ) as running,
        keyvault_stub(pki, running) as stub,
    ):
        proxy.black_hole = True
        await proxy.cut()
        await proxy.restore()
        listing = pb.ListProvidersRequest(tenant_id=tenant)
        stuck = asyncio.ensure_future(stub.ListProviders(listing))
        await asyncio.sleep(0.3)
        started = time.monotonic()
        refused = await failure_of(stub.ListProviders(listing))
        elapsed = time.monotonic() - started
        held = await failure_of(stuck)

    assert refused.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert elapsed < 1.0
    assert held.code() == grpc.StatusCode.UNAVAILABLE
    assert error_info(held).reason == "STORAGE_UNAVAILABLE"


async def test_a_caller_deadline_ends_a_call_stuck_on_vault(
    pki, database_url, vault, tenant
):
    async with tcp_proxy("127.0.0.1", address_port(vault.address)) as proxy:
        overrides = vault_overrides(
            vault, VAULT_ADDR=f"http://127.0.0.1:{proxy.port}", VAULT_TIMEOUT_S="30"
        )
        async with (
            keyvault_server(pki, database_url, **overrides) as running,
            keyvault_stub(pki, running) as stub,
        ):
            proxy.black_hole = True
            await proxy.cut()
            await proxy.restore()
            started = time.monotonic()
            request = pb.SaveKeyRequest(
                tenant_id=tenant, provider="openai", api_key="x" * 20
            )
            failure = await failure_of(stub.SaveKey(request, timeout=0.3))
            elapsed = time.monotonic() - started
            # The server is not left holding anything: it still answers.
            listed = await stub.ListProviders(pb.ListProvidersRequest(tenant_id=tenant))

    assert failure.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert elapsed < 1.5
    assert list(listed.keys) == []
