"""Reject brand guides that cannot be enforced as written.

A guide is tenant input that reaches regular expressions and prompts, so the
checks also bound its size.
"""

from __future__ import annotations

from collections.abc import Iterable

from byok.generation.v1 import brand_pb2

from .errors import BrandGuideError, UnknownPlatformError
from .guide_fields import SEVERITIES, check_severity, check_text
from .policies import platform_policy
from .rule_ids import FAMILIES, slug
from .validate_style import check_style, style_size

MAX_TERMS = 2000
MAX_GRADE = 30.0


def validate_guide(guide: brand_pb2.BrandGuide) -> None:
    """Raise :class:`BrandGuideError` for the first field that is wrong."""
    _check_sizes(guide)
    banned = _check_banned(guide)
    _check_preferred(guide, banned)
    _check_terms("required_terms", guide.required_terms, banned, "required")
    _check_products(guide, banned)
    _check_policies(guide)
    _check_platforms(guide)
    _check_rule_overrides(guide)
    check_style(guide, banned)


def _check_sizes(guide: brand_pb2.BrandGuide) -> None:
    count = (
        len(guide.banned_terms)
        + len(guide.required_terms)
        + sum(1 + len(p.instead_of) for p in guide.preferred_terms)
        + len(guide.product_names)
        + style_size(guide)
    )
    if count > MAX_TERMS:
        raise BrandGuideError("", f"has {count} terms; at most {MAX_TERMS} allowed")


def _check_banned(guide: brand_pb2.BrandGuide) -> set[str]:
    seen: dict[str, str] = {}
    for i, banned in enumerate(guide.banned_terms):
        path = f"banned_terms[{i}]"
        key = check_text(f"{path}.term", banned.term)
        if slug(key) in seen:
            raise BrandGuideError(
                f"{path}.term", f"repeats {seen[slug(key)]} (same rule id)"
            )
        seen[slug(key)] = f"{path}.term"
        check_severity(f"{path}.severity", banned.severity)
    return {" ".join(b.term.split()).casefold() for b in guide.banned_terms}


def _check_preferred(guide: brand_pb2.BrandGuide, banned: set[str]) -> None:
    seen: set[str] = set()
    for i, preferred in enumerate(guide.preferred_terms):
        path = f"preferred_terms[{i}]"
        use = check_text(f"{path}.use", preferred.use)
        if use in banned:
            raise BrandGuideError(f"{path}.use", "recommends a banned term")
        if slug(use) in seen:
            raise BrandGuideError(f"{path}.use", "repeats an earlier preferred term")
        seen.add(slug(use))
        if not preferred.instead_of:
            raise BrandGuideError(f"{path}.instead_of", "must list at least one term")
        for j, wrong in enumerate(preferred.instead_of):
            wrong_key = check_text(f"{path}.instead_of[{j}]", wrong)
            if wrong == preferred.use:
                raise BrandGuideError(
                    f"{path}.instead_of[{j}]", "is the preferred term itself"
                )
            if wrong_key in banned:
                raise BrandGuideError(
                    f"{path}.instead_of[{j}]", "is already a banned term"
                )


def _check_terms(field: str, terms: Iterable[str], banned: set[str], what: str) -> None:
    for i, term in enumerate(terms):
        if check_text(f"{field}[{i}]", term) in banned:
            raise BrandGuideError(f"{field}[{i}]", f"is both {what} and banned")


def _check_products(guide: brand_pb2.BrandGuide, banned: set[str]) -> None:
    seen: set[str] = set()
    for i, product in enumerate(guide.product_names):
        path = f"product_names[{i}].canonical"
        key = check_text(path, product.canonical)
        if key in banned:
            raise BrandGuideError(path, "is both a product name and banned")
        if key in seen:
            raise BrandGuideError(path, "repeats an earlier product name")
        seen.add(key)


def _check_policy(path: str, policy: brand_pb2.Policy) -> None:
    for field in ("max_count", "max_consecutive"):
        if getattr(policy, field) < 0:
            raise BrandGuideError(f"{path}.{field}", "must not be negative")


def _check_policies(guide: brand_pb2.BrandGuide) -> None:
    _check_policy("emoji", guide.emoji)
    _check_policy("exclamation", guide.exclamation)
    for field in ("max_hashtags", "max_sentence_words"):
        if getattr(guide, field) < 0:
            raise BrandGuideError(field, "must not be negative")
    if not 0 <= guide.reading_grade_max <= MAX_GRADE:
        raise BrandGuideError("reading_grade_max", f"must be 0 to {MAX_GRADE:g}")


def _check_platforms(guide: brand_pb2.BrandGuide) -> None:
    seen: set[str] = set()
    for i, override in enumerate(guide.platform_overrides):
        path = f"platform_overrides[{i}]"
        try:
            canonical = platform_policy(override.platform).platform
        except UnknownPlatformError as exc:
            raise BrandGuideError(f"{path}.platform", str(exc)) from None
        if canonical in seen:
            raise BrandGuideError(f"{path}.platform", "repeats an earlier override")
        seen.add(canonical)
        for field in ("max_length", "max_hashtags"):
            if getattr(override, field) < 0:
                raise BrandGuideError(f"{path}.{field}", "must not be negative")
        _check_policy(f"{path}.emoji", override.emoji)


def _check_rule_overrides(guide: brand_pb2.BrandGuide) -> None:
    for i, override in enumerate(guide.rule_overrides):
        path = f"rule_overrides[{i}]"
        family, _, rest = override.rule_id.partition(".")
        if family not in FAMILIES or not rest:
            raise BrandGuideError(
                f"{path}.rule_id",
                f"must be <family>.<name> or <family>.*, family one of "
                f"{', '.join(sorted(FAMILIES))}",
            )
        if not override.disabled and override.severity not in SEVERITIES:
            raise BrandGuideError(f"{path}.severity", "set a severity or disabled")
