"""Session-wide real servers: certificates, PostgreSQL and OpenBao."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shared.devcerts import CertPair, create_dev_pki, issue
from shared.tls import TlsFiles
from tests.support.bao import VaultServer, running_vault
from tests.support.postgres import scratch_database


class Pki:
    """The test run's certificate authority and its issued identities."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.pairs: dict[str, CertPair] = create_dev_pki(directory)
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        ca_cert = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
        ca_key = serialization.load_pem_private_key(
            (directory / "ca-key.pem").read_bytes(), password=None
        )
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
        # Signed by the same CA, but on no allow-list.
        self.pairs["intruder"] = issue(directory, "intruder", ca_cert, ca_key)

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    def files(self, name: str) -> TlsFiles:
        pair = self.pairs[name]
        return TlsFiles(ca=self.ca, cert=pair.cert, key=pair.key)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    async with scratch_database() as url:
        yield url


@pytest.fixture(scope="session")
def vault() -> Iterator[VaultServer]:
    with running_vault() as server:
        server.enable_transit()
        yield server
