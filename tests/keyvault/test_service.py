"""KeyVault's RPCs end to end: real server, real PostgreSQL, both KEK providers."""

from __future__ import annotations

import asyncio
import base64
import secrets

import grpc
import pytest
from byok.keyvault.v1 import keyvault_pb2 as pb

from keyvault_service.server import RunningKeyVault
from shared.rpc import error_info
from tests.conftest import Pki
from tests.keyvault.conftest import CapturedLogs, all_rows_text
from tests.support.keyvault import keyvault_stub


async def save(pki: Pki, running: RunningKeyVault, tenant: str, provider: str,
               key: str) -> pb.SaveKeyResponse:
    async with keyvault_stub(pki, running) as stub:
        return await stub.SaveKey(
            pb.SaveKeyRequest(tenant_id=tenant, provider=provider, api_key=key)
        )


async def reveal(pki: Pki, running: RunningKeyVault, tenant: str,
                 provider: str) -> pb.GetDecryptedKeyResponse:
    async with keyvault_stub(pki, running, identity="generation") as stub:
        return await stub.GetDecryptedKey(
            pb.GetDecryptedKeyRequest(tenant_id=tenant, provider=provider)
        )


async def test_a_saved_key_is_returned_decrypted_to_generation(
    pki, keyvault, tenant, sentinels
):
    key = sentinels.new()

    saved = await save(pki, keyvault, tenant, "openai", key)
    revealed = await reveal(pki, keyvault, tenant, "openai")

    assert saved.created is True
    assert saved.key.tenant_id == tenant
    assert saved.key.provider == "openai"
    assert saved.key.fingerprint == key[-4:]
    assert saved.key.kek_version >= 1
    assert revealed.api_key == key
    assert revealed.key.fingerprint == key[-4:]
    assert revealed.key.create_time == saved.key.create_time


async def test_saving_again_replaces_the_key_and_says_it_was_not_created(
    pki, keyvault, tenant, sentinels
):
    first, second = sentinels.new(), sentinels.new()

    created = await save(pki, keyvault, tenant, "anthropic", first)
    replaced = await save(pki, keyvault, tenant, "anthropic", second)
    revealed = await reveal(pki, keyvault, tenant, "anthropic")

    assert (created.created, replaced.created) == (True, False)
    assert revealed.api_key == second
    assert replaced.key.create_time == created.key.create_time
    assert replaced.key.update_time.ToDatetime() > created.key.update_time.ToDatetime()
    assert replaced.key.fingerprint == second[-4:]


async def test_tenants_and_providers_each_get_their_own_key(pki, keyvault, sentinels):
    keys = {
        (tenant, provider): sentinels.new()
        for tenant in ("acme-1", "acme-2")
        for provider in ("openai", "google")
    }
    suffix = secrets.token_hex(4)

    for (tenant, provider), key in keys.items():
        await save(pki, keyvault, f"{tenant}-{suffix}", provider, key)

    for (tenant, provider), key in keys.items():
        revealed = await reveal(pki, keyvault, f"{tenant}-{suffix}", provider)
        assert revealed.api_key == key


async def test_deleting_a_key_is_idempotent_and_says_whether_it_deleted(
    pki, keyvault, tenant, sentinels
):
    await save(pki, keyvault, tenant, "deepseek", sentinels.new())

    async with keyvault_stub(pki, keyvault) as stub:
        request = pb.DeleteKeyRequest(tenant_id=tenant, provider="deepseek")
        first = await stub.DeleteKey(request)
        second = await stub.DeleteKey(request)
        never = await stub.DeleteKey(
            pb.DeleteKeyRequest(tenant_id=tenant, provider="qwen")
        )

    assert (first.deleted, second.deleted, never.deleted) == (True, False, False)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await reveal(pki, keyvault, tenant, "deepseek")
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_missing_key_is_not_found_with_a_reason(pki, keyvault, tenant):
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await reveal(pki, keyvault, tenant, "meta_llama")

    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_info(raised.value).reason == "KEY_NOT_FOUND"


