"""``python -m generation_service``: serve with settings from the environment."""

from __future__ import annotations

import asyncio
import os
import sys

from generation_service.config import GenerationSettings
from generation_service.errors import StoreError
from generation_service.server import run_forever
from generation_service.store.migrate import MigrationError
from shared import logging as byok_logging
from shared.settings import SettingsError


def main() -> int:
    byok_logging.configure()
    try:
        settings = GenerationSettings.from_env(os.environ)
        asyncio.run(run_forever(settings))
    except SettingsError as error:
        print(f"generation: {error}", file=sys.stderr)
        return 2
    except (StoreError, MigrationError) as error:
        print(f"generation: refusing to start: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
