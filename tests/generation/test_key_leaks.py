"""No failure path lets a key out: logs, statuses, details, trailers, events.

Every path runs with a sentinel tenant key and a sentinel platform key, and
the test searches everything the caller and the operator can see for any
8-character piece of either.
"""

from __future__ import annotations

import asyncpg
import grpc
import pytest
from byok.generation.v1 import generation_pb2

from keyvault_service.server import RunningKeyVault
from provider_standin import Behaviour, Script, Standin
from tests.conftest import Pki
from tests.generation.conftest import CapturedLogs, request_for, save_key
from tests.support.generation import generation_server, generation_stub
from tests.support.ports import free_port
from tests.support.standin import pieces_of, platform_keys, provider_env, sentinel_key

FAILURES = [
    Behaviour.UNAUTHORIZED,
    Behaviour.FORBIDDEN,
    Behaviour.BAD_REQUEST,
    Behaviour.MALFORMED,
    Behaviour.EMPTY,
    Behaviour.NOT_FOUND,
    Behaviour.RATE_LIMITED,
    Behaviour.SERVER_ERROR,
    Behaviour.UNAVAILABLE,
    Behaviour.RESET,
    Behaviour.CUT,
    Behaviour.STALL,
    Behaviour.OVERLOADED_MID_STREAM,
]


async def visible_output(
    pki: Pki,
    keyvault_address: str,
    request: generation_pb2.GenerateContentRequest,
    **env: str,
) -> tuple[grpc.StatusCode, str]:
    """The status and everything the caller received, as one text."""
    seen: list[str] = []
    code = grpc.StatusCode.OK
    async with (
        generation_server(pki, keyvault_address, **env) as running,
        generation_stub(pki, running) as stub,
    ):
        call = stub.GenerateContent(request, timeout=20)
        try:
            async for event in call:
                seen.append(str(event))
        except grpc.aio.AioRpcError as error:
            code = error.code()
            seen.append(error.details() or "")
            seen.append(repr(error.debug_error_string()))
        for key, value in [
            *(await call.initial_metadata() or ()),
            *(await call.trailing_metadata() or ()),
        ]:
            seen.append(f"{key}={value!r}")
    return code, "\n".join(seen)


async def stored_rows(database_url: str) -> str:
    """Every row of Generation's own tables, as one text."""
    connection = await asyncpg.connect(database_url)
    try:
        tables = await connection.fetch(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = 'generation'"
        )
        rows = []
        for table in tables:
            name = table["table_name"]
            rows += await connection.fetch(f'SELECT * FROM generation."{name}"')  # noqa: S608
    finally:
        await connection.close()
    return "\n".join(str(dict(row)) for row in rows)


def leaks(secrets: list[str], *texts: str) -> set[str]:
    found = set()
    for secret in secrets:
        for text in texts:
            found |= {piece for piece in pieces_of(secret) if piece in text}
    return found


@pytest.mark.parametrize("behaviour", FAILURES)
@pytest.mark.parametrize("provider", ["openai", "anthropic", "google"])
async def test_no_provider_failure_shows_any_piece_of_a_key(
    pki: Pki,
    keyvault: RunningKeyVault,
    database_url: str,
    standin: Standin,
    captured_logs: CapturedLogs,
    tenant: str,
    provider: str,
    behaviour: Behaviour,
) -> None:
    tenant_key = sentinel_key("tenant")
    platform_key = sentinel_key("platform")
    await save_key(pki, keyvault, tenant, provider, tenant_key)
    standin.script(tenant_key, Script(behaviour=behaviour, fail_after=1))
    env = {
        **provider_env(standin),
        **platform_keys({provider: platform_key}),
        "GENERATION_STREAM_IDLE_TIMEOUT_S": "0.3",
        "GENERATION_DATABASE_URL": database_url,
    }

    code, output = await visible_output(
        pki, keyvault.address, request_for(tenant, provider), **env
    )

    assert code != grpc.StatusCode.OK
    assert standin.requests, "the failure path never reached the provider"
    rows = await stored_rows(database_url)
    assert tenant in rows, "the failure path left no usage record"
    assert leaks([tenant_key, platform_key], output, captured_logs.text, rows) == set()


async def test_keyvault_down_shows_no_piece_of_the_platform_key(
    pki: Pki, standin: Standin, captured_logs: CapturedLogs, tenant: str
) -> None:
    platform_key = sentinel_key("platform")
    env = {**provider_env(standin), **platform_keys({"openai": platform_key})}

    code, output = await visible_output(
        pki, f"127.0.0.1:{free_port()}", request_for(tenant, "openai"), **env
    )

    assert code == grpc.StatusCode.UNAVAILABLE
    assert leaks([platform_key], output, captured_logs.text) == set()


async def test_bad_input_shows_no_piece_of_a_key(
    pki: Pki,
    keyvault: RunningKeyVault,
    standin: Standin,
    captured_logs: CapturedLogs,
    tenant: str,
) -> None:
    tenant_key = sentinel_key("tenant")
    await save_key(pki, keyvault, tenant, "openai", tenant_key)
    request = request_for(tenant, "openai", variants=9)

    code, output = await visible_output(
        pki, keyvault.address, request, **provider_env(standin)
    )

    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert leaks([tenant_key], output, captured_logs.text) == set()