async def test_listing_returns_metadata_and_never_key_material(
    pki, keyvault, tenant, sentinels
):
    openai_key, qwen_key = sentinels.new(), sentinels.new()
    await save(pki, keyvault, tenant, "qwen", qwen_key)
    await save(pki, keyvault, tenant, "openai", openai_key)

    async with keyvault_stub(pki, keyvault) as stub:
        listed = await stub.ListProviders(pb.ListProvidersRequest(tenant_id=tenant))
        empty = await stub.ListProviders(
            pb.ListProvidersRequest(tenant_id=f"{tenant}-other")
        )

    assert [(k.provider, k.fingerprint) for k in listed.keys] == [
        ("openai", openai_key[-4:]),
        ("qwen", qwen_key[-4:]),
    ]
    assert all(k.tenant_id == tenant and k.kek_version >= 1 for k in listed.keys)
    assert sentinels.leaks_in(str(listed)) == []
    assert list(empty.keys) == []


INVALID_REQUESTS = [
    pytest.param("", "openai", "x" * 20, "tenant_id", id="empty tenant"),
    pytest.param("-leading-dash", "openai", "x" * 20, "tenant_id", id="dash first"),
    pytest.param("a" * 65, "openai", "x" * 20, "tenant_id", id="65-char tenant"),
    pytest.param("acme\n", "openai", "x" * 20, "tenant_id", id="trailing newline"),
    pytest.param("ac me", "openai", "x" * 20, "tenant_id", id="space in tenant"),
    pytest.param("acmé", "openai", "x" * 20, "tenant_id", id="non-ascii tenant"),
    pytest.param("acme", "OpenAI", "x" * 20, "provider", id="capitalised provider"),
    pytest.param("acme", "mistral", "x" * 20, "provider", id="unknown provider"),
    pytest.param("acme", "", "x" * 20, "provider", id="empty provider"),
    pytest.param("acme", "openai", "", "api_key", id="empty key"),
    pytest.param("acme", "openai", " " + "x" * 20, "api_key", id="leading space"),
    pytest.param("acme", "openai", "x" * 20 + "\n", "api_key", id="trailing newline"),
    pytest.param("acme", "openai", "x" * 4097, "api_key", id="4097-char key"),
    pytest.param("acme", "openai", "xxxx\r\nX-Evil: 1", "api_key", id="header split"),
    pytest.param("acme", "openai", "sk-SENTINEL-\u200b-zwsp", "api_key", id="zwsp"),
    pytest.param("acme", "openai", "é", "api_key", id="latin letter"),
    pytest.param("acme", "openai", "sk-x\u0085yz", "api_key", id="next line"),
    pytest.param("acme", "openai", "sk-x\u2028yz", "api_key", id="line separator"),
    pytest.param("acme", "openai", "sk-x yz", "api_key", id="inner space"),
    pytest.param("acme", "openai", "sk-x\tyz", "api_key", id="inner tab"),
]


@pytest.mark.parametrize(
    ("tenant_id", "provider", "api_key", "field"), INVALID_REQUESTS
)
async def test_an_invalid_save_is_rejected_and_writes_nothing(
    pki, keyvault, db, tenant_id, provider, api_key, field
):
    before = await db.fetchval("SELECT count(*) FROM provider_keys")

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await save(pki, keyvault, tenant_id, provider, api_key)

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info = error_info(raised.value)
    assert info.reason.startswith("INVALID_")
    assert info.metadata["field"] == field
    assert await db.fetchval("SELECT count(*) FROM provider_keys") == before
    assert await db.fetchval(
        "SELECT count(*) FROM provider_keys WHERE tenant_id = $1", tenant_id
    ) == 0


async def test_the_longest_valid_tenant_and_key_are_accepted(pki, keyvault, sentinels):
    tenant = "T" + secrets.token_hex(20) + "._-" + "9" * 20
    key = (sentinels.new() * 103)[:4096]

    saved = await save(pki, keyvault, tenant, "google", key)

    assert len(tenant) == 64
    assert saved.created is True
    assert (await reveal(pki, keyvault, tenant, "google")).api_key == key


