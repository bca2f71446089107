"""Find brand terms in text: whole words, any case, simple inflections.

Matching rules, chosen to be predictable rather than clever:

* A term matches only as whole words: its first and last characters must not
  touch a letter, digit or underscore (``key`` is not found in ``keyboard``).
  A hyphen is a boundary, so ``leverage`` is found in ``leverage-based``.
* Case is ignored; spaces in a term match any run of whitespace; a straight
  apostrophe also matches a curly one.
* Unless a term is marked exact, its last word also matches its plural and
  -ed / -ing forms: ``-s``, ``-es`` after s/x/z/ch/sh, ``-ies``/``-ied`` after
  a consonant and ``y``, a dropped final ``e`` (``leveraging``) and a doubled
  final consonant (``shipped``). Words shorter than three letters never
  inflect. No dictionary is used, so irregular forms (``went``) are missed.
* When matches overlap, the longest wins, then the earliest (``thought
  leader`` beats ``leader``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import regex

K = TypeVar("K")

_VOWELS = frozenset("aeiou")
_WORD_CHAR = r"[\p{L}\p{N}_]"
MIN_INFLECT_LETTERS = 3


@dataclass(frozen=True, slots=True)
class Match(Generic[K]):
    start: int
    end: int
    text: str
    key: K

    @property
    def length(self) -> int:
        return self.end - self.start


def inflections(word: str) -> list[str]:
    """The forms of ``word`` that match, longest first, ``word`` included."""
    lower = word.lower()
    letters = lower.replace("-", "")
    if len(lower) < MIN_INFLECT_LETTERS or not letters.isalpha() or not lower.isascii():
        return [word]

    forms = {lower, lower + "s"}
    last, before = lower[-1], lower[-2]
    if lower.endswith(("s", "x", "z", "ch", "sh")):
        forms.add(lower + "es")
    if last == "y" and before not in _VOWELS:
        forms |= {lower[:-1] + "ies", lower[:-1] + "ied", lower + "ing"}
    elif last == "e":
        forms |= {lower + "d", lower[:-1] + "ing"}
    else:
        forms |= {lower + "ed", lower + "ing"}
        if _doubles_final_consonant(lower):
            forms |= {lower + last + "ed", lower + last + "ing"}
    return sorted(forms, key=lambda f: (-len(f), f))


def inflect_like(replacement: str, term: str, matched: str) -> str:
    """Give ``replacement`` the suffix ``matched`` added to ``term``.

    ``("use", "utilize", "utilizing")`` -> ``"using"``; ``("email",
    "e-mail", "e-mails")`` -> ``"emails"``. Without a recognisable suffix the
    replacement is returned as it is.
    """
    m, t = matched.lower(), " ".join(term.lower().split())
    m = " ".join(m.split())
    if m.startswith(t):
        suffix = m[len(t) :]
    elif t.endswith("e") and m.startswith(t[:-1]):
        suffix = m[len(t) - 1 :]
    else:
        return replacement
    if not suffix:
        return replacement
    if replacement.endswith("e") and suffix[0] in "ei":
        return replacement[:-1] + suffix
    return replacement + suffix


def _doubles_final_consonant(word: str) -> bool:
    # consonant-vowel-consonant endings double before a vowel suffix (ship ->
    # shipped); w, x and y never double.
    a, b, c = word[-3], word[-2], word[-1]
    return a not in _VOWELS and b in _VOWELS and c not in _VOWELS | set("wxy")


def _literal(fragment: str) -> str:
    # regex.escape leaves "'" alone; let it match the curly apostrophe too.
    return regex.escape(fragment).replace("'", "['\u2019]")


def term_pattern(term: str, *, inflect: bool) -> str:
    """Regular expression source matching ``term`` under the rules above."""
    words = term.split()
    head = [_literal(w) for w in words[:-1]]
    last = words[-1]
    if inflect:
        tail = "(?:" + "|".join(_literal(f) for f in inflections(last)) + ")"
    else:
        tail = _literal(last)
    body = r"\s+".join([*head, tail])

    starts_word = regex.match(_WORD_CHAR, term[0]) is not None
    ends_word = regex.match(_WORD_CHAR, term.rstrip()[-1]) is not None
    before = f"(?<!{_WORD_CHAR})" if starts_word else ""
    after = f"(?!{_WORD_CHAR})" if ends_word else ""
    return before + body + after


class TermSet(Generic[K]):
    """A compiled list of terms, each carrying a key back to its rule."""

    def __init__(self, terms: Iterable[tuple[K, str, bool]]) -> None:
        kept = [(key, t.strip(), inflect) for key, t, inflect in terms if t.strip()]
        self._compiled = [
            (key, regex.compile(term_pattern(t, inflect=inflect), regex.I))
            for key, t, inflect in kept
        ]
        # Upper bound on a match's length in code points, when whitespace
        # inside a term is single: the longest term plus its longest suffix.
        self.longest_match = max((len(t) + 4 for _, t, _ in kept), default=0)

    def __bool__(self) -> bool:
        return bool(self._compiled)

    def find_all(self, text: str, start: int = 0) -> list[Match[K]]:
        """Every match of every term, overlaps included."""
        found = []
        for key, pattern in self._compiled:
            for m in pattern.finditer(text, start):
                found.append(Match(m.start(), m.end(), m.group(), key))
        return found

    def contains(self, text: str) -> set[K]:
        return {key for key, pattern in self._compiled if pattern.search(text)}


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


def inside_any(match: Match[K], spans: Sequence[Match[object]]) -> bool:
    return any(s.start <= match.start and match.end <= s.end for s in spans)
