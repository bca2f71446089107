"""The local keyring file: versioned 256-bit KEKs, readable by the owner only.

Layout (JSON, written atomically)::

    {
      "format": 1,
      "name": "byok-local-kek",
      "min_decryption_version": 1,
      "versions": {"1": {"key": "<base64 of 32 bytes>", "created_at": "<ISO 8601>"}}
    }

The file is created with mode 0600 on first start. A file that group or
others may read is refused rather than repaired: someone else may already
have copied it, and only an operator can judge that.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from keyvault_service.errors import KeyringError

FORMAT = 1
DEFAULT_NAME = "byok-local-kek"
KEY_BYTES = 32
_OWNER_ONLY = 0o600


@dataclass(frozen=True)
class Keyring:
    name: str
    min_decryption_version: int
    # Version number -> raw KEK bytes. Never logged, never printed.
    versions: dict[int, bytes] = field(repr=False)
    created: dict[int, str] = field(repr=False)

    @property
    def latest_version(self) -> int:
        return max(self.versions, default=0)

    def with_min_decryption_version(self, version: int) -> Keyring:
        if not 1 <= version <= self.latest_version:
            raise ValueError(f"version {version} is not in the keyring")
        return Keyring(
            name=self.name,
            min_decryption_version=version,
            versions=self.versions,
            created=self.created,
        )

    def with_new_version(self) -> Keyring:
        version = self.latest_version + 1
        return Keyring(
            name=self.name,
            min_decryption_version=self.min_decryption_version,
            versions={**self.versions, version: secrets.token_bytes(KEY_BYTES)},
            created={**self.created, version: _now()},
        )


def load_or_create(path: Path, name: str = DEFAULT_NAME) -> Keyring:
    """Read the keyring at ``path``, creating a fresh one on first start."""
    if not path.exists():
        _create(path, name)
    return load(path)


def load(path: Path) -> Keyring:
    """Read the keyring at ``path``, refusing one that others may read."""
    _check_permissions(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise KeyringError(f"keyring {path} cannot be read as JSON") from None
    return _parse(document, path)


def save(path: Path, keyring: Keyring) -> None:
    """Replace the file atomically, so a crash never leaves half a keyring."""
    temporary = _write_private(path, keyring)
    os.replace(temporary, path)


def _create(path: Path, name: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    keyring = Keyring(
        name=name,
        min_decryption_version=1,
        versions={1: secrets.token_bytes(KEY_BYTES)},
        created={1: _now()},
    )
    temporary = _write_private(path, keyring)
    try:
        # link() fails if the name exists: two replicas starting together
        # both keep the first keyring instead of overwriting each other's.
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()


def _write_private(path: Path, keyring: Keyring) -> Path:
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _OWNER_ONLY)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(_document(keyring), handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    return temporary


def _check_permissions(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyringError(
            f"keyring {path} has mode {mode:04o}; it must be readable by its "
            f"owner only (chmod 600) - check who may have copied it"
        )


def _document(keyring: Keyring) -> dict[str, object]:
    return {
        "format": FORMAT,
        "name": keyring.name,
        "min_decryption_version": keyring.min_decryption_version,
        "versions": {
            str(version): {
                "key": base64.b64encode(key).decode("ascii"),
                "created_at": keyring.created[version],
            }
            for version, key in sorted(keyring.versions.items())
        },
    }


def _parse(document: object, path: Path) -> Keyring:
    malformed = KeyringError(f"keyring {path} is malformed")
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise malformed
    try:
        versions: dict[int, bytes] = {}
        created: dict[int, str] = {}
        for number, entry in document["versions"].items():
            key = base64.b64decode(entry["key"], validate=True)
            if len(key) != KEY_BYTES or int(number) < 1:
                raise malformed
            versions[int(number)] = key
            created[int(number)] = str(entry.get("created_at", ""))
        keyring = Keyring(
            name=str(document["name"]),
            min_decryption_version=int(document["min_decryption_version"]),
            versions=versions,
            created=created,
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise malformed from None
    if not versions or not 1 <= keyring.min_decryption_version <= max(versions):
        raise malformed
    return keyring


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
