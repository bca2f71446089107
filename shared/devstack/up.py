"""``byok up``: keep the local stack running for grpcurl and other clients."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import TextIO

from shared.devstack.stack import running_stack


def _grpcurl_command() -> str:
    """grpcurl as installed by the dev extra, beside this interpreter."""
    beside_python = Path(sys.executable).parent / "grpcurl"
    return str(beside_python) if beside_python.exists() else "grpcurl"


async def run_up(out: TextIO = sys.stdout) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    async with running_stack() as stack:
        grpcurl = _grpcurl_command()
        tls = (
            f"-cacert {stack.certs}/ca.pem -cert {stack.certs}/platform.pem "
            f"-key {stack.certs}/platform-key.pem"
        )
        out.write(
            f"KeyVault   {stack.keyvault_address}\n"
            f"Generation {stack.generation_address}\n"
            f"Database   {stack.database}\n"
            f"Model      {stack.local_model_url or 'off'}\n\n"
            "Try:\n"
            f"  {grpcurl} {tls} {stack.keyvault_address} list\n"
            f"  {grpcurl} {tls} {stack.generation_address} describe "
            "byok.generation.v1.GenerationService\n\n"
            "Ctrl-C stops the stack.\n"
        )
        out.flush()
        await stop.wait()
    return 0


def main() -> int:
    return asyncio.run(run_up())
