"""Rules about counts: emoji, exclamation marks, hashtags, links, length."""

from __future__ import annotations

from collections.abc import Sequence

from byok.generation.v1 import brand_pb2

from . import _text, counting, editorial, readability
from .findings import Finding
from .matching import Match
from .policies import LengthPolicy
from .spans import SpanIndex


def _outside(
    pieces: list[_text.Piece], skip: Sequence[_text.Spanned]
) -> list[_text.Piece]:
    skipped = SpanIndex(skip)
    return [p for p in pieces if not skipped.holds(p.start)]


def occurrences(
    guide: brand_pb2.BrandGuide,
    policy: LengthPolicy,
    override: brand_pb2.PlatformOverride | None,
    text: str,
    protected: Sequence[Match[int]],
) -> list[Finding]:
    links = _text.urls(text)
    skip: list[_text.Spanned] = [*links, *protected]

    emoji_policy = guide.emoji
    if override is not None and override.HasField("emoji"):
        emoji_policy = override.emoji
    emoji = _outside(_text.pictographs(text), skip)
    marks = editorial.marks(text, skip)

    found = _policy("emoji", "emoji", emoji, emoji_policy, text, loose_runs=True)
    found += _policy("exclamation", "exclamation mark", marks, guide.exclamation, text)
    found += _hashtags(guide, policy, override, _text.hashtags(text, skip=links))
    if policy.max_links:
        found += _excess("links.max", "link", links, policy.max_links)
    found += [
        Finding(
            rule_id=f"characters.{policy.platform}",
            start=i,
            end=i + 1,
            matched=c,
            message=f'The {policy.label} must not contain "{c}".',
        )
        for i, c in enumerate(text)
        if c in policy.forbidden
    ]
    return found


def _policy(
    family: str,
    noun: str,
    pieces: list[_text.Piece],
    policy: brand_pb2.Policy,
    text: str,
    *,
    loose_runs: bool = False,
) -> list[Finding]:
    if policy.forbidden:
        return [
            Finding(
                rule_id=f"{family}.forbidden",
                start=p.start,
                end=p.end,
                matched=p.text,
                message=f"The brand uses no {noun}s.",
                suggestion="." if family == "exclamation" else "",
            )
            for p in pieces
        ]

    found = []
    if policy.max_count:
        found += _excess(f"{family}.max", noun, pieces, policy.max_count)
    if policy.max_consecutive:
        for run in _runs(pieces, text, loose=loose_runs):
            if len(run) > policy.max_consecutive:
                start, end = run[0].start, run[-1].end
                found.append(
                    Finding(
                        rule_id=f"{family}.consecutive",
                        start=start,
                        end=end,
                        matched=text[start:end],
                        message=(
                            f"{len(run)} {noun}s in a row; at most "
                            f"{policy.max_consecutive}."
                        ),
                        suggestion="".join(
                            p.text for p in run[: policy.max_consecutive]
                        ),
                    )
                )
    return found


def _runs(
    pieces: list[_text.Piece], text: str, *, loose: bool
) -> list[list[_text.Piece]]:
    # Emoji separated only by spaces still read as a row; "! !" does not.
    runs: list[list[_text.Piece]] = []
    for piece in pieces:
        if runs:
            gap = text[runs[-1][-1].end : piece.start]
            if gap == "" or (loose and gap.isspace()):
                runs[-1].append(piece)
                continue
        runs.append([piece])
    return runs


def _excess(
    rule_id: str, noun: str, pieces: list[_text.Piece], limit: int
) -> list[Finding]:
    return [
        Finding(
            rule_id=rule_id,
            start=p.start,
            end=p.end,
            matched=p.text,
            message=f"{len(pieces)} {noun}s; at most {limit}.",
        )
        for p in pieces[limit:]
    ]


def hashtag_cap(
    guide: brand_pb2.BrandGuide,
    policy: LengthPolicy,
    override: brand_pb2.PlatformOverride | None,
) -> int:
    """The hashtag cap in force; 0 means none.

    A platform override wins outright (a brand may know its account allows
    more); otherwise the stricter of the guide's cap and the platform's.
    """
    if override is not None and override.max_hashtags > 0:
        return override.max_hashtags
    caps = [c for c in (guide.max_hashtags, policy.max_hashtags) if c > 0]
    return min(caps, default=0)


def _hashtags(
    guide: brand_pb2.BrandGuide,
    policy: LengthPolicy,
    override: brand_pb2.PlatformOverride | None,
    tags: list[_text.Piece],
) -> list[Finding]:
    if guide.hashtags_forbidden:
        return [
            Finding(
                rule_id="hashtags.forbidden",
                start=t.start,
                end=t.end,
                matched=t.text,
                message="The brand uses no hashtags.",
            )
            for t in tags
        ]
    cap = hashtag_cap(guide, policy, override)
    return _excess("hashtags.max", "hashtag", tags, cap) if cap else []


def length(policy: LengthPolicy, text: str, value: int) -> list[Finding]:
    unit = policy.unit
    found = []
    if policy.hard_limit and value > policy.hard_limit:
        start = counting.overflow_start(text, unit.id, policy.hard_limit)
        over = value - policy.hard_limit
        found.append(
            Finding(
                rule_id=f"length.{policy.platform}",
                start=start,
                end=len(text),
                matched=text[start:],
                message=(
                    f"The {policy.label} is {value} {unit.name}; the limit is "
                    f"{policy.hard_limit}."
                ),
                suggestion=f"Shorten by at least {over} {unit.name}.",
            )
        )
    elif policy.recommended and value > policy.recommended:
        start = counting.overflow_start(text, unit.id, policy.recommended)
        found.append(
            Finding(
                rule_id=f"recommended_length.{policy.platform}",
                start=start,
                end=len(text),
                matched=text[start:],
                message=(
                    f"The {policy.label} is {value} {unit.name}; "
                    f"{policy.recommended} or fewer is recommended."
                ),
                suggestion=f"Shorten by {value - policy.recommended} {unit.name}.",
            )
        )
    return found


def sentence_length(guide: brand_pb2.BrandGuide, text: str) -> list[Finding]:
    limit = guide.max_sentence_words
    if not limit:
        return []
    found = []
    for sentence in _text.sentences(text):
        count = len(_text.words(sentence.text))
        if count > limit:
            found.append(
                Finding(
                    rule_id="sentences.max_words",
                    start=sentence.start,
                    end=sentence.end,
                    matched=sentence.text,
                    message=f"This sentence has {count} words; at most {limit}.",
                    suggestion="Split it into shorter sentences.",
                )
            )
    return found


def reading_grade(
    guide: brand_pb2.BrandGuide, measured: readability.Readability
) -> list[Finding]:
    target = guide.reading_grade_max
    if not target or measured.words < readability.MIN_WORDS:
        return []
    if measured.grade <= target:
        return []
    return [
        Finding(
            rule_id="readability.grade",
            start=None,
            end=None,
            matched="",
            message=(
                f"Reading grade {measured.grade:.1f} is above the target {target:g}."
            ),
            suggestion="Use shorter sentences and plainer words.",
        )
    ]
