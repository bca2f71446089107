"""The KEK providers: the local keyring file and Vault transit (real ``bao``)."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import stat
import time

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from keyvault_service.errors import (
    KekAccessDenied,
    KekMisconfigured,
    KekUnavailable,
    KeyringError,
    KeyUnreadable,
)
from keyvault_service.kek import LocalKek, TransitKek, VaultSession, verify_isolation
from shared.secrets import SecretStr
from tests.keyvault.proxy import tcp_proxy
from tests.support.ports import free_port


def transit(vault, key: str, token: str | None = None, **options) -> TransitKek:
    session = VaultSession.with_token(
        options.pop("address", vault.address),
        SecretStr(token or vault.root_token),
        timeout_s=options.pop("timeout_s", 5),
    )
    return TransitKek(session, "transit", key, owns_session=True, **options)


def hkdf(kek: bytes, context: str) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=None, info=context.encode()).derive(kek)


def keyring_keys(path) -> dict[int, bytes]:
    document = json.loads(path.read_text())
    return {int(v): base64.b64decode(e["key"]) for v, e in document["versions"].items()}


# -- both providers --------------------------------------------------------


async def test_a_wrapped_data_key_unwraps_only_under_its_own_context(kek):
    data_key = secrets.token_bytes(32)

    wrapped = await kek.wrap(data_key, "tenant-a")

    assert await kek.unwrap(wrapped.text, "tenant-a") == data_key
    with pytest.raises(KeyUnreadable):
        await kek.unwrap(wrapped.text, "tenant-b")
    with pytest.raises(KeyUnreadable):
        await kek.unwrap(wrapped.text, "tenant-a ")


async def test_wrapped_keys_carry_the_provider_prefix_and_kek_version(kek):
    wrapped = await kek.wrap(secrets.token_bytes(32), "tenant-a")
    info = await kek.key_info()

    prefix, version, body = wrapped.text.split(":")
    assert prefix == {"local": "local", "vault": "vault"}[kek.name]
    assert version == f"v{info.latest_version}" == f"v{wrapped.version}"
    assert len(base64.b64decode(body, validate=True)) == 12 + 32 + 16
    assert info.derived is True


async def test_rotation_wraps_new_keys_under_the_new_version_and_keeps_old_ones(kek):
    data_key = secrets.token_bytes(32)
    before = await kek.wrap(data_key, "tenant-a")

    info = await kek.rotate()
    after = await kek.wrap(data_key, "tenant-a")
    rewrapped = await kek.rewrap(before.text, "tenant-a")

    assert info.latest_version == before.version + 1
    assert after.version == rewrapped.version == info.latest_version
    assert await kek.unwrap(before.text, "tenant-a") == data_key
    assert await kek.unwrap(rewrapped.text, "tenant-a") == data_key
    with pytest.raises(KeyUnreadable):
        await kek.rewrap(before.text, "tenant-b")


@pytest.mark.parametrize(
    "text",
    ["", "vault:v1", "local:v0:AAAA", "local:vX:AAAA", "local:v1:not base64!",
     "local:v1:AAAA", "vault:v1:AAAA", "other:v1:AAAA", "local:v9999:" + "A" * 80],
)
async def test_malformed_wrapped_keys_are_unreadable(kek, text):
    with pytest.raises(KeyUnreadable):
        await kek.unwrap(text, "tenant-a")


async def test_the_start_up_probe_passes_for_a_correct_kek(kek):
    await verify_isolation(kek)


# -- local keyring ----------------------------------------------------------


async def test_the_keyring_is_created_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "state" / "keyring.json"

    LocalKek(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert len(keyring_keys(path)[1]) == 32
    assert [p.name for p in path.parent.iterdir()] == ["keyring.json"]


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o666, 0o700])
async def test_a_keyring_others_may_read_is_refused(tmp_path, mode):
    path = tmp_path / "keyring.json"
    LocalKek(path)
    path.chmod(mode)

    if mode & 0o077:
        with pytest.raises(KeyringError, match="chmod 600"):
            LocalKek(path)
    else:
        LocalKek(path)


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        '{"format": 2}',
        '{"format": 1, "name": "k", "min_decryption_version": 1, "versions": {}}',
        '{"format": 1, "name": "k", "min_decryption_version": 1,'
        ' "versions": {"1": {"key": "c2hvcnQ="}}}',
        '{"format": 1, "name": "k", "min_decryption_version": 2,'
        ' "versions": {"1": {"key": "' + base64.b64encode(bytes(32)).decode() + '"}}}',
    ],
)
async def test_a_malformed_keyring_is_refused(tmp_path, content):
    path = tmp_path / "keyring.json"
    path.write_text(content)
    path.chmod(0o600)

    with pytest.raises(KeyringError, match="keyring"):
        LocalKek(path)


async def test_a_restarted_provider_reads_what_the_first_one_wrapped(tmp_path):
    path = tmp_path / "keyring.json"
    data_key = secrets.token_bytes(32)

    wrapped = await LocalKek(path).wrap(data_key, "tenant-a")
    rotated = LocalKek(path)
    await rotated.rotate()

    restarted = LocalKek(path)
    assert await restarted.unwrap(wrapped.text, "tenant-a") == data_key
    assert (await restarted.key_info()).latest_version == 2
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(keyring_keys(path)) == [1, 2]


async def test_local_wrapping_is_aes_gcm_under_hkdf_of_the_version_key(tmp_path):
    path = tmp_path / "keyring.json"
    kek = LocalKek(path)
    data_key = secrets.token_bytes(32)

    wrapped = await kek.wrap(data_key, "tenant-a")

    raw = base64.b64decode(wrapped.text.removeprefix("local:v1:"))
    derived = hkdf(keyring_keys(path)[1], "tenant-a")
    assert AESGCM(derived).decrypt(raw[:12], raw[12:], None) == data_key


async def test_local_and_transit_ciphertexts_are_interchangeable(vault, tmp_path):
    name = f"interop-{secrets.token_hex(4)}"
    created = vault.api(
        "POST", f"transit/keys/{name}", {"derived": True, "exportable": True}
    )
    assert created.status_code in (200, 204)
    exported = vault.api("GET", f"transit/export/encryption-key/{name}/1").json()
    version_key = base64.b64decode(exported["data"]["keys"]["1"])
    path = tmp_path / "keyring.json"
    path.write_text(json.dumps({
        "format": 1, "name": name, "min_decryption_version": 1,
        "versions": {"1": {"key": base64.b64encode(version_key).decode()}},
    }))
    path.chmod(0o600)
    local, remote = LocalKek(path), transit(vault, name)
    data_key = secrets.token_bytes(32)

    try:
        from_local = await local.wrap(data_key, "tenant-a")
        from_remote = await remote.wrap(data_key, "tenant-a")
        as_vault = from_local.text.replace("local:", "vault:", 1)
        as_local = from_remote.text.replace("vault:", "local:", 1)
        assert await remote.unwrap(as_vault, "tenant-a") == data_key
        assert await local.unwrap(as_local, "tenant-a") == data_key
    finally:
        await remote.aclose()


# -- transit ----------------------------------------------------------------


async def test_a_missing_transit_key_is_refused_unless_creation_is_allowed(vault):
    name = f"missing-{secrets.token_hex(4)}"
    refusing, creating = transit(vault, name), transit(vault, name, create_key=True)

    try:
        with pytest.raises(KekMisconfigured, match="does not exist"):
            await refusing.check()
        await creating.check()
    finally:
        await refusing.aclose()
        await creating.aclose()

    described = vault.api("GET", f"transit/keys/{name}").json()["data"]
    assert described["derived"] is True
    assert described["type"] == "aes256-gcm96"


async def test_a_transit_key_that_is_not_derived_is_refused(vault):
    name = f"plain-{secrets.token_hex(4)}"
    vault.api("POST", f"transit/keys/{name}", {"derived": False})
    kek = transit(vault, name, create_key=True)

    try:
        with pytest.raises(KekMisconfigured, match="not derived"):
            await kek.check()
        # The probe alone would catch it too: context is ignored.
        with pytest.raises(KekMisconfigured, match="derived"):
            await verify_isolation(kek)
    finally:
        await kek.aclose()


async def test_a_token_limited_to_crypto_paths_passes_the_start_up_checks(vault):
    name = f"least-{secrets.token_hex(4)}"
    vault.api("POST", f"transit/keys/{name}", {"derived": True})
    policy = "\n".join(
        f'path "transit/{op}/{name}" {{ capabilities = ["update"] }}'
        for op in ("encrypt", "decrypt", "rewrap")
    )
    vault.api("PUT", f"sys/policies/acl/{name}", {"policy": policy})
    token = vault.api(
        "POST", "auth/token/create", {"policies": [name], "ttl": "10m"}
    ).json()["auth"]["client_token"]
    kek = transit(vault, name, token=token)

    try:
        await kek.check()
        await verify_isolation(kek)
        with pytest.raises(KekAccessDenied):
            await kek.key_info()
    finally:
        await kek.aclose()


async def test_a_refused_token_is_access_denied_and_not_leaked(vault, captured_logs):
    bogus = f"hvs.{secrets.token_urlsafe(24)}"
    kek = transit(vault, "byok-kek-tests", token=bogus)

    try:
        with pytest.raises(KekAccessDenied) as raised:
            await kek.wrap(secrets.token_bytes(32), "tenant-a")
    finally:
        await kek.aclose()

    assert bogus not in str(raised.value)
    assert bogus not in captured_logs.text


async def test_an_unreachable_vault_is_unavailable(vault):
    kek = transit(vault, "byok-kek-tests", address=f"http://127.0.0.1:{free_port()}")

    try:
        with pytest.raises(KekUnavailable, match="cannot be reached"):
            await kek.wrap(secrets.token_bytes(32), "tenant-a")
    finally:
        await kek.aclose()


async def test_a_hung_vault_is_unavailable_within_the_timeout(vault):
    async with tcp_proxy("127.0.0.1", int(vault.address.rsplit(":", 1)[1])) as proxy:
        proxy.black_hole = True
        kek = transit(
            vault, "byok-kek-tests",
            address=f"http://127.0.0.1:{proxy.port}", timeout_s=0.3,
        )
        started = time.monotonic()
        try:
            with pytest.raises(KekUnavailable, match="did not answer"):
                await kek.wrap(secrets.token_bytes(32), "tenant-a")
        finally:
            await kek.aclose()

    assert time.monotonic() - started < 1.5


async def test_the_transit_client_ignores_proxy_and_token_environment(
    vault, monkeypatch
):
    # A dead proxy and a wrong token in the environment would break every
    # call if the client picked them up.
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("ALL_PROXY", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("VAULT_TOKEN", "from-the-environment")
    kek = transit(vault, "byok-kek-tests", create_key=True)

    try:
        await kek.check()
        wrapped = await kek.wrap(b"k" * 32, "tenant-a")
    finally:
        await kek.aclose()

    assert wrapped.text.startswith("vault:v")


class StatusResponder:
    """An HTTP server that answers every request with one fixed Vault error."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        body = json.dumps({"errors": [message]}).encode()
        self._answer = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode() + body
        self.requests = 0
        self.port = 0

    async def __aenter__(self) -> StatusResponder:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader, writer) -> None:
        await reader.readuntil(b"\r\n\r\n")
        self.requests += 1
        writer.write(self._answer)
        await writer.drain()
        writer.close()


@pytest.mark.parametrize(
    ("status", "reason", "message", "error", "requests"),
    [
        (503, "Service Unavailable", "Vault is sealed", KekUnavailable, 3),
        (429, "Too Many Requests", "rate limit quota exceeded", KekUnavailable, 3),
        (400, "Bad Request", "cipher: message authentication failed",
         KeyUnreadable, 1),
        (403, "Forbidden", "permission denied", KekAccessDenied, 1),
    ],
    ids=["sealed", "rate limited", "bad request", "forbidden"],
)
async def test_only_answers_that_mean_later_are_retried_within_the_budget(
    vault, status, reason, message, error, requests
):
    async with StatusResponder(status, reason, message) as responder:
        kek = transit(
            vault, "byok-kek-tests",
            address=f"http://127.0.0.1:{responder.port}", timeout_s=2,
        )
        started = time.monotonic()
        try:
            with pytest.raises(error):
                await kek.unwrap("vault:v1:" + "A" * 80, "tenant-a")
        finally:
            await kek.aclose()

    assert responder.requests == requests
    assert time.monotonic() - started < 2
