"""docker-compose.yml agrees with what the services actually read.

No Docker engine runs here, so the file is checked against the settings
classes: every variable it sets is one the service reads, the settings parse,
published ports match the listen addresses, and addresses point at services.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import yaml

from generation_service.config import GenerationSettings
from keyvault_service.config import KeyVaultSettings

COMPOSE = Path(__file__).resolve().parent.parent / "docker-compose.yml"
DOCKERFILE = COMPOSE.parent / "Dockerfile"
SHARED_VARIABLES = {"LOG_FORMAT", "LOG_LEVEL", "BYOK_STATE_DIR"}


class RecordingEnv(Mapping[str, str]):
    """An environment that remembers which variables were looked up."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.read.add(name)
        return self.values[name]

    def get(self, name: str, default=None):  # type: ignore[override]
        self.read.add(name)
        return self.values.get(name, default)

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str):
            self.read.add(name)
        return name in self.values

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def service_env(compose: dict, name: str) -> dict[str, str]:
    raw = compose["services"][name]["environment"]
    # ${VAR:-} interpolates to empty when the operator's shell has no value.
    return {
        key: "" if str(value).startswith("${") else str(value)
        for key, value in raw.items()
    }


def published_ports(compose: dict, name: str) -> set[int]:
    return {
        int(str(port).split(":")[-1]) for port in compose["services"][name]["ports"]
    }


@pytest.mark.parametrize(
    ("service", "settings_class"),
    [("keyvault", KeyVaultSettings), ("generation", GenerationSettings)],
)
def test_every_variable_set_in_compose_is_read_by_the_service(
    compose: dict, service: str, settings_class: type
) -> None:
    env = RecordingEnv(service_env(compose, service))

    settings_class.from_env(env)

    unread = set(env.values) - env.read - SHARED_VARIABLES
    assert unread == set(), f"{service} never reads {sorted(unread)}"


def test_listen_addresses_match_the_published_ports(compose: dict) -> None:
    keyvault = KeyVaultSettings.from_env(service_env(compose, "keyvault"))
    generation = GenerationSettings.from_env(service_env(compose, "generation"))

    assert published_ports(compose, "keyvault") == {
        int(keyvault.listen.rsplit(":", 1)[1])
    }
    assert published_ports(compose, "generation") == {
        int(generation.listen.rsplit(":", 1)[1])
    }
    assert keyvault.listen.startswith("0.0.0.0:")
    assert generation.listen.startswith("0.0.0.0:")


def test_addresses_point_at_services_of_the_file(compose: dict) -> None:
    keyvault = KeyVaultSettings.from_env(service_env(compose, "keyvault"))
    generation = GenerationSettings.from_env(service_env(compose, "generation"))
    services = set(compose["services"])

    kv_host, kv_port = generation.keyvault_address.rsplit(":", 1)
    assert kv_host == "keyvault"
    assert kv_port == keyvault.listen.rsplit(":", 1)[1]
    assert keyvault.vault_addr == "http://vault:8200"
    assert "@postgres:5432/" in keyvault.database_url.reveal()
    assert {"postgres", "vault", "keyvault", "generation"} <= services


def test_keyvault_in_compose_uses_vault_transit(compose: dict) -> None:
    keyvault = KeyVaultSettings.from_env(service_env(compose, "keyvault"))

    assert keyvault.kek_provider == "vault"
    assert keyvault.decrypt_allowed_clients == frozenset({"generation"})
    init = " ".join(compose["services"]["vault-init"]["command"])
    assert f"transit/keys/{keyvault.vault_transit_key} derived=true" in init


def test_certificates_in_compose_exist_for_each_identity(compose: dict) -> None:
    for service, prefix in (("keyvault", "KEYVAULT"), ("generation", "GENERATION")):
        env = service_env(compose, service)
        assert env[f"{prefix}_TLS_CERT"] == f"/certs/{service}.pem"
        assert env[f"{prefix}_TLS_KEY"] == f"/certs/{service}-key.pem"
    certs = compose["services"]["certs"]["command"][0]
    assert certs.startswith("byok certs /certs")
    # The services run as the image's unprivileged user and must read their keys.
    assert "chown -R 10001:10001 /certs" in certs
    assert "USER byok" in DOCKERFILE.read_text()
    assert "--uid 10001" in DOCKERFILE.read_text()
    assert "rm -f /certs/ca-key.pem" in certs


def test_published_ports_are_bound_to_loopback_on_the_host(compose: dict) -> None:
    for name in ("vault", "keyvault", "generation"):
        for port in compose["services"][name]["ports"]:
            assert str(port).startswith("127.0.0.1:"), (name, port)
