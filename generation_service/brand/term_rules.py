"""Rules about words: banned, preferred, product casing, required terms."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import _text
from .compiled import CompiledGuide, TermKey
from .findings import Finding, match_case
from .inflection import inflect_like
from .matching import Match, TermSet, inside_any, longest_first
from .rule_ids import slug


def product_spans(
    compiled: CompiledGuide, text: str, start: int = 0
) -> list[Match[int]]:
    """Where the brand's own product names stand, in any casing."""
    return longest_first(compiled.products.find_all(text, start))


def casing(compiled: CompiledGuide, text: str) -> list[Finding]:
    found = []
    for match in product_spans(compiled, text):
        canonical = compiled.guide.product_names[match.key].canonical
        if _legal_variant(text, match, canonical):
            continue
        found.append(
            Finding(
                rule_id=f"casing.{slug(canonical)}",
                start=match.start,
                end=match.end,
                matched=match.text,
                message=f'Write "{canonical}", not "{match.text}".',
                suggestion=canonical,
            )
        )
    return found


def _legal_variant(text: str, match: Match[Any], canonical: str) -> bool:
    # A sentence may start with a capital even when the name does not.
    if match.text == canonical:
        return True
    capitalised = canonical[:1].upper() + canonical[1:]
    return match.text == capitalised and _text.is_sentence_start(text, match.start)


def terms(
    compiled: CompiledGuide,
    text: str,
    protected: Sequence[Match[int]],
    start: int = 0,
) -> list[Finding]:
    """Banned and preferred-term findings, longest match first.

    A match that lies inside one of the brand's product names is not
    reported: the brand's own names are never flagged by generic rules.
    Matches are searched from ``start`` on, with the text before it as
    context for word boundaries.
    """
    matches = compiled.terms.find_all(text, start)
    found = []
    for match in longest_first(matches, rank=lambda key: key[0] != "banned"):
        if inside_any(match, protected):
            continue
        finding = _finding(compiled, text, match)
        if finding is not None:
            found.append(finding)
    return found


def _finding(
    compiled: CompiledGuide, text: str, match: Match[TermKey]
) -> Finding | None:
    kind, i, j = match.key
    if kind == "banned":
        banned = compiled.guide.banned_terms[i]
        hint = f" {banned.hint}" if banned.hint else ""
        return Finding(
            rule_id=f"banned.{slug(banned.term)}",
            start=match.start,
            end=match.end,
            matched=match.text,
            message=f'"{match.text}" is a banned term.{hint}',
            suggestion=banned.hint,
            severity=banned.severity or None,
        )

    preferred = compiled.guide.preferred_terms[i]
    wrong = preferred.instead_of[j]
    if wrong.casefold() == preferred.use.casefold():
        # A casing-only entry ("Email" instead of "email"): the preferred
        # casing, inflected as matched, is fine, capitalised at a sentence
        # start too.
        suggestion = preferred.use + match.text[len(preferred.use) :].lower()
        if _legal_variant(text, match, suggestion):
            return None
    else:
        inflected = inflect_like(preferred.use, wrong, match.text)
        suggestion = match_case(inflected, match.text)
    return Finding(
        rule_id=f"preferred.{slug(preferred.use)}",
        start=match.start,
        end=match.end,
        matched=match.text,
        message=f'Use "{suggestion}" instead of "{match.text}".',
        suggestion=suggestion,
    )


def required(
    compiled: CompiledGuide, text: str, keywords: Sequence[str]
) -> list[Finding]:
    """One finding per required term or request keyword the text lacks."""
    guide = compiled.guide
    present = compiled.required.contains(text)
    found = [
        _missing("required", term)
        for i, term in enumerate(guide.required_terms)
        if i not in present
    ]

    known = {" ".join(t.split()).casefold() for t in guide.required_terms}
    extra = []
    for keyword in keywords:
        key = " ".join(keyword.split()).casefold()
        if key and key not in known:
            known.add(key)
            extra.append(keyword.strip())
    keyword_set = TermSet((i, k, True) for i, k in enumerate(extra))
    present = keyword_set.contains(text)
    found += [_missing("keyword", k) for i, k in enumerate(extra) if i not in present]
    return found


def _missing(family: str, term: str) -> Finding:
    what = "required term" if family == "required" else "keyword"
    return Finding(
        rule_id=f"{family}.{slug(term)}",
        start=None,
        end=None,
        matched="",
        message=f'The {what} "{term}" is missing.',
        suggestion=term,
    )
