"""Envelope encryption of one provider key, and the format it is stored in.

Stored format, version 1. Each saved key gets a fresh row id (UUID) and a
fresh 256-bit data key (DK). The row then holds:

``ciphertext``
    ``nonce(12) | AES-256-GCM(DK, nonce, api_key as UTF-8, aad) | tag(16)``,
    with a random 96-bit nonce.
``wrapped_key``
    DK wrapped by the key-encryption key with ``context = tenant id``:
    ``<provider prefix>:v<N>:<base64>`` (see :mod:`keyvault_service.kek`).
``kek_provider``, ``kek_key_name``, ``kek_version``
    which KEK, and which version N of it, wrapped DK.
``format_version``
    ``1``.

The associated data ``aad`` binds the ciphertext to the row it was sealed for.
It is the concatenation of length-prefixed fields, each a 4-byte big-endian
length followed by the bytes::

    "byok.keyvault.key" | str(format_version) | tenant_id | provider | row_id (16 bytes)

Moving a ciphertext to another tenant, provider or row, or changing its
format version, fails authentication. The KEK context binds DK to the tenant
as well, so a wrapped key copied across tenants fails one layer earlier.
Every failure to open an envelope is one opaque :class:`KeyUnreadable`.
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

FORMAT_VERSION = 1
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


@dataclass(frozen=True)
class Envelope:
    format_version: int
    ciphertext: bytes
    wrapped_key: WrappedKey


def associated_data(format_version: int, identity: KeyIdentity) -> bytes:
    fields = (
        AAD_LABEL,
        str(format_version).encode(),
        identity.tenant_id.encode(),
        identity.provider.encode(),
        identity.row_id.bytes,
    )
    return b"".join(len(field).to_bytes(4, "big") + field for field in fields)


async def seal(kek: KekProvider, identity: KeyIdentity, api_key: SecretStr) -> Envelope:
    """Encrypt ``api_key`` under a new data key wrapped for the tenant."""
    data_key = AESGCM.generate_key(bit_length=DATA_KEY_BYTES * 8)
    wrapped = await kek.wrap(data_key, identity.tenant_id)

    nonce = secrets.token_bytes(NONCE_BYTES)
    aad = associated_data(FORMAT_VERSION, identity)
    sealed = AESGCM(data_key).encrypt(nonce, api_key.reveal().encode(), aad)
    return Envelope(FORMAT_VERSION, nonce + sealed, wrapped)


async def open_envelope(
    kek: KekProvider, identity: KeyIdentity, envelope: Envelope
) -> SecretStr:
    """Decrypt a stored key; any inconsistency raises :class:`KeyUnreadable`."""
    if envelope.format_version != FORMAT_VERSION:
        raise KeyUnreadable()
    if len(envelope.ciphertext) < NONCE_BYTES + TAG_BYTES:
        raise KeyUnreadable()

    data_key = await kek.unwrap(envelope.wrapped_key.text, identity.tenant_id)
    if len(data_key) != DATA_KEY_BYTES:
        raise KeyUnreadable()

    nonce = envelope.ciphertext[:NONCE_BYTES]
    aad = associated_data(envelope.format_version, identity)
    try:
        plain = AESGCM(data_key).decrypt(nonce, envelope.ciphertext[NONCE_BYTES:], aad)
        return SecretStr(plain.decode("utf-8"))
    except (InvalidTag, UnicodeDecodeError):
        raise KeyUnreadable() from None