async def test_a_key_pasted_into_another_field_is_never_echoed(
    pki, keyvault, sentinels, captured_logs: CapturedLogs
):
    key = sentinels.new()

    for tenant_id, provider in ((key, "openai"), ("acme", key)):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await save(pki, keyvault, tenant_id, provider, "x" * 20)
        error = raised.value
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert sentinels.leaks_in(error.details() or "") == []
        assert sentinels.leaks_in(repr(error.trailing_metadata())) == []

    assert sentinels.leaks_in(captured_logs.text) == []


@pytest.mark.parametrize(
    "outside", ["\u200b", "é", "\u0085", "\u2028", "\u00a0", "\U0001f511", " "]
)
async def test_a_key_outside_printable_ascii_is_refused_without_echoing_it(
    pki, keyvault, tenant, sentinels, captured_logs: CapturedLogs, outside
):
    key = sentinels.new()
    half = len(key) // 2

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await save(pki, keyvault, tenant, "openai", key[:half] + outside + key[half:])

    error = raised.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(error).reason == "INVALID_API_KEY"
    assert error.details() == (
        "api_key must be printable ASCII (0x21 to 0x7E): no spaces, "
        "control or non-ASCII characters"
    )
    assert sentinels.leaks_in(str(error)) == []
    assert sentinels.leaks_in(captured_logs.text) == []


async def test_every_printable_ascii_character_is_accepted_in_a_key(
    pki, keyvault, tenant
):
    key = "".join(chr(code) for code in range(0x21, 0x7F))

    await save(pki, keyvault, tenant, "openai", key)

    assert (await reveal(pki, keyvault, tenant, "openai")).api_key == key


@pytest.mark.parametrize("identity", ["platform", "intruder"])
async def test_only_allow_listed_certificates_may_decrypt(
    pki, keyvault, tenant, sentinels, identity
):
    key = sentinels.new()
    await save(pki, keyvault, tenant, "openai", key)

    async with keyvault_stub(pki, keyvault, identity=identity) as stub:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.GetDecryptedKey(
                pb.GetDecryptedKeyRequest(tenant_id=tenant, provider="openai")
            )
        # Refused before validation, so a stranger cannot probe tenant ids.
        with pytest.raises(grpc.aio.AioRpcError) as invalid:
            await stub.GetDecryptedKey(
                pb.GetDecryptedKeyRequest(tenant_id="", provider="nope")
            )

    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_info(raised.value).reason == "CALLER_NOT_ALLOWED"
    assert sentinels.leaks_in(str(raised.value)) == []
    assert invalid.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_the_operator_may_save_update_list_and_delete(
    pki, keyvault, tenant, sentinels
):
    async with keyvault_stub(pki, keyvault, identity="platform") as stub:
        saved = await stub.SaveKey(
            pb.SaveKeyRequest(
                tenant_id=tenant, provider="qwen", api_key=sentinels.new()
            )
        )
        updated = await stub.UpdateKey(
            pb.UpdateKeyRequest(
                tenant_id=tenant, provider="qwen", status=pb.KEY_STATUS_DISABLED
            )
        )
        listed = await stub.ListProviders(pb.ListProvidersRequest(tenant_id=tenant))
        deleted = await stub.DeleteKey(
            pb.DeleteKeyRequest(tenant_id=tenant, provider="qwen")
        )

    assert saved.created
    assert updated.key.status == pb.KEY_STATUS_DISABLED
    assert [k.provider for k in listed.keys] == ["qwen"]
    assert deleted.deleted


WRITES = {
    "SaveKey": lambda tenant: pb.SaveKeyRequest(
        tenant_id=tenant, provider="openai", api_key="sk-overwritten-by-intruder"
    ),
    "DeleteKey": lambda tenant: pb.DeleteKeyRequest(
        tenant_id=tenant, provider="openai"
    ),
    "UpdateKey": lambda tenant: pb.UpdateKeyRequest(
        tenant_id=tenant, provider="openai", status=pb.KEY_STATUS_DISABLED
    ),
}


