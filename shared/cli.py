"""The ``byok`` command: one entry point for every operator task."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from shared import logging as byok_logging
from shared.settings import SettingsError, state_dir


def _certs(args: argparse.Namespace) -> int:
    from shared.devcerts import create_dev_pki, ensure_dev_pki

    out = Path(args.directory or state_dir() / "certs")
    pairs = create_dev_pki(out) if args.force else ensure_dev_pki(out)
    print(f"CA: {out / 'ca.pem'}")
    for name, pair in pairs.items():
        print(f"{name}: {pair.cert} {pair.key}")
    return 0


def _keyvault(_: argparse.Namespace) -> int:
    from keyvault_service.config import KeyVaultSettings
    from keyvault_service.errors import KeyVaultError
    from keyvault_service.server import run_forever
    from shared.devstack.embedded_db import start_embedded

    settings = KeyVaultSettings.from_env()

    async def serve() -> None:
        url = settings.database_url.reveal()
        if not url:
            url = await start_embedded(state_dir() / "postgres")
        await run_forever(settings, url)

    try:
        asyncio.run(serve())
    except KeyVaultError as error:
        print(f"byok keyvault: refusing to start: {error}", file=sys.stderr)
        return 1
    return 0


def _generation(_: argparse.Namespace) -> int:
    from generation_service.config import GenerationSettings
    from generation_service.errors import StoreError
    from generation_service.server import run_forever
    from generation_service.store.migrate import MigrationError

    try:
        asyncio.run(run_forever(GenerationSettings.from_env(os.environ)))
    except (StoreError, MigrationError) as error:
        print(f"byok generation: refusing to start: {error}", file=sys.stderr)
        return 1
    return 0


def _rotate_kek(args: argparse.Namespace) -> int:
    from keyvault_service.rotation import run

    return run(args)


def _up(_: argparse.Namespace) -> int:
    from shared.devstack.up import run_up

    return asyncio.run(run_up())


def _demo(_: argparse.Namespace) -> int:
    from shared.devstack.demo import run_demo

    return asyncio.run(run_demo())


def _protos(_: argparse.Namespace) -> int:
    from shared.protogen import main

    return main()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="byok", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    certs = commands.add_parser(
        "certs", help="create a development CA and certificates"
    )
    certs.add_argument("directory", nargs="?", help="default: $BYOK_STATE_DIR/certs")
    certs.add_argument(
        "--force", action="store_true", help="replace certificates that exist"
    )
    certs.set_defaults(run=_certs)
    commands.add_parser("keyvault", help="run the KeyVault service").set_defaults(
        run=_keyvault
    )
    commands.add_parser("generation", help="run the Generation service").set_defaults(
        run=_generation
    )
    rotate = commands.add_parser(
        "rotate-kek", help="rotate the key-encryption key and re-wrap stored keys"
    )
    from keyvault_service.rotation import add_arguments

    add_arguments(rotate)
    rotate.set_defaults(run=_rotate_kek)
    commands.add_parser(
        "up", help="run the local stack until interrupted"
    ).set_defaults(run=_up)
    commands.add_parser(
        "demo", help="run the local stack, stream one real generation, stop"
    ).set_defaults(run=_demo)
    commands.add_parser(
        "protos", help="regenerate the gRPC code from protos/"
    ).set_defaults(run=_protos)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    interactive = args.command in {"demo", "up"}
    # The demo's output is the stream itself; its log lines would only interleave.
    default_level = "WARNING" if args.command == "demo" else "INFO"
    try:
        byok_logging.configure(
            level=os.environ.get("LOG_LEVEL") or default_level,
            fmt=os.environ.get("LOG_FORMAT") or ("console" if interactive else "json"),
        )
        return int(args.run(args))
    except SettingsError as exc:
        print(f"byok {args.command}: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
