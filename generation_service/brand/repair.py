"""Fixes that need no model.

Substitutions, product casing, mixed spellings, doubled words, the serial
comma, acronyms the guide can expand, and excess emoji, exclamation marks
and hashtags (also where a platform refuses them).

Banned terms, missing terms and length are left to a rewrite: replacing a
banned word or cutting a sentence changes meaning, and a silently truncated
post reads worse than one flagged as too long. :func:`truncate_to_limit` is
there for a caller that chooses to cut anyway.

Every edit covers whole grapheme clusters, so no emoji, flag or accented
letter is ever split.
"""

from __future__ import annotations

from dataclasses import dataclass

from byok.generation.v1 import brand_pb2

from . import _text, counting
from .check import check_variant
from .policies import effective_policy

# rule id prefix -> how the matched text is replaced
_REPLACE = (
    "preferred.",
    "casing.",
    "exclamation.",
    "repetition.",
    "consistency.",
    "serial_comma.",
    "acronym.",
)
_REMOVE = ("emoji.forbidden", "emoji.max", "hashtags.", "editorial.emoji")
_REPLACE_RUN = ("emoji.consecutive",)
_REPLACE_OR_REMOVE = ("editorial.exclamation",)

_CLOSERS = " \n.,;:!?)"
ELLIPSIS = "…"


@dataclass(frozen=True, slots=True)
class _Edit:
    start: int
    end: int
    replacement: str


def repair_deterministic(
    text: str,
    report: brand_pb2.ComplianceReport,
    guide: brand_pb2.BrandGuide,
    platform: str,
) -> str:
    """``text`` with every fix that needs no model applied.

    ``report`` must describe ``text``; when any violation does not match it
    (a stale report), the text is checked again here first.
    """
    if not _describes(report, text):
        report = check_variant(text, guide, platform, report.adherence)

    bounds = set(_text.grapheme_bounds(text))
    edits = [e for v in report.violations if (e := _edit(v, text)) is not None]
    edits = [_snap(e, text, bounds) for e in edits]

    # Right to left, so earlier offsets stay valid; overlaps keep the first.
    result, limit = text, len(text) + 1
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        if edit.end > limit:
            continue
        result = result[: edit.start] + edit.replacement + result[edit.end :]
        limit = edit.start
    return result


def _describes(report: brand_pb2.ComplianceReport, text: str) -> bool:
    return all(
        text[v.span.start : v.span.end] == v.matched_text
        for v in report.violations
        if v.HasField("span")
    )


def _edit(violation: brand_pb2.Violation, text: str) -> _Edit | None:
    if not violation.HasField("span"):
        return None
    start, end, rule = violation.span.start, violation.span.end, violation.rule_id

    if rule.startswith(_REPLACE) and violation.suggestion:
        return _Edit(start, end, violation.suggestion)
    if rule.startswith(_REPLACE_RUN):
        return _Edit(start, end, violation.suggestion)
    if rule.startswith(_REMOVE):
        return _removal(text, start, end)
    if rule.startswith(_REPLACE_OR_REMOVE):
        if violation.suggestion:
            return _Edit(start, end, violation.suggestion)
        return _removal(text, start, end)
    return None


def _removal(text: str, start: int, end: int) -> _Edit:
    # Take one neighbouring space with the removed piece, so "a #b #c" loses
    # " #c" and "#a b" loses "#a ".
    if (
        start > 0
        and text[start - 1] == " "
        and (end == len(text) or text[end] in _CLOSERS)
    ):
        start -= 1
    elif (
        end < len(text)
        and text[end] == " "
        and (start == 0 or text[start - 1] in " \n")
    ):
        end += 1
    return _Edit(start, end, "")


def _snap(edit: _Edit, text: str, bounds: set[int]) -> _Edit:
    start, end = edit.start, edit.end
    while start > 0 and start not in bounds:
        start -= 1
    while end < len(text) and end not in bounds:
        end += 1
    return _Edit(start, end, edit.replacement)


def truncate_to_limit(
    text: str, guide: brand_pb2.BrandGuide, platform: str, ellipsis: str = ELLIPSIS
) -> str:
    """Cut ``text`` to the platform's hard limit at a word break if possible.

    Never cuts inside a grapheme cluster; appends ``ellipsis`` when it cuts.
    Returns ``text`` unchanged when it fits or the platform has no limit.
    """
    policy = effective_policy(guide, platform)
    unit, limit = policy.unit.id, policy.hard_limit
    if not limit or counting.measure(text, unit) <= limit:
        return text

    # The longest grapheme-aligned prefix that fits with the ellipsis; the
    # measure grows with the prefix, so a binary search finds it.
    bounds = _text.grapheme_bounds(text)
    low, high = 0, len(bounds) - 1
    while low < high:
        middle = (low + high + 1) // 2
        candidate = text[: bounds[middle]].rstrip() + ellipsis
        if counting.measure(candidate, unit) <= limit:
            low = middle
        else:
            high = middle - 1
    end = bounds[low]
    if counting.measure(text[:end].rstrip() + ellipsis, unit) > limit:
        return ""

    # Prefer the last word break within the fitting prefix, unless that
    # would drop more than a fifth of it.
    cut = text[:end]
    space = cut.rstrip().rfind(" ")
    if space > len(cut) * 4 // 5:
        cut = cut[:space]
    return cut.rstrip() + ellipsis
