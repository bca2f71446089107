"""The key-encryption key (KEK) interface every provider implements.

A KEK wraps the per-key data keys; it never sees a provider key. Each wrap
is bound to a *context* (the tenant id): unwrapping with another context
fails, so a data key copied to another tenant's row is useless there.

Wrapped data keys are text in transit's shape, ``<prefix>:v<N>:<base64>``,
where ``N`` is the KEK version that wrapped them. Storing ``N`` beside each
row lets a rotation job find rows still on an older version.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Sequence
from dataclasses import dataclass

from keyvault_service.errors import KeyUnreadable

_WRAPPED = re.compile(r"(?P<prefix>[a-z]+):v(?P<version>[1-9][0-9]{0,9}):(?P<body>.+)")


@dataclass(frozen=True)
class WrappedKey:
    """A data key wrapped by one KEK version."""

    text: str
    provider: str
    key_name: str
    version: int


@dataclass(frozen=True)
class KeyInfo:
    """What a provider tells about its KEK, never the key itself."""

    provider: str
    key_name: str
    latest_version: int
    min_decryption_version: int
    derived: bool


class KekProvider(abc.ABC):
    """Wraps and unwraps data keys under a versioned, context-deriving KEK."""

    name: str
    key_name: str

    @abc.abstractmethod
    async def wrap(self, data_key: bytes, context: str) -> WrappedKey:
        """Wrap ``data_key`` under the latest KEK version, bound to ``context``."""

    @abc.abstractmethod
    async def unwrap(self, wrapped: str, context: str) -> bytes:
        """Recover a data key; raises :class:`KeyUnreadable` if it fails."""

    @abc.abstractmethod
    async def rewrap(self, wrapped: str, context: str) -> WrappedKey:
        """Re-wrap under the latest version without exposing the data key."""

    @abc.abstractmethod
    async def rewrap_many(
        self, items: Sequence[tuple[str, str]]
    ) -> list[WrappedKey | KeyUnreadable]:
        """Re-wrap ``(wrapped, context)`` pairs; each item fails on its own."""

    @abc.abstractmethod
    async def rotate(self) -> KeyInfo:
        """Add a KEK version; new wraps use it, old ones stay readable."""

    @abc.abstractmethod
    async def set_min_decryption_version(self, version: int) -> KeyInfo:
        """Refuse to unwrap anything wrapped by a version below ``version``."""

    async def ensure(self) -> None:
        """Create the KEK if it does not exist yet (per-tenant KEKs)."""
        await self.check()

    async def destroy(self) -> None:
        """Delete the KEK for good: whatever it wrapped becomes unreadable."""
        raise NotImplementedError(f"{self.name} KEK {self.key_name} is not destroyable")

    async def refresh(self) -> None:
        """Forget cached KEK state another replica may have changed."""
        return None

    @abc.abstractmethod
    async def key_info(self) -> KeyInfo:
        """Describe the KEK's versions and whether it derives per context."""

    @abc.abstractmethod
    async def check(self) -> None:
        """Confirm at start-up that the KEK exists and derives per context."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Release connections and files."""


def parse_wrapped(wrapped: str, prefix: str) -> tuple[int, str]:
    """Split ``<prefix>:vN:<body>`` into ``(N, body)`` or reject it as unreadable."""
    match = _WRAPPED.fullmatch(wrapped)
    if match is None or match["prefix"] != prefix:
        raise KeyUnreadable()
    return int(match["version"]), match["body"]
