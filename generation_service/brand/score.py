"""The 0-100 compliance score.

Issue density, as Acrolinx scores a goal: with ``u = words / 75`` (one unit
per 75 words, at least ``MIN_WORDS`` words so a one-line post is not judged
on a sliver of text) and ``issues`` the severity-weighted violation count::

    score = 100 x u / (u + issues)

Weights: error 1, warning 0.5, suggestion 0.2. So a 75-word variant with one
error scores 50, with one warning 66.7; no violations always scores 100.
Disabled rules are not counted. The score is rounded to one decimal.
"""

from __future__ import annotations

from collections.abc import Iterable

from byok.generation.v1 import brand_pb2

WORDS_PER_UNIT = 75
MIN_WORDS = 25
WEIGHTS = {
    brand_pb2.SEVERITY_ERROR: 1.0,
    brand_pb2.SEVERITY_WARNING: 0.5,
    brand_pb2.SEVERITY_SUGGESTION: 0.2,
}


def score(word_count: int, severities: Iterable[brand_pb2.Severity.ValueType]) -> float:
    issues = sum(WEIGHTS.get(s, 0.0) for s in severities)
    if issues == 0:
        return 100.0
    units = max(word_count, MIN_WORDS) / WORDS_PER_UNIT
    return round(100 * units / (units + issues), 1)
