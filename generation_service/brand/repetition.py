"""Repetition: a word twice in a row, and a word used too often.

A doubled word ("the the") is a slip in any copy and is always reported,
across spaces and one line break but not across punctuation ("no, no" is
deliberate). Words that are correct twice ("had had") are listed in
``wordlists.toml``; numbers are not words here.

The over-use limit comes from the guide: ``max_word_uses`` uses of one word
per 100 words of the variant (``limit = max_word_uses x max(1, words /
100)``, rounded down). Words are compared case-insensitively as written, so
"ship" and "ships" count apart. Function words, words under three letters,
the guide's exemptions and the brand's own product names are not counted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

import regex

from . import _text, wordlists
from .findings import Finding
from .rule_ids import slug
from .spans import SpanIndex

if TYPE_CHECKING:
    from .compiled import CompiledGuide

_WORD = r"[\p{L}\p{N}]+(?:['\u2019]\p{L}+)*"
_EDGE = r"[\p{L}\p{N}_'\u2019-]"
_GAP = r"(?:[^\S\n]+|[^\S\n]*\n[^\S\n]*)"
_DOUBLED = regex.compile(
    rf"(?<!{_EDGE})(?P<word>(?>{_WORD}))(?:{_GAP}(?P=word))+(?!{_EDGE})",
    regex.IGNORECASE,
)
WORDS_PER_UNIT = 100
MIN_LETTERS = 3


def doubled(text: str, skip: Sequence[_text.Spanned]) -> list[Finding]:
    allowed = wordlists.load().doubled_ok
    skipped = SpanIndex(skip)
    found = []
    for m in _DOUBLED.finditer(text):
        word = m.group("word")
        if word.casefold() in allowed or word.isdigit():
            continue
        if skipped.overlaps(m.start(), m.end()):
            continue
        found.append(
            Finding(
                rule_id=f"repetition.{slug(word)}",
                start=m.start(),
                end=m.end(),
                matched=m.group(),
                message=f'"{word}" is repeated.',
                suggestion=word,
            )
        )
    return found


def overused(
    compiled: CompiledGuide, text: str, skip: Sequence[_text.Spanned]
) -> list[Finding]:
    per_unit = compiled.guide.repetition.max_word_uses
    if not per_unit:
        return []
    words = _text.words(text)
    limit = int(per_unit * max(1.0, len(words) / WORDS_PER_UNIT))

    stop = wordlists.load().stopwords
    skipped = SpanIndex(skip)
    uses: dict[str, list[_text.Piece]] = defaultdict(list)
    for word in words:
        key = word.text.casefold().replace("\u2019", "'")
        letters = sum(1 for c in key if c.isalpha())
        if letters < MIN_LETTERS or key in stop or key in compiled.overuse_exempt:
            continue
        if not skipped.overlaps(word.start, word.end):
            uses[key].append(word)

    found = []
    for key, pieces in uses.items():
        found += [
            Finding(
                rule_id=f"overuse.{slug(key)}",
                start=p.start,
                end=p.end,
                matched=p.text,
                message=f'"{key}" is used {len(pieces)} times; at most {limit}.',
            )
            for p in pieces[limit:]
        ]
    return found
