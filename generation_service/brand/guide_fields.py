"""Checks shared by every part of brand guide validation."""

from __future__ import annotations

import unicodedata

from byok.generation.v1 import brand_pb2

from .errors import BrandGuideError

MAX_TERM_CHARS = 100
SEVERITIES = frozenset(brand_pb2.Severity.values()) - {brand_pb2.SEVERITY_UNSPECIFIED}


def check_text(path: str, value: str, max_chars: int = MAX_TERM_CHARS) -> str:
    """``value`` normalised for comparisons; raises when empty or unsafe."""
    if not value.strip():
        raise BrandGuideError(path, "must not be empty")
    if len(value) > max_chars:
        raise BrandGuideError(path, f"is longer than {max_chars} characters")
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in value):
        raise BrandGuideError(path, "must not contain control characters")
    return " ".join(value.split()).casefold()


def check_severity(path: str, value: brand_pb2.Severity.ValueType) -> None:
    """Unset is allowed and means the rule family's default."""
    if value not in SEVERITIES | {brand_pb2.SEVERITY_UNSPECIFIED}:
        raise BrandGuideError(path, "is not a known severity")
