"""Per-platform length policies, read from ``platforms.toml``."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from byok.generation.v1 import brand_pb2

from .counting import UNITS
from .errors import UnknownPlatformError


@dataclass(frozen=True, slots=True)
class Unit:
    id: str
    name: str  # "weighted characters", "bytes", ...
    explain: str  # one sentence for prompts


@dataclass(frozen=True, slots=True)
class LengthPolicy:
    """How one platform field is measured and what it allows.

    Limits are in ``unit``; 0 means "none" for every limit.
    """

    platform: str  # the canonical id, such as "youtube_description"
    label: str
    unit: Unit
    hard_limit: int
    recommended: int = 0
    max_hashtags: int = 0
    max_links: int = 0
    fold: int = 0
    forbidden: str = ""
    no_emoji: bool = False
    no_exclamation: bool = False
    max_exclamation: int = 0


@cache
def _table() -> tuple[MappingProxyType[str, LengthPolicy], MappingProxyType[str, str]]:
    raw = tomllib.loads(
        resources.files(__package__).joinpath("platforms.toml").read_text("utf-8")
    )
    units = {uid: Unit(uid, u["name"], u["explain"]) for uid, u in raw["units"].items()}
    if set(units) != set(UNITS):
        raise RuntimeError(f"platforms.toml units {sorted(units)} != {sorted(UNITS)}")

    policies = {
        pid: _policy(pid, entry, units) for pid, entry in raw["platforms"].items()
    }
    aliases = dict(raw.get("aliases", {}))
    for alias, target in aliases.items():
        if target not in policies:
            raise RuntimeError(f"alias {alias!r} names unknown platform {target!r}")
    return MappingProxyType(policies), MappingProxyType(aliases)


def _policy(pid: str, entry: dict[str, Any], units: dict[str, Unit]) -> LengthPolicy:
    fields = dict(entry)
    fields["unit"] = units[fields.pop("unit")]
    return LengthPolicy(platform=pid, **fields)


def known_platforms() -> tuple[str, ...]:
    policies, aliases = _table()
    return tuple(sorted([*policies, *aliases]))


def platform_policy(platform: str) -> LengthPolicy:
    policies, aliases = _table()
    canonical = aliases.get(platform, platform)
    try:
        return policies[canonical]
    except KeyError:
        raise UnknownPlatformError(platform, known_platforms()) from None


def platform_override(
    guide: brand_pb2.BrandGuide, policy: LengthPolicy
) -> brand_pb2.PlatformOverride | None:
    """The guide's override for this platform, by canonical id or alias."""
    _, aliases = _table()
    for override in guide.platform_overrides:
        if aliases.get(override.platform, override.platform) == policy.platform:
            return override
    return None


def effective_policy(guide: brand_pb2.BrandGuide, platform: str) -> LengthPolicy:
    """The platform's policy with the guide's override applied.

    An override's ``max_length`` replaces the hard limit (a brand may want
    shorter posts, or knows of a larger allowance such as X Premium).
    """
    policy = platform_policy(platform)
    override = platform_override(guide, policy)
    if override is None or override.max_length <= 0:
        return policy
    return dataclasses.replace(policy, hard_limit=override.max_length)
