"""Mutual TLS for both services: credentials and the caller's identity.

Servers always require a client certificate signed by the configured CA;
there is no plaintext port. A caller's identity is its certificate's common
name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc

from shared.settings import SettingsError, env_str


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], prefix: str, default_dir: Path, name: str
    ) -> TlsFiles:
        """Read ``{prefix}_TLS_CA``, ``_TLS_CERT`` and ``_TLS_KEY``."""
        return cls(
            ca=Path(env_str(env, f"{prefix}_TLS_CA", str(default_dir / "ca.pem"))),
            cert=Path(
                env_str(env, f"{prefix}_TLS_CERT", str(default_dir / f"{name}.pem"))
            ),
            key=Path(
                env_str(env, f"{prefix}_TLS_KEY", str(default_dir / f"{name}-key.pem"))
            ),
        )

    def read(self) -> tuple[bytes, bytes, bytes]:
        try:
            return self.ca.read_bytes(), self.cert.read_bytes(), self.key.read_bytes()
        except OSError as exc:
            raise SettingsError(
                f"cannot read TLS file {exc.filename}: {exc.strerror}"
            ) from None


def server_credentials(files: TlsFiles) -> grpc.ServerCredentials:
    ca, cert, key = files.read()
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=ca, require_client_auth=True
    )


def channel_credentials(files: TlsFiles) -> grpc.ChannelCredentials:
    ca, cert, key = files.read()
    return grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=key, certificate_chain=cert
    )


def peer_identities(context: grpc.aio.ServicerContext) -> frozenset[str]:
    """The caller's identity: its verified certificate's common name.

    Subject alternative names are left out on purpose: host names such as
    ``localhost`` appear in many certificates and would let any of them pass
    an allow-list that named one.
    """
    name = peer_common_name(context)
    return frozenset({name}) if name else frozenset()


def peer_common_name(context: grpc.aio.ServicerContext) -> str:
    values = context.auth_context().get("x509_common_name", ())
    if not values:
        return ""
    first = values[0]
    return first.decode() if isinstance(first, bytes) else str(first)
