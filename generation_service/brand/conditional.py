"""Conditional rules: when one thing appears, another must too.

* The guide's conditions: when ``if_term`` appears, ``then_term`` must
  appear somewhere in the variant ("free trial" needs "terms apply").
  Reported once, at the first ``if_term``.
* Acronyms, when the guide requires it: the first use of an acronym (two to
  six capitals, a plural "s" allowed) must come with its expansion, as
  "network operations centre (NOC)" or "NOC (network operations centre)",
  or after the guide's own expansion for it. Well-known acronyms, capitalised
  ordinary words ("FREE"), runs of capitalised words (shouting, not
  acronyms), Roman numerals, product names, links and hashtags are skipped.
  When the guide knows the expansion, the fix needs no model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import regex

from . import _text
from .findings import Finding
from .matching import longest_first
from .rule_ids import slug
from .spans import SpanIndex

if TYPE_CHECKING:
    from .compiled import CompiledGuide

_ACRONYM = regex.compile(
    r"(?<![\p{L}\p{N}_.&/'\u2019-])(?P<acronym>\p{Lu}{2,6})(?:s|['\u2019]s)?"
    r"(?![\p{L}\p{N}_&/-]|\.\p{L})"
)
_CAPS_WORD = regex.compile(r"\p{Lu}{2,}(?:s|['\u2019]s)?")
_ROMAN = regex.compile(r"M{0,3}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})")
_EXPANDED_AFTER = regex.compile(r"\s*\([^()\n]{3,}\)")


def conditions(
    compiled: CompiledGuide, text: str, skip: Sequence[_text.Spanned]
) -> list[Finding]:
    guide = compiled.guide
    if not guide.conditions:
        return []
    present = compiled.condition_thens.contains(text)
    skipped = SpanIndex(skip)
    first: dict[int, tuple[int, int, str]] = {}
    for m in longest_first(compiled.condition_ifs.find_all(text)):
        if m.key not in present and not skipped.overlaps(m.start, m.end):
            first.setdefault(m.key, (m.start, m.end, m.text))

    found = []
    for i, (start, end, matched) in sorted(first.items()):
        condition = guide.conditions[i]
        hint = f" {condition.hint}" if condition.hint else ""
        found.append(
            Finding(
                rule_id=f"conditional.{slug(condition.if_term)}",
                start=start,
                end=end,
                matched=matched,
                message=f'"{matched}" needs "{condition.then_term}" too.{hint}',
                suggestion=condition.then_term,
                severity=condition.severity or None,
            )
        )
    return found


def _shouting(text: str) -> list[_text.Piece]:
    # Capitalised words next to another capitalised word.
    words = _text.words(text)
    caps = [_CAPS_WORD.fullmatch(w.text) is not None for w in words]
    return [
        w
        for i, w in enumerate(words)
        if caps[i] and ((i > 0 and caps[i - 1]) or (i + 1 < len(caps) and caps[i + 1]))
    ]


def _defined(
    compiled: CompiledGuide, text: str, m: regex.Match[str], acronym: str
) -> bool:
    start, end = m.span()
    if _EXPANDED_AFTER.match(text, end):
        return True
    wrapped = text[start - 1 : start] == "(" and text[end : end + 1] == ")"
    if wrapped and text[: start - 1].strip():
        return True
    expansion = compiled.expansions.get(acronym)
    if expansion:
        words = r"\s+".join(regex.escape(w) for w in expansion.split())
        return regex.search(words, text[:start], regex.IGNORECASE) is not None
    return False


def acronyms(
    compiled: CompiledGuide, text: str, skip: Sequence[_text.Spanned]
) -> list[Finding]:
    if not compiled.guide.acronyms.require_definition:
        return []
    skipped = SpanIndex([*skip, *_shouting(text)])
    seen: set[str] = set()
    found = []
    for m in _ACRONYM.finditer(text):
        acronym = m.group("acronym")
        if acronym in seen or acronym in compiled.acronyms_known:
            continue
        if _ROMAN.fullmatch(acronym) or skipped.overlaps(m.start(), m.end()):
            continue
        seen.add(acronym)
        if _defined(compiled, text, m, acronym):
            continue

        expansion = compiled.expansions.get(acronym, "")
        if expansion and _text.is_sentence_start(text, m.start()):
            expansion = expansion[:1].upper() + expansion[1:]
        fix = f"{expansion} ({m.group()})" if expansion else ""
        how = f'as "{fix}"' if fix else f'with "({acronym})" after it'
        found.append(
            Finding(
                rule_id=f"acronym.{slug(acronym)}",
                start=m.start(),
                end=m.end(),
                matched=m.group(),
                message=f'Spell out "{acronym}" where it is first used, {how}.',
                suggestion=fix,
            )
        )
    return found
