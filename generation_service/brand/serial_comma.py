"""The serial (Oxford) comma: "red, green, and blue" or "red, green and blue".

Lists are found by pattern, not parsed, so the rule is built to miss a list
rather than invent one. A list is a word, then one or more ", item" (an
item is one to three words), then an optional comma, "and" or "or", and one
more word. It is not a list when:

* an item after the first starts like a clause ("Today, we ship and
  deliver": a pronoun, "there", "which", ...);
* the first word opens its sentence as an introductory word ("However",
  "Today", any "-ly" adverb);
* the sentence opens with a preposition or a subordinating word and the
  first item lies in its first few words ("In 2024, sales grew and costs
  fell").

The word lists are in ``wordlists.toml``.

A finding's span is the word before the conjunction (with the comma, when
one is there), so the fix is a one-word replacement.
"""

from __future__ import annotations

from collections.abc import Sequence

import regex
from byok.generation.v1 import brand_pb2

from . import _text, wordlists
from .findings import Finding
from .spans import SpanIndex

_WORD = r"[\p{L}\p{N}][\p{L}\p{N}'\u2019&-]*"
_NOT_CONJUNCTION = r"(?!(?:and|or|nor|but)(?![\p{L}\p{N}]))"
_ITEM_WORD = _NOT_CONJUNCTION + _WORD
_ITEM = rf"{_ITEM_WORD}(?: {_ITEM_WORD}){{0,2}}"
_LIST = regex.compile(
    rf"(?<![\p{{L}}\p{{N}}'\u2019&-])(?P<first>{_ITEM_WORD})"
    rf"(?P<middle>(?:, {_ITEM})+)(?P<comma>,?) (?P<conjunction>and|or) "
    rf"(?P<last>{_ITEM_WORD})",
    regex.IGNORECASE,
)
_LAST_WORD = regex.compile(rf"{_WORD}$")

# How far into its sentence an introductory phrase may reach.
_INTRO_WORDS_MAX = 4

REQUIRED = brand_pb2.SERIAL_COMMA_REQUIRED
OMITTED = brand_pb2.SERIAL_COMMA_OMITTED
CONSISTENT = brand_pb2.SERIAL_COMMA_CONSISTENT


def _first_word(item: str) -> str:
    return item.split(" ", 1)[0].casefold()


def _is_list(text: str, m: regex.Match[str], sentence: _text.Piece) -> bool:
    words = wordlists.load()
    items = m.group("middle").split(", ")[1:]
    if any(_first_word(i) in words.clause_starts for i in items):
        return False
    if m.group("last").casefold() in words.clause_starts:
        return False

    lead = text[sentence.start : m.start()].split()
    first = m.group("first").casefold()
    if not lead and (first in words.intro_words or first.endswith("ly")):
        return False
    opener = lead[0].casefold() if lead else first
    return not (opener in words.intro_openers and len(lead) < _INTRO_WORDS_MAX)


def _finding(text: str, m: regex.Match[str], serial: bool) -> Finding:
    middle_end = m.end("middle")
    word = _LAST_WORD.search(text, m.start("middle"), middle_end)
    assert word is not None  # an item always ends in a word
    listed = m.group()
    if serial:
        fixed = listed[: middle_end - m.start()] + listed[middle_end - m.start() + 1 :]
        return Finding(
            rule_id="serial_comma.unexpected",
            start=word.start(),
            end=middle_end + 1,
            matched=text[word.start() : middle_end + 1],
            message=f'Drop the comma before "{m.group("conjunction")}": "{fixed}".',
            suggestion=word.group(),
        )
    cut = middle_end - m.start()
    fixed = listed[:cut] + "," + listed[cut:]
    return Finding(
        rule_id="serial_comma.missing",
        start=word.start(),
        end=middle_end,
        matched=word.group(),
        message=f'Add a comma before "{m.group("conjunction")}": "{fixed}".',
        suggestion=word.group() + ",",
    )


def serial_commas(
    policy: brand_pb2.SerialComma.ValueType,
    text: str,
    skip: Sequence[_text.Spanned],
) -> list[Finding]:
    if policy not in (REQUIRED, OMITTED, CONSISTENT):
        return []
    skipped = SpanIndex(skip)
    lists = []
    for sentence in _text.sentences(text):
        for m in _LIST.finditer(text, sentence.start, sentence.end):
            if skipped.overlaps(m.start(), m.end()):
                continue
            if _is_list(text, m, sentence):
                lists.append(m)
    if not lists:
        return []

    want_serial = {
        REQUIRED: True,
        OMITTED: False,
        CONSISTENT: bool(lists[0].group("comma")),
    }[policy]
    return [
        _finding(text, m, serial=bool(m.group("comma")))
        for m in lists
        if bool(m.group("comma")) != want_serial
    ]
