"""Envelope encryption of one provider key, and the format it is stored in.

Stored format, version 2. Each saved key gets a fresh row id (UUID), a fresh
256-bit data key (DK) and a new *generation* (a number that only grows, kept
apart from the row in ``key_generations``). The row then holds:

``ciphertext``
    ``nonce(12) | AES-256-GCM(DK, nonce, api_key as UTF-8, aad) | tag(16)``,
    with a random 96-bit nonce.
``wrapped_key``
    DK wrapped by the key-encryption key with ``context = tenant id``:
    ``<provider prefix>:v<N>:<base64>`` (see :mod:`keyvault_service.kek`).
``kek_provider``, ``kek_key_name``, ``kek_version``
    which KEK, and which version N of it, wrapped DK.
``format_version``
    ``2``.

The associated data ``aad`` binds the ciphertext to the row it was sealed for.
It is the concatenation of length-prefixed fields, each a 4-byte big-endian
length followed by the bytes::

    "byok.keyvault.key" | str(format_version) | tenant_id | provider
        | row_id (16 bytes) | generation (8 bytes, big-endian)

Moving a ciphertext to another tenant, provider or row, or changing its
format version, fails authentication. The generation is read from
``key_generations``, not from the row, so putting back a row (or a whole
row's worth of columns) from an earlier save fails too: the generation it was
sealed with is no longer the current one. The KEK context binds DK to the
tenant as well, so a wrapped key copied across tenants fails one layer
earlier. Every failure to open an envelope is one opaque :class:`KeyUnreadable`.

Format 1, written before generations existed, has no generation field in
its associated data. It is still read, but only while the tenant and
provider's generation is 0, that is until the key is next saved.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keyvault_service.errors import KeyUnreadable
from keyvault_service.kek.base import KekProvider, WrappedKey
from shared.secrets import SecretStr

FORMAT_VERSION = 2
LEGACY_FORMAT_VERSION = 1
READABLE_FORMATS = frozenset({LEGACY_FORMAT_VERSION, FORMAT_VERSION})
DATA_KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
AAD_LABEL = b"byok.keyvault.key"


@dataclass(frozen=True)
class KeyIdentity:
    """What a sealed key is bound to."""

    row_id: uuid.UUID
    tenant_id: str
    provider: str
    generation: int = 0


@dataclass(frozen=True)
class Envelope:
    format_version: int
    ciphertext: bytes
    wrapped_key: WrappedKey


def associated_data(format_version: int, identity: KeyIdentity) -> bytes:
    fields = [
        AAD_LABEL,
        str(format_version).encode(),
        identity.tenant_id.encode(),
        identity.provider.encode(),
        identity.row_id.bytes,
    ]
    if format_version != LEGACY_FORMAT_VERSION:
        fields.append(identity.generation.to_bytes(8, "big"))
    return b"".join(len(field).to_bytes(4, "big") + field for field in fields)


async def seal(kek: KekProvider, identity: KeyIdentity, api_key: SecretStr) -> Envelope:
    """Encrypt ``api_key`` under a new data key wrapped for the tenant."""
    data_key = AESGCM.generate_key(bit_length=DATA_KEY_BYTES * 8)
    wrapped = await kek.wrap(data_key, identity.tenant_id)

    nonce = secrets.token_bytes(NONCE_BYTES)
    aad = associated_data(FORMAT_VERSION, identity)
    sealed = AESGCM(data_key).encrypt(nonce, api_key.reveal().encode(), aad)
    return Envelope(FORMAT_VERSION, nonce + sealed, wrapped)


def check_shape(envelope: Envelope) -> None:
    """Refuse an envelope no data key could open, before asking the KEK."""
    if envelope.format_version not in READABLE_FORMATS:
        raise KeyUnreadable()
    if len(envelope.ciphertext) < NONCE_BYTES + TAG_BYTES:
        raise KeyUnreadable()


def open_with_data_key(
    data_key: bytes, identity: KeyIdentity, envelope: Envelope
) -> SecretStr:
    """Decrypt a stored key with its unwrapped data key."""
    check_shape(envelope)
    if len(data_key) != DATA_KEY_BYTES:
        raise KeyUnreadable()

    nonce = envelope.ciphertext[:NONCE_BYTES]
    aad = associated_data(envelope.format_version, identity)
    try:
        plain = AESGCM(data_key).decrypt(nonce, envelope.ciphertext[NONCE_BYTES:], aad)
        return SecretStr(plain.decode("utf-8"))
    except (InvalidTag, UnicodeDecodeError):
        raise KeyUnreadable() from None


async def open_envelope(
    kek: KekProvider, identity: KeyIdentity, envelope: Envelope
) -> SecretStr:
    """Decrypt a stored key; any inconsistency raises :class:`KeyUnreadable`."""
    check_shape(envelope)
    data_key = await kek.unwrap(envelope.wrapped_key.text, identity.tenant_id)
    return open_with_data_key(data_key, identity, envelope)
