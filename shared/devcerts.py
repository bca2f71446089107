"""A development certificate authority for the local stack and the tests.

``byok certs DIR`` writes, with owner-only permissions on private keys:

- ``ca.pem`` and ``ca-key.pem``: the authority both services trust;
- ``keyvault.pem``/``keyvault-key.pem``: KeyVault's server certificate;
- ``generation.pem``/``generation-key.pem``: Generation's certificate, used as
  its server certificate and as its client identity towards KeyVault;
- ``platform.pem``/``platform-key.pem``: a backend caller (and grpcurl).

Every certificate names ``localhost``, ``127.0.0.1`` and ``::1``, plus the
service's own host name for the compose network. These are for development
only: production certificates come from the deployment's own authority.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_IDENTITIES = ("keyvault", "generation", "platform")
VALIDITY = dt.timedelta(days=365)


@dataclass(frozen=True)
class CertPair:
    cert: Path
    key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "byok development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def create_ca(out_dir: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("byok development CA"))
        .issuer_name(_name("byok development CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    _write_cert(out_dir / "ca.pem", cert)
    _write_key(out_dir / "ca-key.pem", key)
    return cert, key


def issue(
    out_dir: Path,
    name: str,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    extra_hosts: tuple[str, ...] = (),
) -> CertPair:
    """Issue a certificate usable both as a server and as a client identity."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    hosts = ("localhost", name, *extra_hosts)
    alt_names: list[x509.GeneralName] = [x509.DNSName(host) for host in hosts]
    alt_names += [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pair = CertPair(out_dir / f"{name}.pem", out_dir / f"{name}-key.pem")
    _write_cert(pair.cert, cert)
    _write_key(pair.key, key)
    return pair


def create_dev_pki(
    out_dir: Path, identities: tuple[str, ...] = DEFAULT_IDENTITIES
) -> dict[str, CertPair]:
    """Create a CA and one certificate per identity in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = create_ca(out_dir)
    return {name: issue(out_dir, name, ca_cert, ca_key) for name in identities}


def ensure_dev_pki(out_dir: Path) -> dict[str, CertPair]:
    """Reuse the certificates in ``out_dir`` if they are all there."""
    pairs = {
        name: CertPair(out_dir / f"{name}.pem", out_dir / f"{name}-key.pem")
        for name in DEFAULT_IDENTITIES
    }
    complete = (out_dir / "ca.pem").exists() and all(
        pair.cert.exists() and pair.key.exists() for pair in pairs.values()
    )
    return pairs if complete else create_dev_pki(out_dir)
