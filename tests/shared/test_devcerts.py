"""The development CA issues certificates both services accept."""

from __future__ import annotations

import stat
from pathlib import Path

from cryptography import x509

from shared.devcerts import create_dev_pki, ensure_dev_pki


def test_private_keys_are_readable_by_the_owner_only(tmp_path: Path) -> None:
    pairs = create_dev_pki(tmp_path)

    for pair in pairs.values():
        assert stat.S_IMODE(pair.key.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "ca-key.pem").stat().st_mode) == 0o600


def test_certificates_name_loopback_and_their_service(tmp_path: Path) -> None:
    pairs = create_dev_pki(tmp_path)

    cert = x509.load_pem_x509_certificate(pairs["keyvault"].cert.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(names.get_values_for_type(x509.DNSName)) == {"localhost", "keyvault"}
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} == {
        "127.0.0.1",
        "::1",
    }


def test_existing_certificates_are_reused(tmp_path: Path) -> None:
    first = ensure_dev_pki(tmp_path)
    before = first["generation"].cert.read_bytes()

    second = ensure_dev_pki(tmp_path)

    assert second["generation"].cert.read_bytes() == before
