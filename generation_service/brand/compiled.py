"""A brand guide validated once and compiled into term matchers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

from byok.generation.v1 import brand_pb2

from . import claims, wordlists
from .matching import TermSet
from .validate import validate_guide

# ("banned", term index, 0) or ("preferred", term index, instead_of index)
TermKey = tuple[str, int, int]

_CACHE_SIZE = 128


@dataclass(frozen=True, slots=True)
class CompiledGuide:
    guide: brand_pb2.BrandGuide
    terms: TermSet[TermKey]
    products: TermSet[int]
    required: TermSet[int]
    # (consistent_terms index, variants index)
    consistent: TermSet[tuple[int, int]]
    condition_ifs: TermSet[int]
    condition_thens: TermSet[int]
    approved_claims: tuple[claims.ApprovedClaim, ...]
    # Upper-case acronyms that need no definition, and known expansions.
    acronyms_known: frozenset[str]
    expansions: Mapping[str, str]
    # Case-folded words exempt from the over-use limit.
    overuse_exempt: frozenset[str]


def compile_guide(guide: brand_pb2.BrandGuide) -> CompiledGuide:
    """Validate and compile ``guide``; the same guide compiles once.

    The Generation service checks every variant of every request against the
    same few guides, so compiled guides are cached by their serialised bytes.
    """
    return _compile(guide.SerializeToString(deterministic=True))


@lru_cache(maxsize=_CACHE_SIZE)
def _compile(serialized: bytes) -> CompiledGuide:
    guide = brand_pb2.BrandGuide.FromString(serialized)
    validate_guide(guide)

    terms: list[tuple[TermKey, str, bool]] = [
        (("banned", i, 0), b.term, not b.exact)
        for i, b in enumerate(guide.banned_terms)
    ]
    for i, preferred in enumerate(guide.preferred_terms):
        for j, wrong in enumerate(preferred.instead_of):
            terms.append((("preferred", i, j), wrong, not preferred.exact))

    return CompiledGuide(
        guide=guide,
        terms=TermSet(terms),
        products=TermSet(
            (i, p.canonical, False) for i, p in enumerate(guide.product_names)
        ),
        required=TermSet((i, t, True) for i, t in enumerate(guide.required_terms)),
        consistent=TermSet(
            ((i, j), variant, not c.exact)
            for i, c in enumerate(guide.consistent_terms)
            for j, variant in enumerate(c.variants)
        ),
        condition_ifs=TermSet(
            (i, c.if_term, True) for i, c in enumerate(guide.conditions)
        ),
        condition_thens=TermSet(
            (i, c.then_term, True) for i, c in enumerate(guide.conditions)
        ),
        approved_claims=tuple(claims.prepare(c) for c in guide.approved_claims),
        acronyms_known=wordlists.load().not_acronyms
        | {a.upper() for a in guide.acronyms.well_known},
        expansions=MappingProxyType(
            {d.acronym: d.expansion for d in guide.acronyms.definitions}
        ),
        overuse_exempt=frozenset(w.casefold() for w in guide.repetition.ignore),
    )
