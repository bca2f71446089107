"""Claims: a sentence with a figure or a superlative must be an approved one.

Models invent statistics and inflate promises, and only the brand knows
which of its claims are true. A sentence is a claim when it holds a
*trigger*:

* a percentage (``36%``, ``36 percent``), a multiplier (``3x``), a price
  (``$10``, ``10 USD``), a rating (``4.8/5``, ``4.8 stars``), a number of
  1,000 or more that is not a year, or an abbreviated one (``10k``,
  ``2 million``, ``500+``);
* a superlative or absolute from ``wordlists.toml`` (``best``, ``#1``,
  ``guaranteed``, ``clinically``).

Small bare numbers (dates, steps, durations) are not claims.

A claim sentence is approved when one approved claim holds every trigger of
the sentence and at least half of that claim's content words appear in the
sentence, so "Trusted by 10,000 teams." matches the approved "10,000 teams
trust us" but "10,000 downloads a day" does not. The request's keywords
count as approved claims too ("50% off" asked for is not invented). Triggers
inside banned terms, product names, links and hashtags are left to their own
rules.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import regex

from . import _text, wordlists
from .findings import Finding
from .matching import TermSet, longest_first
from .spans import SpanIndex

if TYPE_CHECKING:
    from .compiled import CompiledGuide

_NUM = r"\d{1,3}(?:[,\u00a0\u202f]\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_AFTER = r"(?![\p{L}\p{N}])"
# Not inside a longer number, a code or an id ("555-1234", "#12345", "24/7").
_BEFORE = r"(?<![\p{L}\p{N}.,:/#\-])"
_NUMBER_END = r"(?![\p{L}\p{N}]|[-/:.,]\d)"
_TRIGGER = regex.compile(
    rf"{_BEFORE}(?:"
    rf"(?P<percent>(?:{_NUM})\s?(?:%|percent{_AFTER}|per\s?cent{_AFTER}))"
    rf"|(?P<rating>\d(?:\.\d)?\s?(?:/\s?(?:5|10)|out\s+of\s+(?:5|10)|stars?)){_AFTER}"
    rf"|(?P<times>(?:{_NUM})\s?[x\u00d7]){_AFTER}"
    rf"|(?P<money>[$\u20ac\u00a3\u00a5]\s?(?:{_NUM})(?:\s?(?:k|m|bn|million|billion))?"
    rf"|(?:{_NUM})\s?(?:usd|eur|gbp|dollars|euros|pounds)){_AFTER}"
    rf"|(?P<scaled>(?:{_NUM})\s?(?:k|m|bn|thousand|million|billion){_AFTER}"
    rf"|(?:{_NUM})\+)"
    rf"|(?P<number>{_NUM}){_NUMBER_END}"
    r")",
    regex.IGNORECASE,
)
_SEPARATORS = regex.compile(r"(?<=\d)[,\u00a0\u202f](?=\d{3})|\s")
_YEAR = regex.compile(r"(?:19|20)\d\d")
MIN_CLAIM_NUMBER = 1000


@dataclass(frozen=True, slots=True)
class ApprovedClaim:
    text: str
    triggers: frozenset[str]
    content: frozenset[str]


@cache
def _phrases() -> TermSet[int]:
    return TermSet((i, p, False) for i, p in enumerate(wordlists.load().claim_phrases))


def _normal(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold().replace("\u2019", "'")
    folded = folded.replace("per cent", "%").replace("percent", "%")
    return _SEPARATORS.sub("", folded)


def triggers(text: str) -> list[_text.Piece]:
    """Every claim trigger in ``text``, in order."""
    found = []
    for m in _TRIGGER.finditer(text):
        if m.lastgroup == "number":
            value = m.group().replace(",", "").replace("\u00a0", "")
            value = value.replace("\u202f", "")
            if float(value) < MIN_CLAIM_NUMBER or _YEAR.fullmatch(value):
                continue
        found.append(_text.Piece(m.start(), m.end(), m.group()))
    found += [
        _text.Piece(m.start, m.end, m.text)
        for m in longest_first(_phrases().find_all(text))
    ]
    return sorted(found, key=lambda p: p.start)


def _content(text: str) -> frozenset[str]:
    stop = wordlists.load().stopwords
    words = set()
    for word in _text.words(text):
        w = word.text.casefold().replace("\u2019", "'").removesuffix("'s")
        if w in stop or not regex.search(r"\p{L}", w):
            continue
        words.add(w[:-1] if len(w) > 3 and w.endswith("s") else w)
    return frozenset(words)


def prepare(claim: str) -> ApprovedClaim:
    """An approved claim, ready to compare sentences with."""
    return ApprovedClaim(
        text=claim,
        triggers=frozenset(_normal(t.text) for t in triggers(claim)),
        content=_content(claim),
    )


def _approved(
    found: set[str], sentence: str, approved: Sequence[ApprovedClaim]
) -> bool:
    words = _content(sentence)
    for claim in approved:
        if not found <= claim.triggers:
            continue
        if len(claim.content & words) * 2 >= len(claim.content):
            return True
    return False


def unapproved(
    compiled: CompiledGuide,
    text: str,
    skip: Sequence[_text.Spanned],
    keywords: Sequence[str] = (),
) -> list[Finding]:
    """One finding per claim sentence that matches no approved claim."""
    found = []
    skipped = SpanIndex(skip)
    pieces = [t for t in triggers(text) if not skipped.overlaps(t.start, t.end)]
    if not pieces:
        return []
    approved = [*compiled.approved_claims, *(prepare(k) for k in keywords)]
    for sentence in _text.sentences(text):
        inside = [p for p in pieces if sentence.start <= p.start < sentence.end]
        if not inside:
            continue
        normal = {_normal(p.text) for p in inside}
        if _approved(normal, sentence.text, approved):
            continue
        quoted = ", ".join(f'"{p.text}"' for p in inside)
        found.append(
            Finding(
                rule_id="claims.unapproved",
                start=sentence.start,
                end=sentence.end,
                matched=sentence.text,
                message=(
                    f"This sentence makes a claim ({quoted}) that is not one of "
                    "the brand's approved claims."
                ),
            )
        )
    return found
