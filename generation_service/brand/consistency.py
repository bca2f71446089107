"""Consistency: one spelling of a term per variant.

The guide lists spellings that are each acceptable ("email", "e-mail") but
must not be mixed. The first spelling a variant uses wins; every later use
of another spelling is reported with the first one, inflected like the
match, as its fix. Matching follows :mod:`.matching` (whole words, any case,
inflections unless the entry is exact).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import _text
from .findings import Finding, match_case
from .inflection import inflect_like
from .matching import longest_first
from .rule_ids import slug
from .spans import SpanIndex

if TYPE_CHECKING:
    from .compiled import CompiledGuide


def mixed_spellings(
    compiled: CompiledGuide, text: str, skip: Sequence[_text.Spanned]
) -> list[Finding]:
    if not compiled.consistent:
        return []
    skipped = SpanIndex(skip)
    matches = [
        m
        for m in longest_first(compiled.consistent.find_all(text))
        if not skipped.overlaps(m.start, m.end)
    ]

    first: dict[int, int] = {}
    found = []
    for match in matches:
        term, spelling = match.key
        chosen = first.setdefault(term, spelling)
        if spelling == chosen:
            continue
        variants = compiled.guide.consistent_terms[term].variants
        wanted = inflect_like(variants[chosen], variants[spelling], match.text)
        suggestion = match_case(wanted, match.text)
        found.append(
            Finding(
                rule_id=f"consistency.{slug(variants[0])}",
                start=match.start,
                end=match.end,
                matched=match.text,
                message=(
                    f'Write "{suggestion}" as earlier in the text, not "{match.text}".'
                ),
                suggestion=suggestion,
            )
        )
    return found
