"""Adherence levels: which severities block a variant.

* STRICT: errors and warnings block.
* MODERATE (also used for UNSPECIFIED): errors block.
* LOOSE: nothing blocks; every violation is still reported.
* CUSTOM: the guide's rule overrides first change a rule's severity or
  disable it (an exact rule id wins over a ``family.*`` entry), then
  MODERATE decides.

A banned term's or a condition's own severity in the guide applies at every
level.
"""

from __future__ import annotations

from byok.generation.v1 import brand_pb2

from .findings import Finding
from .rule_ids import FAMILIES

STRICT = brand_pb2.ADHERENCE_LEVEL_STRICT
MODERATE = brand_pb2.ADHERENCE_LEVEL_MODERATE
LOOSE = brand_pb2.ADHERENCE_LEVEL_LOOSE
CUSTOM = brand_pb2.ADHERENCE_LEVEL_CUSTOM

_BLOCKING = {
    STRICT: {brand_pb2.SEVERITY_ERROR, brand_pb2.SEVERITY_WARNING},
    MODERATE: {brand_pb2.SEVERITY_ERROR},
    LOOSE: set(),
    CUSTOM: {brand_pb2.SEVERITY_ERROR},
}


def effective_level(
    level: brand_pb2.AdherenceLevel.ValueType,
) -> brand_pb2.AdherenceLevel.ValueType:
    return level if level in _BLOCKING else MODERATE


def severity(
    finding: Finding,
    guide: brand_pb2.BrandGuide,
    level: brand_pb2.AdherenceLevel.ValueType,
) -> brand_pb2.Severity.ValueType | None:
    """The finding's severity at ``level``; None when the rule is disabled."""
    base = finding.severity or FAMILIES[finding.family][1]
    if level != CUSTOM:
        return base

    overrides = {o.rule_id: o for o in guide.rule_overrides}
    override = overrides.get(finding.rule_id) or overrides.get(f"{finding.family}.*")
    if override is None:
        return base
    if override.disabled:
        return None
    return override.severity or base


def blocks(
    value: brand_pb2.Severity.ValueType, level: brand_pb2.AdherenceLevel.ValueType
) -> bool:
    return value in _BLOCKING[level]
