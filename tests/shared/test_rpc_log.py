"""Exactly one log line per RPC, with the status the caller saw."""

from __future__ import annotations

import asyncio
import json

import grpc
import pytest
import structlog

from shared import logging as byok_logging
from shared.rpc import annotate, build_server, mark_serving
from shared.tls import channel_credentials, server_credentials

SERVICE = "test.Echo"


async def _echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    annotate(tenant="t-1")
    if request == b"boom":
        raise RuntimeError("handler bug")
    return request


async def _ticks(request: bytes, context: grpc.aio.ServicerContext):
    annotate(tenant="t-2")
    for index in range(1000):
        yield str(index).encode()
        await asyncio.sleep(0.01)


def _register(server: grpc.aio.Server) -> None:
    handlers = {
        "Echo": grpc.unary_unary_rpc_method_handler(_echo),
        "Ticks": grpc.unary_stream_rpc_method_handler(_ticks),
    }
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE, handlers),)
    )


@pytest.fixture
async def address(pki, capsys: pytest.CaptureFixture[str]):
    byok_logging.configure(fmt="json")
    server, port, health = build_server(
        [SERVICE], server_credentials(pki.files("keyvault")), "127.0.0.1:0", _register
    )
    await server.start()
    await mark_serving(health, [SERVICE])
    yield f"127.0.0.1:{port}"
    await server.stop(0)
    structlog.reset_defaults()


def rpc_lines(capsys: pytest.CaptureFixture[str]) -> list[dict]:
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    return [line for line in lines if line.get("event") == "rpc"]


async def wait_for_lines(capsys, count: int) -> list[dict]:
    seen: list[dict] = []
    for _ in range(100):
        seen += rpc_lines(capsys)
        if len(seen) >= count:
            return seen
        await asyncio.sleep(0.02)
    return seen


async def test_a_handler_exception_is_logged_as_unknown(pki, address, capsys) -> None:
    credentials = channel_credentials(pki.files("platform"))
    async with grpc.aio.secure_channel(address, credentials) as channel:
        call = channel.unary_unary(f"/{SERVICE}/Echo")
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await call(b"boom")

    (line,) = await wait_for_lines(capsys, 1)
    assert failed.value.code() == grpc.StatusCode.UNKNOWN
    assert line["status"] == "UNKNOWN"
    assert line["tenant"] == "t-1"


async def test_a_client_leaving_a_stream_is_logged_once_as_cancelled(
    pki, address, capsys
) -> None:
    credentials = channel_credentials(pki.files("platform"))
    async with grpc.aio.secure_channel(address, credentials) as channel:
        call = channel.unary_stream(f"/{SERVICE}/Ticks")(b"")
        received = [await call.read() for _ in range(3)]
        call.cancel()

    lines = await wait_for_lines(capsys, 1)
    await asyncio.sleep(0.2)
    lines += rpc_lines(capsys)
    assert received == [b"0", b"1", b"2"]
    assert [line["status"] for line in lines] == ["CANCELLED"]
    assert lines[0]["tenant"] == "t-2"