@pytest.mark.parametrize("rpc", sorted(WRITES))
@pytest.mark.parametrize("identity", ["generation", "keyvault", "intruder"])
async def test_only_the_operator_may_change_a_tenants_key(
    pki, keyvault, tenant, sentinels, db, identity, rpc
):
    key = sentinels.new()
    await save(pki, keyvault, tenant, "openai", key)
    before = await db.fetchrow(
        "SELECT id, ciphertext, status, generation FROM provider_keys"
        " WHERE tenant_id = $1",
        tenant,
    )

    async with keyvault_stub(pki, keyvault, identity=identity) as stub:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await getattr(stub, rpc)(WRITES[rpc](tenant))
        # Refused before validation, so a stranger cannot probe tenant ids.
        with pytest.raises(grpc.aio.AioRpcError) as invalid:
            await getattr(stub, rpc)(WRITES[rpc]("not a tenant"))

    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_info(raised.value).reason == "CALLER_NOT_ALLOWED"
    assert invalid.value.code() == grpc.StatusCode.PERMISSION_DENIED
    after = await db.fetchrow(
        "SELECT id, ciphertext, status, generation FROM provider_keys"
        " WHERE tenant_id = $1",
        tenant,
    )
    assert after == before
    assert (await reveal(pki, keyvault, tenant, "openai")).api_key == key


@pytest.mark.parametrize(
    ("identity", "allowed"),
    [("platform", True), ("generation", True), ("keyvault", False),
     ("intruder", False)],
)
async def test_listing_is_for_the_operator_and_decrypt_clients_only(
    pki, keyvault, tenant, sentinels, identity, allowed
):
    await save(pki, keyvault, tenant, "openai", sentinels.new())

    async with keyvault_stub(pki, keyvault, identity=identity) as stub:
        request = pb.ListProvidersRequest(tenant_id=tenant)
        if allowed:
            listed = await stub.ListProviders(request)
            assert [k.provider for k in listed.keys] == ["openai"]
            return
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.ListProviders(request)

    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_info(raised.value).reason == "CALLER_NOT_ALLOWED"


async def test_no_plaintext_key_is_stored_in_any_column_of_any_table(
    pki, keyvault, db, tenant, sentinels
):
    keys = [sentinels.new() for _ in range(3)]
    for provider, key in zip(("openai", "anthropic", "google"), keys, strict=True):
        await save(pki, keyvault, tenant, provider, key)
    # Replaced keys must not linger either.
    await save(pki, keyvault, tenant, "openai", sentinels.new())

    dump = await all_rows_text(db)

    assert tenant in dump  # the scan does see our rows
    assert sentinels.leaks_in(dump) == []
    for key in sentinels.issued:
        assert key.encode().hex() not in dump
        assert base64.b64encode(key.encode()).decode()[:-4] not in dump


async def test_rpc_log_lines_name_tenant_and_provider_but_no_key(
    pki, keyvault, tenant, sentinels, captured_logs: CapturedLogs
):
    await save(pki, keyvault, tenant, "openai", sentinels.new())
    await reveal(pki, keyvault, tenant, "openai")

    lines = [
        line for line in captured_logs.structured.getvalue().splitlines()
        if '"event": "rpc"' in line and tenant in line
    ]

    assert len(lines) == 2
    assert all('"provider": "openai"' in line for line in lines)
    assert '"status": "OK"' in lines[1]
    assert sentinels.leaks_in(captured_logs.text) == []


