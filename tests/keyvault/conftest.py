"""Fixtures for the KeyVault tests: real servers, captured logs, sentinel keys."""

from __future__ import annotations

import io
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import asyncpg
import pytest
import structlog

from keyvault_service.kek import KekProvider, LocalKek, TransitKek, VaultSession
from keyvault_service.server import RunningKeyVault
from shared import logging as byok_logging
from shared.secrets import SecretStr
from tests.conftest import Pki
from tests.support.bao import VaultServer
from tests.support.keyvault import keyvault_server
from tests.support.postgres import scratch_database

# No hex digits: a sentinel's pieces can never turn up by chance in a hex
# dump of a bytea column or in a base64 ciphertext of this length.
_SENTINEL_ALPHABET = "ghjkmnpqrstuvwxyzGHJKMNPQRSTUVWXYZ"
TEST_TRANSIT_KEY = "byok-kek-tests"


def vault_overrides(vault: VaultServer, **extra: str) -> dict[str, str]:
    return {
        "KEK_PROVIDER": "vault",
        "VAULT_ADDR": vault.address,
        "VAULT_TOKEN": vault.root_token,
        "VAULT_TRANSIT_KEY": TEST_TRANSIT_KEY,
        "VAULT_TRANSIT_CREATE_KEY": "true",
        "VAULT_TIMEOUT_S": "2",
        **extra,
    }


@dataclass
class Sentinels:
    """Unique fake keys, searched for in logs, statuses and rows."""

    issued: list[str] = field(default_factory=list)

    def new(self) -> str:
        body = "".join(secrets.choice(_SENTINEL_ALPHABET) for _ in range(40))
        # '+' keeps a pasted sentinel from passing as a tenant id.
        value = f"kv+{body}"
        self.issued.append(value)
        return value

    def leaks_in(self, text: str) -> list[str]:
        """Every 8-character piece of an issued sentinel found in ``text``."""
        found = []
        for sentinel in self.issued:
            for start in range(len(sentinel) - 7):
                piece = sentinel[start : start + 8]
                if piece in text:
                    found.append(piece)
        return found


@dataclass
class CapturedLogs:
    structured: io.StringIO
    caplog: pytest.LogCaptureFixture

    @property
    def text(self) -> str:
        return self.structured.getvalue() + "\n" + self.caplog.text


@pytest.fixture(autouse=True)
def captured_logs(caplog: pytest.LogCaptureFixture) -> Iterator[CapturedLogs]:
    """Every log line of the test, at DEBUG, as the service renders it."""
    saved = structlog.get_config()
    buffer = io.StringIO()
    byok_logging.configure(level="DEBUG", fmt="json")
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=buffer))
    caplog.set_level(logging.DEBUG)
    try:
        yield CapturedLogs(buffer, caplog)
    finally:
        structlog.configure(**saved)


@pytest.fixture
def sentinels(captured_logs: CapturedLogs) -> Iterator[Sentinels]:
    """Sentinel keys; the test fails if any piece of one reached a log."""
    issued = Sentinels()
    yield issued
    assert issued.leaks_in(captured_logs.text) == []


@pytest.fixture
def tenant() -> str:
    return f"tenant-{secrets.token_hex(6)}"


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection, to inspect and tamper with stored rows."""
    connection = await asyncpg.connect(database_url)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture(scope="module", params=["local", "vault"])
def kek_overrides(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "local":
        return {"KEK_PROVIDER": "local"}
    return vault_overrides(request.getfixturevalue("vault"))


@pytest.fixture(scope="module")
async def keyvault(
    pki: Pki, database_url: str, kek_overrides: dict[str, str]
) -> AsyncIterator[RunningKeyVault]:
    """One real KeyVault per module and KEK provider."""
    async with keyvault_server(pki, database_url, **kek_overrides) as running:
        yield running


async def all_rows_text(connection: asyncpg.Connection) -> str:
    """Every column of every row of every table, as PostgreSQL prints it."""
    tables = await connection.fetch(
        "SELECT table_schema, table_name FROM information_schema.tables"
        " WHERE table_type = 'BASE TABLE'"
        " AND table_schema NOT IN ('pg_catalog', 'information_schema')"
    )
    assert tables, "no tables to scan"
    parts = []
    for table in tables:
        name = f'"{table["table_schema"]}"."{table["table_name"]}"'
        # The names come from the catalogue, not from input.
        rows = await connection.fetch(f"SELECT t::text AS row FROM {name} t")  # noqa: S608
        parts.extend(row["row"] for row in rows)
    return "\n".join(parts)


@pytest.fixture(params=["local", "vault"])
async def kek(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[KekProvider]:
    """A checked KEK provider of each kind, as the server would build it."""
    if request.param == "local":
        provider: KekProvider = LocalKek(tmp_path / "keyring.json")
    else:
        vault = request.getfixturevalue("vault")
        session = VaultSession.with_token(
            vault.address, SecretStr(vault.root_token), timeout_s=5
        )
        provider = TransitKek(
            session, "transit", TEST_TRANSIT_KEY, create_key=True, owns_session=True
        )
    try:
        await provider.check()
        yield provider
    finally:
        await provider.aclose()


@pytest.fixture
async def db_of() -> AsyncIterator[Callable[[str], Awaitable[asyncpg.Connection]]]:
    """Direct connections to any test database, closed after the test."""
    connections: list[asyncpg.Connection] = []

    async def connect(url: str) -> asyncpg.Connection:
        connections.append(await asyncpg.connect(url))
        return connections[-1]

    yield connect
    for connection in connections:
        await connection.close()


@pytest.fixture
async def fresh_database_url() -> AsyncIterator[str]:
    """A database of the test's own, for tests that scan every row."""
    async with scratch_database() as url:
        yield url


@pytest.fixture(params=["local", "vault"])
def own_kek(request: pytest.FixtureRequest, tmp_path) -> dict[str, str]:
    """Settings for a KEK no other test uses, of each provider."""
    if request.param == "local":
        return {
            "KEK_PROVIDER": "local",
            "KEK_LOCAL_KEYRING": str(tmp_path / "keyring.json"),
        }
    vault = request.getfixturevalue("vault")
    return vault_overrides(vault, VAULT_TRANSIT_KEY=f"own-{secrets.token_hex(4)}")
