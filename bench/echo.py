"""A bare grpc.aio unary echo over mTLS: the floor any gRPC service stands on.

``python -m bench.echo --listen HOST:PORT --ca CA --cert CERT --key KEY``
serves one method that returns its request bytes. It has no interceptor,
no health service and no logging, and uses the same credential functions as
the services, so the difference to a real RPC is the service's own work.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

import grpc

from shared.tls import TlsFiles, server_credentials

METHOD = "/bench.v1.Echo/Echo"


def _identity(payload: bytes) -> bytes:
    return payload


async def _echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return request


async def serve(listen: str, tls: TlsFiles) -> None:
    handler = grpc.method_handlers_generic_handler(
        "bench.v1.Echo",
        {
            "Echo": grpc.unary_unary_rpc_method_handler(
                _echo, request_deserializer=_identity, response_serializer=_identity
            )
        },
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    if server.add_secure_port(listen, server_credentials(tls)) == 0:
        raise OSError(f"cannot listen on {listen}")
    await server.start()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await server.stop(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.echo")
    parser.add_argument("--listen", required=True)
    parser.add_argument("--ca", type=Path, required=True)
    parser.add_argument("--cert", type=Path, required=True)
    parser.add_argument("--key", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.listen, TlsFiles(args.ca, args.cert, args.key)))


if __name__ == "__main__":
    main()
