"""Find brand terms in text: whole words, any case, simple inflections.

Matching rules, chosen to be predictable rather than clever:

* A term matches only as whole words: its first and last characters must not
  touch a letter, digit or underscore (``key`` is not found in ``keyboard``).
  A hyphen is a boundary, so ``leverage`` is found in ``leverage-based``.
* Case is ignored; spaces in a term match any run of whitespace; a straight
  apostrophe also matches a curly one.
* Unless a term is marked exact, its last word (the first in a verb phrase
  such as "drive out") also matches its plural and
  -ed / -ing forms: ``-s``, ``-es`` after s/x/z/ch/sh, ``-ies``/``-ied`` after
  a consonant and ``y``, a dropped final ``e`` (``leveraging``), a doubled
  final consonant (``shipped``) and the irregular forms of a small table
  (``drove``, ``children``); see :mod:`.inflection`.
* When matches overlap, the longest wins, then the earliest (``thought
  leader`` beats ``leader``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import regex

from .inflection import inflected_word, inflections
from .spans import Spanned

K = TypeVar("K")

_WORD_CHAR = r"[\p{L}\p{N}_]"


@dataclass(frozen=True, slots=True)
class Match(Generic[K]):
    start: int
    end: int
    text: str
    key: K

    @property
    def length(self) -> int:
        return self.end - self.start


def _literal(fragment: str) -> str:
    # regex.escape leaves "'" alone; let it match the curly apostrophe too.
    return regex.escape(fragment).replace("'", "['\u2019]")


def term_pattern(term: str, *, inflect: bool) -> str:
    """Regular expression source matching ``term`` under the rules above."""
    words = term.split()
    parts = [_literal(w) for w in words]
    if inflect:
        at = inflected_word(words)
        forms = inflections(words[at])
        parts[at] = "(?:" + "|".join(_literal(f) for f in forms) + ")"
    body = r"\s+".join(parts)

    starts_word = regex.match(_WORD_CHAR, term[0]) is not None
    ends_word = regex.match(_WORD_CHAR, term.rstrip()[-1]) is not None
    before = f"(?<!{_WORD_CHAR})" if starts_word else ""
    after = f"(?!{_WORD_CHAR})" if ends_word else ""
    return before + body + after


def _anchor(term: str, inflect: bool) -> str:
    """A piece every match of ``term`` starts with, case-folded.

    Checking for it with ``in`` is much cheaper than running the pattern,
    and most terms are absent from most text. When the first word inflects,
    only what all its forms share counts ("dr" for "drive", "drove"); an
    apostrophe may match its curly twin, so the anchor stops before one; four
    characters are plenty. Case-folding both sides errs toward running the
    pattern (folding "\u017f" gives "s", as case-insensitive matching does).
    """
    words = term.split()
    forms = [words[0]]
    if inflect and inflected_word(words) == 0:
        forms = inflections(words[0])
    shared = _shared_start([f.casefold() for f in forms])
    return shared[:4].split("'")[0]


def _shared_start(forms: list[str]) -> str:
    shortest = min(forms, key=len)
    for i, char in enumerate(shortest):
        if any(form[i] != char for form in forms):
            return shortest[:i]
    return shortest


class TermSet(Generic[K]):
    """A compiled list of terms, each carrying a key back to its rule."""

    def __init__(self, terms: Iterable[tuple[K, str, bool]]) -> None:
        kept = [(key, t.strip(), inflect) for key, t, inflect in terms if t.strip()]
        self._compiled = [
            (
                key,
                regex.compile(term_pattern(t, inflect=inflect), regex.I),
                _anchor(t, inflect),
            )
            for key, t, inflect in kept
        ]
        # Upper bound on a match's length in code points, when whitespace
        # inside a term is single: the longest term plus its longest suffix.
        self.longest_match = max((len(t) + 4 for _, t, _ in kept), default=0)

    def __bool__(self) -> bool:
        return bool(self._compiled)

    def find_all(self, text: str, start: int = 0) -> list[Match[K]]:
        """Every match of every term, overlaps included."""
        folded = text[start:].casefold()
        found = []
        for key, pattern, anchor in self._compiled:
            if anchor not in folded:
                continue
            for m in pattern.finditer(text, start):
                found.append(Match(m.start(), m.end(), m.group(), key))
        return found

    def contains(self, text: str) -> set[K]:
        folded = text.casefold()
        return {
            key
            for key, pattern, anchor in self._compiled
            if anchor in folded and pattern.search(text)
        }


def longest_first(
    matches: Sequence[Match[K]], rank: Callable[[K], int] = lambda _: 0
) -> list[Match[K]]:
    """Drop matches that overlap a longer one.

    Between equally long matches the earlier wins, then the lower ``rank``.
    """
    kept: list[Match[K]] = []
    for match in sorted(matches, key=lambda m: (-m.length, m.start, rank(m.key))):
        if all(match.end <= k.start or match.start >= k.end for k in kept):
            kept.append(match)
    return sorted(kept, key=lambda m: m.start)


def inside_any(match: Match[K], spans: Sequence[Spanned]) -> bool:
    return any(s.start <= match.start and match.end <= s.end for s in spans)
