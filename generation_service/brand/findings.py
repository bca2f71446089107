"""What a rule reports before adherence decides its severity and weight."""

from __future__ import annotations

from dataclasses import dataclass

from byok.generation.v1 import brand_pb2

from .rule_ids import FAMILIES, family_of


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule broken once.

    ``start``/``end`` are code point offsets; both are None when the finding
    concerns the whole variant (a missing required term, readability).
    ``severity`` is None for the family default.
    """

    rule_id: str
    start: int | None
    end: int | None
    matched: str
    message: str
    suggestion: str = ""
    severity: brand_pb2.Severity.ValueType | None = None

    @property
    def family(self) -> str:
        return family_of(self.rule_id)

    @property
    def rule_type(self) -> str:
        return FAMILIES[self.family][0]

    def sort_key(self) -> tuple[int, int, int, str]:
        if self.start is None or self.end is None:
            return (1, 0, 0, self.rule_id)
        return (0, self.start, self.end, self.rule_id)


def match_case(replacement: str, source: str) -> str:
    """Carry the source's casing onto a lowercase replacement.

    ``E-mail`` -> ``Email``, ``E-MAIL`` -> ``EMAIL``; a replacement that has
    its own capitals (a product name) is kept as written.
    """
    if replacement != replacement.lower() or not source:
        return replacement
    if len(source) > 1 and source.isupper():
        return replacement.upper()
    if source[0].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement
