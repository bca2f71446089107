"""Fixtures for the Generation tests: the stand-in, KeyVault, captured logs."""

from __future__ import annotations

import io
import logging
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
import structlog
from byok.generation.v1 import brand_pb2, generation_pb2
from byok.keyvault.v1 import keyvault_pb2

from keyvault_service.server import RunningKeyVault
from provider_standin import Standin, running_standin
from shared import logging as byok_logging
from tests.conftest import Pki
from tests.support.keyvault import keyvault_server, keyvault_stub


@dataclass
class CapturedLogs:
    structured: io.StringIO
    caplog: pytest.LogCaptureFixture

    @property
    def text(self) -> str:
        return self.structured.getvalue() + "\n" + self.caplog.text

    def rpc_lines(self) -> list[str]:
        return [line for line in self.text.splitlines() if '"event": "rpc"' in line]


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


@pytest.fixture(scope="module")
async def standin() -> AsyncIterator[Standin]:
    async with running_standin() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_standin(request: pytest.FixtureRequest) -> None:
    """Each test starts with no scripts and no recorded requests."""
    if "standin" in request.fixturenames:
        request.getfixturevalue("standin").reset()


@pytest.fixture(scope="module")
async def keyvault(pki: Pki, database_url: str) -> AsyncIterator[RunningKeyVault]:
    async with keyvault_server(pki, database_url) as running:
        yield running


@pytest.fixture
def tenant() -> str:
    return f"tenant-{secrets.token_hex(6)}"


async def save_key(
    pki: Pki, keyvault: RunningKeyVault, tenant: str, provider: str, key: str
) -> None:
    async with keyvault_stub(pki, keyvault) as stub:
        await stub.SaveKey(
            keyvault_pb2.SaveKeyRequest(
                tenant_id=tenant, provider=provider, api_key=key
            )
        )


def request_for(
    tenant: str,
    provider: str,
    platforms: tuple[str, ...] = ("linkedin",),
    variants: int = 1,
    prompt: str = "Announce the Trailhead jacket to hikers.",
    **fields: object,
) -> generation_pb2.GenerateContentRequest:
    return generation_pb2.GenerateContentRequest(
        tenant_id=tenant,
        provider=provider,
        prompt=prompt,
        content_type=generation_pb2.CONTENT_TYPE_SOCIAL_POST,
        platforms=list(platforms),
        variant_count=variants,
        adherence=brand_pb2.ADHERENCE_LEVEL_MODERATE,
        brand_guide=brand_pb2.BrandGuide(name="Trailhead"),
        **fields,  # type: ignore[arg-type]
    )
