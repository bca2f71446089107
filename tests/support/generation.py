"""A real Generation service for tests, and a client that calls it over mTLS.

::

    async with generation_server(pki, keyvault.address, **provider_env(s)) as running:
        async with generation_stub(pki, running) as stub:
            async for event in stub.GenerateContent(request): ...

    outcome = await generate(pki, keyvault.address, request, **env)

Settings overrides are environment variable names. By default every
platform key is empty, whatever the test process's environment holds.
:func:`generate` runs a server for one request and returns an
:class:`Outcome`: the events, the error if any, and the trailers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import grpc
from byok.generation.v1 import generation_pb2, generation_pb2_grpc

from generation_service.config import PROVIDER_DEFAULTS, GenerationSettings
from generation_service.limits import Clock, utc_now
from generation_service.server import RunningGeneration, serve_generation
from shared.rpc import error_info
from shared.tls import channel_credentials

Response = generation_pb2.GenerateContentResponse

if TYPE_CHECKING:
    from tests.conftest import Pki


def generation_settings(
    pki: Pki, keyvault_address: str, **overrides: str
) -> GenerationSettings:
    files = pki.files("generation")
    env = {
        "GENERATION_LISTEN": "127.0.0.1:0",
        "GENERATION_TLS_CA": str(files.ca),
        "GENERATION_TLS_CERT": str(files.cert),
        "GENERATION_TLS_KEY": str(files.key),
        "KEYVAULT_ADDRESS": keyvault_address,
        "GENERATION_MAX_RETRY_WAIT_S": "1",
        **{f"{prefix}_API_KEY": "" for prefix, _, _ in PROVIDER_DEFAULTS.values()},
        **overrides,
    }
    return GenerationSettings.from_env(env)


@asynccontextmanager
async def generation_server(
    pki: Pki, keyvault_address: str, clock: Clock = utc_now, **overrides: str
) -> AsyncIterator[RunningGeneration]:
    settings = generation_settings(pki, keyvault_address, **overrides)
    async with serve_generation(settings, clock) as running:
        yield running


@asynccontextmanager
async def generation_stub(
    pki: Pki, running: RunningGeneration, identity: str = "platform"
) -> AsyncIterator[generation_pb2_grpc.GenerationServiceStub]:
    credentials = channel_credentials(pki.files(identity))
    async with grpc.aio.secure_channel(running.address, credentials) as channel:
        yield generation_pb2_grpc.GenerationServiceStub(channel)


@dataclass
class Outcome:
    """Everything one GenerateContent call gave back."""

    events: list[Response]
    error: grpc.aio.AioRpcError | None
    trailers: dict[str, str] = field(default_factory=dict)

    @property
    def kinds(self) -> list[str]:
        return [str(event.WhichOneof("event")) for event in self.events]

    @property
    def code(self) -> grpc.StatusCode:
        return self.error.code() if self.error else grpc.StatusCode.OK

    @property
    def reason(self) -> str:
        info = error_info(self.error) if self.error else None
        return info.reason if info else ""

    @property
    def summary(self) -> generation_pb2.GenerationSummary:
        assert self.kinds[-1] == "summary", self.kinds
        return self.events[-1].summary

    def of_kind(self, kind: str) -> list[Response]:
        return [e for e in self.events if e.WhichOneof("event") == kind]

    def completed(self) -> list[generation_pb2.VariantCompleted]:
        return [e.variant_completed for e in self.of_kind("variant_completed")]

    def failed(self) -> list[generation_pb2.VariantFailed]:
        return [e.variant_failed for e in self.of_kind("variant_failed")]

    def attempt_chain(self) -> list[tuple[str, str]]:
        """``(provider, outcome)`` per call, from the ``byok-attempts`` trailer."""
        entries = self.trailers.get("byok-attempts", "")
        return [
            (fields[1], fields[4])
            for fields in (entry.split(":") for entry in entries.split(","))
            if len(fields) == 5
        ]


async def call_generate(
    stub: generation_pb2_grpc.GenerationServiceStub,
    request: generation_pb2.GenerateContentRequest,
    deadline_s: float = 20,
) -> Outcome:
    events: list[Response] = []
    call = stub.GenerateContent(request, timeout=deadline_s)
    error = None
    try:
        async for event in call:
            events.append(event)
    except grpc.aio.AioRpcError as raised:
        error = raised
    trailers = {
        key: value
        for key, value in (await call.trailing_metadata() or ())
        if isinstance(value, str)
    }
    return Outcome(events, error, trailers)


async def generate(
    pki: Pki,
    keyvault_address: str,
    request: generation_pb2.GenerateContentRequest,
    deadline_s: float = 20,
    **env: str,
) -> Outcome:
    """Run a Generation server for one request and return what came back."""
    async with (
        generation_server(pki, keyvault_address, **env) as running,
        generation_stub(pki, running) as stub,
    ):
        return await call_generate(stub, request, deadline_s)
