"""KEK rotation, re-wrapping and retiring old versions; re-keying one secret.

Each test has a database and a KEK of its own, so a rotation scans exactly
the rows the test wrote. Both providers run the same tests.
"""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
import uuid

import grpc
import pytest
from byok.keyvault.v1 import keyvault_pb2 as pb

from keyvault_service.rotation import ROTATION_LOCK_ID
from keyvault_service.rotation import main as rotation_main
from shared.rpc import error_info
from tests.support.keyvault import keyvault_env, keyvault_server, keyvault_stub

TENANTS = 4
PROVIDERS = ("openai", "anthropic")


async def save_keys(stub, sentinels, tenant: str) -> dict[tuple[str, str], str]:
    keys = {}
    for index in range(TENANTS):
        for provider in PROVIDERS:
            key = sentinels.new()
            await stub.SaveKey(pb.SaveKeyRequest(
                tenant_id=f"{tenant}-{index}", provider=provider, api_key=key
            ))
            keys[(f"{tenant}-{index}", provider)] = key
    return keys


async def read(pki, running, tenant: str, provider: str) -> str | grpc.StatusCode:
    async with keyvault_stub(pki, running, identity="generation") as stub:
        try:
            response = await stub.GetDecryptedKey(
                pb.GetDecryptedKeyRequest(tenant_id=tenant, provider=provider)
            )
        except grpc.aio.AioRpcError as error:
            return error.code()
    return response.api_key


async def read_all(pki, running, keys) -> dict[tuple[str, str], str | grpc.StatusCode]:
    return {where: await read(pki, running, *where) for where in keys}


async def corrupt_wrapped_key(db, tenant: str, provider: str) -> uuid.UUID:
    row = await db.fetchrow(
        "SELECT id, wrapped_key FROM provider_keys"
        " WHERE tenant_id = $1 AND provider = $2",
        tenant,
        provider,
    )
    prefix, version, body = row["wrapped_key"].split(":")
    raw = bytearray(base64.b64decode(body))
    raw[20] ^= 0x01
    await db.execute(
        "UPDATE provider_keys SET wrapped_key = $2 WHERE id = $1",
        row["id"],
        f"{prefix}:{version}:{base64.b64encode(bytes(raw)).decode()}",
    )
    return uuid.UUID(bytes=row["id"].bytes)