async def test_rejected_calls_leave_no_key_in_status_or_logs(
    pki, keyvault, tenant, sentinels, captured_logs: CapturedLogs
):
    key = sentinels.new()
    await save(pki, keyvault, tenant, "openai", key)

    failures = []
    async with keyvault_stub(pki, keyvault, identity="platform") as stub:
        for call in (
            stub.GetDecryptedKey(pb.GetDecryptedKeyRequest(tenant_id=tenant,
                                                          provider="openai")),
            stub.SaveKey(pb.SaveKeyRequest(tenant_id=tenant, provider="openai",
                                           api_key=f" {key}")),
            stub.SaveKey(pb.SaveKeyRequest(tenant_id=tenant, provider="nope",
                                           api_key=key)),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await call
            failures.append(raised.value)

    for failure in failures:
        assert sentinels.leaks_in(failure.details() or "") == []
        assert sentinels.leaks_in(repr(failure.trailing_metadata())) == []
    assert sentinels.leaks_in(captured_logs.text) == []


async def test_concurrent_saves_of_one_key_leave_exactly_one_readable_key(
    pki, keyvault, db, tenant, sentinels
):
    keys = [sentinels.new() for _ in range(8)]

    async with keyvault_stub(pki, keyvault) as stub:
        responses = await asyncio.gather(*(
            stub.SaveKey(pb.SaveKeyRequest(tenant_id=tenant, provider="openai",
                                           api_key=key))
            for key in keys
        ))

    assert sorted(r.created for r in responses) == [False] * 7 + [True]
    assert (await reveal(pki, keyvault, tenant, "openai")).api_key in keys
    assert await db.fetchval(
        "SELECT count(*) FROM provider_keys WHERE tenant_id = $1", tenant
    ) == 1


@pytest.mark.parametrize(
    "request_",
    [
        pb.ListProvidersRequest(tenant_id=""),
        pb.ListProvidersRequest(tenant_id="a/b"),
        pb.DeleteKeyRequest(tenant_id="acme", provider="nope"),
        pb.DeleteKeyRequest(tenant_id="_acme", provider="openai"),
    ],
    ids=["list empty tenant", "list slash", "delete provider", "delete tenant"],
)
async def test_list_and_delete_validate_their_fields(pki, keyvault, request_):
    async with keyvault_stub(pki, keyvault) as stub:
        call = (
            stub.ListProviders
            if isinstance(request_, pb.ListProvidersRequest)
            else stub.DeleteKey
        )
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call(request_)

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


CHANGE_KEYS = "this client certificate may not change keys"
OPERATOR_RPCS = "this client certificate may not call operator RPCs"


async def test_a_refused_caller_is_told_what_it_may_not_do_and_nothing_else(
    pki, keyvault
):
    tenant, provider = "echo-me-tenant", "openai"
    key = {"tenant_id": tenant, "provider": provider}
    async with keyvault_stub(pki, keyvault, identity="intruder") as stub:
        calls = [
            (stub.SaveKey(pb.SaveKeyRequest(**key, api_key="sk-x" * 8)), CHANGE_KEYS),
            (stub.DeleteKey(pb.DeleteKeyRequest(**key)), CHANGE_KEYS),
            (stub.UpdateKey(pb.UpdateKeyRequest(**key)), CHANGE_KEYS),
            (stub.RekeyKey(pb.RekeyKeyRequest(**key)), CHANGE_KEYS),
            (stub.RotateKek(pb.RotateKekRequest()), OPERATOR_RPCS),
            (stub.RewrapKeys(pb.RewrapKeysRequest()), OPERATOR_RPCS),
            (stub.DeleteTenant(pb.DeleteTenantRequest(tenant_id=tenant)),
             OPERATOR_RPCS),
            (stub.ListAuditEvents(pb.ListAuditEventsRequest(tenant_id=tenant)),
             OPERATOR_RPCS),
            (stub.GetDecryptedKey(pb.GetDecryptedKeyRequest(**key)),
             "this client certificate may not read decrypted keys"),
            (stub.ReportKeyRejected(pb.ReportKeyRejectedRequest(**key)),
             "this client certificate may not report rejected keys"),
            (stub.ListProviders(pb.ListProvidersRequest(tenant_id=tenant)),
             "this client certificate may not list keys"),
        ]
        refusals = []
        for call, expected in calls:
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await call
            refusals.append((raised.value.code(), raised.value.details(), expected))

    for code, details, expected in refusals:
        assert code == grpc.StatusCode.PERMISSION_DENIED
        assert details == expected
        assert tenant not in details
