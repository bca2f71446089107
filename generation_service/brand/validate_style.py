"""Validation of the style rules: consistency, conditions, acronyms, claims.

Part of :func:`validate.validate_guide`; the same rules apply: the first
wrong field raises :class:`BrandGuideError` with its path.
"""

from __future__ import annotations

import regex
from byok.generation.v1 import brand_pb2

from .errors import BrandGuideError
from .guide_fields import check_severity, check_text

MAX_CLAIM_CHARS = 300
MAX_ACRONYM_CHARS = 20
MAX_WORD_USES = 100
_DEFINABLE = regex.compile(r"\p{Lu}{2,6}")


def style_size(guide: brand_pb2.BrandGuide) -> int:
    """How many entries these rules add to the guide's term budget."""
    return (
        sum(len(c.variants) for c in guide.consistent_terms)
        + 2 * len(guide.conditions)
        + len(guide.acronyms.well_known)
        + len(guide.acronyms.definitions)
        + len(guide.repetition.ignore)
        + len(guide.approved_claims)
    )


def check_style(guide: brand_pb2.BrandGuide, banned: set[str]) -> None:
    _check_consistent(guide, banned)
    if guide.serial_comma not in brand_pb2.SerialComma.values():
        raise BrandGuideError("serial_comma", "is not a known serial comma policy")
    _check_conditions(guide, banned)
    _check_acronyms(guide.acronyms)
    _check_repetition(guide.repetition)
    for i, claim in enumerate(guide.approved_claims):
        check_text(f"approved_claims[{i}]", claim, MAX_CLAIM_CHARS)


def _check_consistent(guide: brand_pb2.BrandGuide, banned: set[str]) -> None:
    replaced = {
        " ".join(w.split()).casefold()
        for p in guide.preferred_terms
        for w in p.instead_of
    }
    seen: dict[str, str] = {}
    for i, term in enumerate(guide.consistent_terms):
        path = f"consistent_terms[{i}].variants"
        if len(term.variants) < 2:
            raise BrandGuideError(path, "must list at least two spellings")
        for j, variant in enumerate(term.variants):
            key = check_text(f"{path}[{j}]", variant)
            if key in banned:
                raise BrandGuideError(f"{path}[{j}]", "is a banned term")
            if key in replaced:
                raise BrandGuideError(
                    f"{path}[{j}]", "is already replaced by a preferred term"
                )
            if key in seen:
                raise BrandGuideError(f"{path}[{j}]", f"repeats {seen[key]}")
            seen[key] = f"{path}[{j}]"


def _check_conditions(guide: brand_pb2.BrandGuide, banned: set[str]) -> None:
    for i, condition in enumerate(guide.conditions):
        path = f"conditions[{i}]"
        when = check_text(f"{path}.if_term", condition.if_term)
        then = check_text(f"{path}.then_term", condition.then_term)
        if then == when:
            raise BrandGuideError(f"{path}.then_term", "is the if_term itself")
        if then in banned:
            raise BrandGuideError(f"{path}.then_term", "is a banned term")
        if condition.hint:
            check_text(f"{path}.hint", condition.hint, MAX_CLAIM_CHARS)
        check_severity(f"{path}.severity", condition.severity)


def _check_acronyms(policy: brand_pb2.AcronymPolicy) -> None:
    for i, known in enumerate(policy.well_known):
        path = f"acronyms.well_known[{i}]"
        check_text(path, known, MAX_ACRONYM_CHARS)
        if any(c.isspace() for c in known):
            raise BrandGuideError(path, "must be one word")

    seen: set[str] = set()
    for i, definition in enumerate(policy.definitions):
        path = f"acronyms.definitions[{i}]"
        if not _DEFINABLE.fullmatch(definition.acronym):
            raise BrandGuideError(
                f"{path}.acronym",
                "must be 2 to 6 capital letters, as acronyms are found in text",
            )
        if definition.acronym in seen:
            raise BrandGuideError(f"{path}.acronym", "repeats an earlier acronym")
        seen.add(definition.acronym)
        check_text(f"{path}.expansion", definition.expansion)


def _check_repetition(policy: brand_pb2.RepetitionPolicy) -> None:
    if not 0 <= policy.max_word_uses <= MAX_WORD_USES:
        raise BrandGuideError(
            "repetition.max_word_uses", f"must be 0 to {MAX_WORD_USES}"
        )
    for i, word in enumerate(policy.ignore):
        check_text(f"repetition.ignore[{i}]", word)