async def test_rotation_rewraps_every_row_and_retires_v1_only_when_none_is_left(
    pki, fresh_database_url, own_kek, db_of, tenant, sentinels
):
    db = await db_of(fresh_database_url)
    async with (
        keyvault_server(pki, fresh_database_url, **own_kek) as kv,
        keyvault_stub(pki, kv, identity="platform") as admin,
    ):
        keys = await save_keys(admin, sentinels, tenant)
        broken_tenant, broken_provider = f"{tenant}-2", "anthropic"
        broken_id = await corrupt_wrapped_key(db, broken_tenant, broken_provider)
        versions_before = {r["kek_version"] for r in await db.fetch(
            "SELECT kek_version FROM provider_keys"
        )}

        rotated = await admin.RotateKek(
            pb.RotateKekRequest(raise_min_decryption_version=True)
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await admin.SetMinDecryptionVersion(
                pb.SetMinDecryptionVersionRequest(version=2)
            )
        after_rotation = await read_all(pki, kv, keys)

        # The operator replaces the broken key, then resumes.
        fixed = sentinels.new()
        await admin.SaveKey(pb.SaveKeyRequest(
            tenant_id=broken_tenant, provider=broken_provider, api_key=fixed
        ))
        resumed = await admin.RewrapKeys(
            pb.RewrapKeysRequest(raise_min_decryption_version=True)
        )
        keys[(broken_tenant, broken_provider)] = fixed
        after_retiring = await read_all(pki, kv, keys)
        versions_after = {r["kek_version"] for r in await db.fetch(
            "SELECT kek_version FROM provider_keys"
        )}

    assert versions_before == {1}
    [kek] = rotated.keks
    assert (kek.latest_version, kek.rewrapped, kek.remaining) == (2, 7, 1)
    assert (kek.min_decryption_version, kek.min_decryption_version_raised) == (
        1, False
    )
    assert [(f.key_id, f.tenant_id, f.provider, f.kek_version, f.reason)
            for f in rotated.failures] == [
        (str(broken_id), broken_tenant, broken_provider, 1, "KEY_UNREADABLE")
    ]
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(refused.value).reason == "ROWS_BELOW_VERSION"
    assert "1 stored keys" in refused.value.details()
    assert after_rotation == {
        **keys, (broken_tenant, broken_provider): grpc.StatusCode.DATA_LOSS
    }
    [kek] = resumed.keks
    assert (kek.rewrapped, kek.remaining, kek.min_decryption_version) == (0, 0, 2)
    assert kek.min_decryption_version_raised
    assert list(resumed.failures) == []
    assert after_retiring == keys
    assert versions_after == {2}


async def test_a_key_wrapped_by_a_retired_version_is_data_loss(
    pki, fresh_database_url, own_kek, db_of, tenant, sentinels
):
    db = await db_of(fresh_database_url)
    async with (
        keyvault_server(pki, fresh_database_url, **own_kek) as kv,
        keyvault_stub(pki, kv) as admin,
    ):
        await admin.SaveKey(pb.SaveKeyRequest(
            tenant_id=tenant, provider="openai", api_key=sentinels.new()
        ))
        v1 = await db.fetchval(
            "SELECT wrapped_key FROM provider_keys WHERE tenant_id = $1", tenant
        )
        await admin.RotateKek(pb.RotateKekRequest(raise_min_decryption_version=True))

        await db.execute(
            "UPDATE provider_keys SET wrapped_key = $2, kek_version = 1"
            " WHERE tenant_id = $1",
            tenant,
            v1,
        )
        outcome = await read(pki, kv, tenant, "openai")

    assert outcome == grpc.StatusCode.DATA_LOSS


async def test_rewrapping_in_small_batches_resumes_where_rows_are_behind(
    pki, fresh_database_url, own_kek, db_of, tenant, sentinels
):
    db = await db_of(fresh_database_url)
    async with (
        keyvault_server(pki, fresh_database_url, **own_kek) as kv,
        keyvault_stub(pki, kv) as admin,
    ):
        keys = await save_keys(admin, sentinels, tenant)
        first = await admin.RotateKek(pb.RotateKekRequest(batch_size=3))
        again = await admin.RewrapKeys(pb.RewrapKeysRequest(batch_size=3))
        readable = await read_all(pki, kv, keys)
        events = await db.fetch(
            "SELECT event, count(*) AS n FROM key_events"
            " WHERE event IN ('rotated', 'rewrapped') GROUP BY event ORDER BY event"
        )

    assert (first.keks[0].rewrapped, first.keks[0].remaining) == (8, 0)
    assert (again.keks[0].rewrapped, again.keks[0].remaining) == (0, 0)
    assert readable == keys
    assert [(e["event"], e["n"]) for e in events] == [
        ("rewrapped", 8), ("rotated", 1)
    ]


async def test_a_rotation_already_running_elsewhere_is_refused(
    pki, fresh_database_url, own_kek, db_of
):
    db = await db_of(fresh_database_url)
    async with (
        keyvault_server(pki, fresh_database_url, **own_kek) as kv,
        keyvault_stub(pki, kv) as admin,
    ):
        await db.execute("SELECT pg_advisory_lock($1)", ROTATION_LOCK_ID)
        try:
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await admin.RotateKek(pb.RotateKekRequest())
        finally:
            await db.execute("SELECT pg_advisory_unlock($1)", ROTATION_LOCK_ID)

    assert raised.value.code() == grpc.StatusCode.ABORTED
    assert error_info(raised.value).reason == "ROTATION_IN_PROGRESS"


async def test_a_finished_rotation_leaves_no_lock_on_a_pooled_connection(
    pki, fresh_database_url, own_kek, db_of
):
    db = await db_of(fresh_database_url)
    async with (
        keyvault_server(pki, fresh_database_url, **own_kek) as kv,
        keyvault_stub(pki, kv) as admin,
    ):
        await admin.RotateKek(pb.RotateKekRequest())
        # The pool hands connections back without a reset: the lock must
        # have been released by the rotation itself.
        held = await db.fetchval(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
            " WHERE l.locktype = 'advisory' AND a.application_name = $1",
            "byok-keyvault",
        )
        taken = await db.fetchval("SELECT pg_try_advisory_lock($1)", ROTATION_LOCK_ID)
        await db.execute("SELECT pg_advisory_unlock($1)", ROTATION_LOCK_ID)
        again = await admin.RotateKek(pb.RotateKekRequest())

    assert held == 0
    assert taken is True
    assert len(again.keks) == 1


@pytest.mark.parametrize("identity", ["generation", "intruder"])
async def test_only_operators_may_rotate_rekey_or_delete_tenants(
    pki, keyvault, tenant, identity
):
    async with keyvault_stub(pki, keyvault, identity=identity) as stub:
        calls = [
            stub.RotateKek(pb.RotateKekRequest()),
            stub.RewrapKeys(pb.RewrapKeysRequest()),
            stub.SetMinDecryptionVersion(pb.SetMinDecryptionVersionRequest(version=1)),
            stub.RekeyKey(pb.RekeyKeyRequest(tenant_id=tenant, provider="openai")),
            stub.DeleteTenant(pb.DeleteTenantRequest(tenant_id=tenant)),
            stub.ListAuditEvents(pb.ListAuditEventsRequest(tenant_id=tenant)),
        ]
        codes = []
        for call in calls:
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await call
            codes.append(raised.value.code())

    assert codes == [grpc.StatusCode.PERMISSION_DENIED] * len(calls)


async def test_rekeying_gives_a_new_data_key_and_key_id_for_the_same_secret(
    pki, keyvault, db, tenant, sentinels
):
    key = sentinels.new()
    async with keyvault_stub(pki, keyvault) as admin:
        saved = await admin.SaveKey(
            pb.SaveKeyRequest(tenant_id=tenant, provider="qwen", api_key=key)
        )
        before = await db.fetchrow(
            "SELECT * FROM provider_keys WHERE tenant_id = $1", tenant
        )
        rekeyed = await admin.RekeyKey(
            pb.RekeyKeyRequest(tenant_id=tenant, provider="qwen")
        )
        after = await db.fetchrow(
            "SELECT * FROM provider_keys WHERE tenant_id = $1", tenant
        )
    revealed = await read(pki, keyvault, tenant, "qwen")

    assert rekeyed.key.key_id != saved.key.key_id == str(before["id"])
    assert rekeyed.key.key_id == str(after["id"])
    assert after["wrapped_key"] != before["wrapped_key"]
    assert after["ciphertext"] != before["ciphertext"]
    assert after["generation"] > before["generation"]
    assert rekeyed.key.create_time == saved.key.create_time
    assert revealed == key


async def test_rekeying_a_missing_key_is_not_found(pki, keyvault, tenant):
    async with keyvault_stub(pki, keyvault) as admin:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await admin.RekeyKey(pb.RekeyKeyRequest(tenant_id=tenant, provider="qwen"))

    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


async def test_the_operator_command_rotates_under_a_running_service(
    pki, fresh_database_url, own_kek, tenant, sentinels, tmp_path
):
    env = keyvault_env(
        pki, tmp_path, DATABASE_URL=fresh_database_url, **own_kek
    )
    async with (
        keyvault_server(pki, fresh_database_url, **own_kek) as kv,
        keyvault_stub(pki, kv) as admin,
    ):
        keys = await save_keys(admin, sentinels, tenant)

        finished = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c",
             "import sys; from keyvault_service.rotation import main;"
             " sys.exit(main(sys.argv[1:]))", "--retire"],
            env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), **env},
            capture_output=True, text=True, timeout=60, check=False,
        )
        # The service learns of the new version without a restart.
        readable = await read_all(pki, kv, keys)
        saved = await admin.SaveKey(pb.SaveKeyRequest(
            tenant_id=tenant, provider="google", api_key=sentinels.new()
        ))

    assert finished.returncode == 0, finished.stderr
    assert "latest v2, min v2, re-wrapped 8, behind 0" in finished.stdout
    # The summary alone on stdout; the JSON log lines on stderr.
    assert not [line for line in finished.stdout.splitlines() if "{" in line]
    assert '"event": "kek rotated"' in finished.stderr
    assert readable == keys
    assert saved.key.kek_version == 2


@pytest.mark.parametrize("size", ["-5", "0", "1001", "5000", "many"])
def test_the_operator_command_refuses_a_batch_size_outside_1_to_1000(
    size: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    # No settings at all: the refusal must come before anything is opened.
    for name in ("DATABASE_URL", "KEK_PROVIDER"):
        monkeypatch.delenv(name, raising=False)

    with pytest.raises(SystemExit) as exited:
        rotation_main(["--batch-size", size])

    assert exited.value.code == 2
    assert "--batch-size must be a whole number from 1 to 1000" in (
        capsys.readouterr().err
    )
