"""Structured logging: one JSON line per event, secrets redacted.

``configure`` is called once by each service. In production (``LOG_FORMAT``
unset or ``json``) lines are JSON; ``LOG_FORMAT=console`` renders them for a
terminal. Traceback locals are never rendered, because a frame may hold a
decrypted key. The redaction processor masks fields whose names say they are
secret, and any value that looks like a provider key or a Vault token.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

from shared.secrets import MASK
from shared.settings import SettingsError

LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
}
FORMATS = ("json", "console")

SECRET_FIELD = re.compile(
    r"(api_?key|secret|token|password|authorization|credential|private_?key|dek)",
    re.IGNORECASE,
)
# Shapes of provider keys and Vault tokens, masked wherever they turn up.
SECRET_VALUE = re.compile(
    r"(sk-[A-Za-z0-9_\-]{8,}|AIza[0-9A-Za-z_\-]{20,}|hv[sbr]\.[A-Za-z0-9_\-]{8,}"
    r"|s\.[A-Za-z0-9]{20,}|Bearer\s+\S+)"
)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return SECRET_VALUE.sub(MASK, value)
    if isinstance(value, Mapping):
        return {k: MASK if _is_secret_field(k) else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub(item) for item in value)
    return value


def _is_secret_field(name: object) -> bool:
    return isinstance(name, str) and bool(SECRET_FIELD.search(name))


def redact_secrets(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Mask secret-named fields and key-shaped values in every log event."""
    for name in list(event):
        if _is_secret_field(name):
            event[name] = MASK
        else:
            event[name] = _scrub(event[name])
    return event


def configure(level: str | None = None, fmt: str | None = None) -> None:
    level_name = (level or os.environ.get("LOG_LEVEL") or "INFO").upper()
    fmt = (fmt or os.environ.get("LOG_FORMAT") or "json").lower()
    numeric = LEVELS.get(level_name)
    if numeric is None:
        raise SettingsError(f"LOG_LEVEL must be one of {', '.join(LEVELS)}")
    if fmt not in FORMATS:
        raise SettingsError("LOG_FORMAT must be json or console")

    renderer: Any
    if fmt == "console":
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(),
            exception_formatter=structlog.dev.plain_traceback,
        )
        exceptions: list[Any] = []
    else:
        renderer = structlog.processors.JSONRenderer()
        exceptions = [
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            )
        ]

    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            *exceptions,
            redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        # Looked up per logger, so a replaced sys.stderr (tests, daemons) is used.
        logger_factory=lambda *_: structlog.PrintLogger(sys.stderr),
        cache_logger_on_first_use=False,
    )
