"""A brand guide validated once and compiled into term matchers."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from byok.generation.v1 import brand_pb2

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
    )
