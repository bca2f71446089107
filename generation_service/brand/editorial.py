"""A platform's own editorial rules, from the platform table.

Google Ads refuses emoji in any ad text, exclamation marks in headlines and
more than one in a description. These findings are errors: the platform
rejects the ad, whatever the brand allows.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import _text
from .findings import Finding
from .policies import LengthPolicy
from .spans import SpanIndex

EXCLAMATION = "!\uff01"  # and the full-width mark


def _outside(
    pieces: list[_text.Piece], skip: Sequence[_text.Spanned]
) -> list[_text.Piece]:
    skipped = SpanIndex(skip)
    return [p for p in pieces if not skipped.holds(p.start)]


def marks(text: str, skip: Sequence[_text.Spanned]) -> list[_text.Piece]:
    """Exclamation marks outside ``skip``."""
    found = [_text.Piece(i, i + 1, c) for i, c in enumerate(text) if c in EXCLAMATION]
    return _outside(found, skip)


def _mark_fix(text: str, mark: _text.Piece) -> str:
    # Mid-text the mark still ends a sentence; at the end it just goes.
    rest = text[mark.end :]
    if rest[:1].isspace() and rest.strip() and rest.lstrip()[0] not in EXCLAMATION:
        return "."
    return ""


def editorial(
    policy: LengthPolicy, text: str, skip: Sequence[_text.Spanned]
) -> list[Finding]:
    found = []
    if policy.no_emoji:
        found += [
            Finding(
                rule_id="editorial.emoji",
                start=p.start,
                end=p.end,
                matched=p.text,
                message=f"The {policy.label} must not contain emoji.",
            )
            for p in _outside(_text.pictographs(text), skip)
        ]

    excess: list[_text.Piece] = []
    every = marks(text, skip)
    if policy.no_exclamation:
        excess, why = every, "must not contain exclamation marks"
    elif policy.max_exclamation:
        excess = every[policy.max_exclamation :]
        why = f"allows {policy.max_exclamation} exclamation mark at most"
    found += [
        Finding(
            rule_id="editorial.exclamation",
            start=p.start,
            end=p.end,
            matched=p.text,
            message=f"The {policy.label} {why}.",
            suggestion=_mark_fix(text, p),
        )
        for p in excess
    ]
    return found
