"""English inflection without a dictionary: rules plus a small irregular table.

Two directions:

* :func:`inflections` lists the forms a term matches: its plural or -s form,
  -ed and -ing forms, and the irregular ones from ``wordlists.toml``
  (``drive`` -> ``drove``, ``driven``; ``child`` -> ``children``). Listing a
  form that no one writes (``boxs``) is harmless, so matching errs wide.
* :func:`inflect` writes one form of a word, for a suggested replacement, so
  it must be right: ``use`` -> ``using``, ``ship`` -> ``shipped``, ``buy`` ->
  ``bought``. A final consonant doubles only in one-syllable words (``ship``
  -> ``shipped``, but ``visit`` -> ``visited``).

In a phrase, the last word inflects ("thought leaders"), except in a verb
phrase ending in a particle, where the first does ("drove out", "logged
in"); see :func:`inflected_word`. Words shorter than three letters inflect
only through the irregular table; words with digits or non-ASCII letters
never inflect.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from . import wordlists

Category = Literal["s", "ed", "en", "ing"]

_VOWELS = frozenset("aeiou")
MIN_INFLECT_LETTERS = 3


def _inflectable(lower: str) -> bool:
    return lower.replace("-", "").isalpha() and lower.isascii()


def _irregular(lower: str) -> dict[Category, str]:
    tables = wordlists.load()
    forms: dict[Category, str] = {}
    if lower in tables.verbs:
        forms["ed"], forms["en"] = tables.verbs[lower]
    if lower in tables.plurals:
        forms["s"] = tables.plurals[lower]
    return forms


def _cvc(word: str) -> bool:
    # Ends consonant-vowel-consonant; w, x and y never double.
    if len(word) < MIN_INFLECT_LETTERS:
        return False
    a, b, c = word[-3], word[-2], word[-1]
    return a not in _VOWELS and b in _VOWELS and c not in _VOWELS | {*"wxy"}


def _doubles(word: str) -> bool:
    # Only a one-syllable word doubles for sure (ship -> shipped); longer
    # ones depend on stress (visit -> visited), which no rule can see.
    return _cvc(word) and sum(1 for ch in word if ch in _VOWELS) == 1


def inflections(word: str) -> list[str]:
    """The forms of ``word`` that match, longest first, ``word`` included."""
    lower = word.lower()
    irregular = _irregular(lower)
    if not _inflectable(lower) or (len(lower) < MIN_INFLECT_LETTERS and not irregular):
        return [word]

    forms = {lower, *irregular.values()}
    forms |= {inflect(lower, category) for category in ("s", "ed", "ing")}
    if len(lower) < MIN_INFLECT_LETTERS:
        return sorted(forms, key=lambda f: (-len(f), f))

    # Matching errs wide: every spelling the rules could produce.
    forms.add(lower + "s")
    last, before = lower[-1], lower[-2]
    if lower.endswith(("s", "x", "z", "ch", "sh")):
        forms.add(lower + "es")
    if last == "y" and before not in _VOWELS:
        forms |= {lower[:-1] + "ies", lower[:-1] + "ied", lower + "ing"}
    elif last == "e":
        forms.add(lower + "d")
    else:
        forms |= {lower + "ed", lower + "ing"}
        if _cvc(lower):
            forms |= {lower + last + "ed", lower + last + "ing"}
    return sorted(forms, key=lambda f: (-len(f), f))


def inflect(word: str, category: Category) -> str:
    """``word`` in one form: plural or -s, past, past participle, -ing."""
    lower = word.lower()
    irregular = _irregular(lower)
    if category in irregular:
        return irregular[category]
    if not _inflectable(lower) or not lower:
        return word

    last, before = lower[-1], lower[-2:-1]
    if category == "s":
        if lower.endswith(("s", "x", "z", "ch", "sh")) or (
            last == "o" and lower in wordlists.load().verbs
        ):
            return word + "es"
        if last == "y" and before not in _VOWELS:
            return word[:-1] + "ies"
        return word + "s"
    if category == "ing":
        if lower.endswith("ie"):
            return word[:-2] + "ying"
        if last == "e" and not lower.endswith(("ee", "ye", "oe")):
            return word[:-1] + "ing"
        return word + (last if _doubles(lower) else "") + "ing"
    # "ed" and "en" are the same for regular verbs.
    if last == "y" and before not in _VOWELS:
        return word[:-1] + "ied"
    if last == "e":
        return word + "d"
    return word + (last if _doubles(lower) else "") + "ed"


def category_of(base: str, form: str) -> Category | None:
    """Which form of ``base`` ``form`` is; None for the base or no known form."""
    b, f = base.lower(), form.lower()
    if f == b:
        return None
    for category, irregular in _irregular(b).items():
        if f == irregular:
            return category
    candidates: dict[Category, set[str]] = {
        "s": {b + "s", b + "es", b[:-1] + "ies"},
        "ing": {b + "ing", b[:-1] + "ing", b + b[-1:] + "ing", b[:-2] + "ying"},
        "ed": {b + "ed", b + "d", b[:-1] + "ied", b + b[-1:] + "ed"},
    }
    for category, forms in candidates.items():
        if f in forms:
            return category
    return None


def inflected_word(words: Sequence[str]) -> int:
    """Index of the word that inflects in a phrase of ``words``."""
    if len(words) > 1 and words[-1].casefold() in wordlists.load().particles:
        return 0
    return len(words) - 1


def inflect_like(replacement: str, term: str, matched: str) -> str:
    """Give ``replacement`` the form that ``matched`` gives ``term``.

    ``("use", "utilize", "utilizing")`` -> ``"using"``; ``("buy",
    "purchase", "purchased")`` -> ``"bought"``. In a several-word
    replacement a plural or -s goes on the word :func:`inflected_word`
    picks, a verb form on the first word (``"work with"`` -> ``"working
    with"``). Without a recognisable form the replacement is
    returned as it is.
    """
    term_words, matched_words = term.split(), matched.split()
    if not term_words or len(term_words) != len(matched_words):
        return replacement
    at = inflected_word(term_words)
    category = category_of(term_words[at], matched_words[at])
    words = replacement.split()
    if category is None or not words:
        return replacement

    at = inflected_word(words) if category == "s" else 0
    words[at] = inflect(words[at], category)
    return " ".join(words)
