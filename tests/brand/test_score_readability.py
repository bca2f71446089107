"""The score formula and the offline readability measure."""

from __future__ import annotations

import pytest
from byok.generation.v1 import brand_pb2 as pb

from generation_service.brand import readability
from generation_service.brand.score import score

ERROR, WARNING, SUGGESTION = (
    pb.SEVERITY_ERROR,
    pb.SEVERITY_WARNING,
    pb.SEVERITY_SUGGESTION,
)


@pytest.mark.parametrize(
    ("words", "severities", "expected"),
    [
        (75, [], 100.0),
        (3, [], 100.0),
        (75, [ERROR], 50.0),
        (75, [WARNING], 66.7),
        (75, [SUGGESTION], 83.3),
        (150, [ERROR, ERROR], 50.0),
        # Short copy is judged as 25 words: one error scores 25.
        (10, [ERROR], 25.0),
        (75, [ERROR, WARNING, SUGGESTION], 37.0),
    ],
)
def test_score_is_severity_weighted_issue_density(
    words: int, severities: list[int], expected: float
) -> None:
    assert score(words, severities) == expected


@pytest.mark.parametrize(
    ("word", "count"),
    [
        ("the", 1), ("table", 2), ("make", 1), ("hoped", 1), ("wanted", 2),
        ("create", 2), ("quiet", 2), ("beautiful", 3), ("marketing", 3),
        ("leverage", 3), ("everything", 4), ("people", 2), ("idea", 3),
        ("radio", 3), ("being", 2), ("tables", 2), ("boxes", 2),
        ("naturally", 4), ("nation", 2),
    ],
)  # fmt: skip
def test_syllable_counter_agrees_with_a_pronouncing_dictionary(
    word: str, count: int
) -> None:
    assert readability.syllables(word) == count


def test_flesch_kincaid_grade_of_a_known_passage() -> None:
    # By hand: 2 sentences, 22 words, 23 syllables (only "happy" has two):
    # 0.39 * 11 + 11.8 * 23 / 22 - 15.59 = 1.036
    text = (
        "The cat sat on the mat and looked at the dog. "
        "The dog was happy and wagged its tail at the cat."
    )

    measured = readability.measure(text)

    assert (measured.words, measured.sentences, measured.syllables) == (22, 2, 23)
    assert measured.grade == pytest.approx(1.036, abs=0.001)


def test_links_hashtags_handles_and_emoji_are_not_words() -> None:
    text = "Shop now at https://example.com/sale #deals @brand \U0001f389"

    assert readability.measure(text).words == 3
