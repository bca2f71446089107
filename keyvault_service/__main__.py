"""``python -m keyvault_service``: serve with settings from the environment.

This entry point needs ``DATABASE_URL``; the ``byok`` command is the one that
starts an embedded PostgreSQL when it is empty.
"""

from __future__ import annotations

import asyncio
import sys

from keyvault_service.config import KeyVaultSettings
from keyvault_service.errors import KeyVaultError
from keyvault_service.server import run_forever
from shared import logging as byok_logging
from shared.settings import SettingsError


def main() -> int:
    byok_logging.configure()
    try:
        settings = KeyVaultSettings.from_env()
    except SettingsError as error:
        print(f"keyvault: {error}", file=sys.stderr)
        return 2
    if not settings.database_url:
        print("keyvault: DATABASE_URL is required", file=sys.stderr)
        return 2
    try:
        asyncio.run(run_forever(settings, settings.database_url.reveal()))
    except KeyVaultError as error:
        print(f"keyvault: refusing to start: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
