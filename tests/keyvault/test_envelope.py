"""The envelope format, checked against its written description and by tampering."""

from __future__ import annotations

import base64
import dataclasses
import uuid

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keyvault_service import envelope
from keyvault_service.envelope import Envelope, KeyIdentity
from keyvault_service.errors import KeyUnreadable
from keyvault_service.kek.base import WrappedKey
from shared.secrets import SecretStr


@pytest.fixture
def identity(tenant) -> KeyIdentity:
    return KeyIdentity(uuid.uuid4(), tenant, "openai", generation=7)


def flipped(data: bytes, position: int) -> bytes:
    changed = bytearray(data)
    changed[position] ^= 0x80
    return bytes(changed)


def with_wrapped_body(sealed: Envelope, body: bytes) -> Envelope:
    prefix, version, _ = sealed.wrapped_key.text.split(":")
    text = f"{prefix}:{version}:{base64.b64encode(body).decode()}"
    return dataclasses.replace(
        sealed, wrapped_key=dataclasses.replace(sealed.wrapped_key, text=text)
    )


ROW_ID = uuid.UUID("00112233-4455-6677-8899-aabbccddeeff")


def test_associated_data_is_the_documented_length_prefixed_fields():
    identity = KeyIdentity(ROW_ID, "acme", "openai", generation=258)

    aad = envelope.associated_data(2, identity)

    assert aad == (
        b"\x00\x00\x00\x11byok.keyvault.key"
        b"\x00\x00\x00\x012"
        b"\x00\x00\x00\x04acme"
        b"\x00\x00\x00\x06openai"
        b"\x00\x00\x00\x10" + ROW_ID.bytes
        + b"\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x01\x02"
    )


def test_legacy_associated_data_has_no_generation_field():
    identity = KeyIdentity(ROW_ID, "acme", "openai", generation=0)

    aad = envelope.associated_data(1, identity)

    assert aad == (
        b"\x00\x00\x00\x11byok.keyvault.key"
        b"\x00\x00\x00\x011"
        b"\x00\x00\x00\x04acme"
        b"\x00\x00\x00\x06openai"
        b"\x00\x00\x00\x10" + ROW_ID.bytes
    )


async def test_a_sealed_key_opens_by_the_written_format(kek, identity, sentinels):
    key = sentinels.new()

    sealed = await envelope.seal(kek, identity, SecretStr(key))

    # Open it by hand, following only the module's docstring.
    data_key = await kek.unwrap(sealed.wrapped_key.text, identity.tenant_id)
    nonce, body = sealed.ciphertext[:12], sealed.ciphertext[12:]
    fields = [
        b"byok.keyvault.key", b"2", identity.tenant_id.encode(), b"openai",
        identity.row_id.bytes, identity.generation.to_bytes(8, "big"),
    ]
    aad = b"".join(len(f).to_bytes(4, "big") + f for f in fields)
    assert AESGCM(data_key).decrypt(nonce, body, aad).decode() == key
    assert len(data_key) == 32
    assert sealed.format_version == 2
    assert len(sealed.ciphertext) == 12 + len(key) + 16
    assert sealed.wrapped_key.provider == kek.name
    assert sealed.wrapped_key.key_name == kek.key_name


async def test_sealing_twice_uses_fresh_data_keys_and_nonces(kek, identity, sentinels):
    key = SecretStr(sentinels.new())

    first = await envelope.seal(kek, identity, key)
    second = await envelope.seal(kek, identity, key)

    assert first.ciphertext[:12] != second.ciphertext[:12]
    assert first.ciphertext != second.ciphertext
    first_dk = await kek.unwrap(first.wrapped_key.text, identity.tenant_id)
    second_dk = await kek.unwrap(second.wrapped_key.text, identity.tenant_id)
    assert first_dk != second_dk


async def test_every_flipped_ciphertext_byte_is_unreadable(kek, identity, sentinels):
    sealed = await envelope.seal(kek, identity, SecretStr(sentinels.new()))

    for position in range(len(sealed.ciphertext)):
        tampered = dataclasses.replace(
            sealed, ciphertext=flipped(sealed.ciphertext, position)
        )
        with pytest.raises(KeyUnreadable):
            await envelope.open_envelope(kek, identity, tampered)


async def test_every_flipped_wrapped_key_byte_is_unreadable(kek, identity, sentinels):
    sealed = await envelope.seal(kek, identity, SecretStr(sentinels.new()))
    body = base64.b64decode(sealed.wrapped_key.text.split(":")[2])

    for position in range(len(body)):
        with pytest.raises(KeyUnreadable):
            await envelope.open_envelope(
                kek, identity, with_wrapped_body(sealed, flipped(body, position))
            )


@pytest.mark.parametrize("length", [0, 12, 27, 28, 40])
async def test_a_truncated_ciphertext_is_unreadable(kek, identity, sentinels, length):
    sealed = await envelope.seal(kek, identity, SecretStr(sentinels.new()))

    truncated = dataclasses.replace(sealed, ciphertext=sealed.ciphertext[:length])

    with pytest.raises(KeyUnreadable):
        await envelope.open_envelope(kek, identity, truncated)


@pytest.mark.parametrize(
    "change",
    [
        {"tenant_id": "someone-else"},
        {"provider": "anthropic"},
        {"row_id": uuid.UUID(int=1)},
        {"generation": 6},
        {"generation": 8},
    ],
    ids=["tenant", "provider", "row id", "older generation", "newer generation"],
)
async def test_opening_under_another_identity_is_unreadable(
    kek, identity, sentinels, change
):
    sealed = await envelope.seal(kek, identity, SecretStr(sentinels.new()))

    elsewhere = dataclasses.replace(identity, **change)

    with pytest.raises(KeyUnreadable):
        await envelope.open_envelope(kek, elsewhere, sealed)


@pytest.mark.parametrize("version", [0, 1, 3])
async def test_another_format_version_is_unreadable(
    kek, identity, sentinels, version
):
    sealed = await envelope.seal(kek, identity, SecretStr(sentinels.new()))

    with pytest.raises(KeyUnreadable):
        await envelope.open_envelope(
            kek, identity, dataclasses.replace(sealed, format_version=version)
        )


async def test_a_data_key_wrapped_for_one_tenant_fails_for_another(kek, sentinels):
    victim = KeyIdentity(uuid.uuid4(), "victim", "openai")
    sealed = await envelope.seal(kek, victim, SecretStr(sentinels.new()))
    # Even with associated data rebuilt for the thief, the KEK context refuses.
    thief = KeyIdentity(victim.row_id, "thief", "openai")

    with pytest.raises(KeyUnreadable):
        await kek.unwrap(sealed.wrapped_key.text, thief.tenant_id)
    with pytest.raises(KeyUnreadable):
        await envelope.open_envelope(kek, thief, sealed)


async def test_unreadable_errors_say_nothing_about_the_cause(kek, identity, sentinels):
    sealed = await envelope.seal(kek, identity, SecretStr(sentinels.new()))
    forged = dataclasses.replace(
        sealed,
        wrapped_key=WrappedKey("nonsense", kek.name, kek.key_name, 1),
    )

    with pytest.raises(KeyUnreadable) as raised:
        await envelope.open_envelope(kek, identity, forged)

    assert str(raised.value) == ""
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__ or raised.value.__context__ is None
