"""Claims: figures and superlatives must match the brand's approved claims."""

from __future__ import annotations

import pytest
from byok.generation.v1 import brand_pb2 as pb

from generation_service.brand import check_variant
from generation_service.brand.claims import triggers
from tests.brand.reports import MODERATE, STRICT, rows


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Save 36% or 12 percent, even 5 per cent.",
         ["36%", "12 percent", "5 per cent"]),
        ("Now 3x faster and 2\u00d7 cheaper.", ["3x", "2\u00d7"]),
        ("From $10, \u20ac9.99 or 15 USD.", ["$10", "\u20ac9.99", "15 USD"]),
        ("Rated 4.8/5, 9 out of 10 and 4.5 stars.",
         ["4.8/5", "9 out of 10", "4.5 stars"]),
        ("Trusted by 10,000 teams, 2 million users, 10k fans, 500+ brands.",
         ["10,000", "2 million", "10k", "500+"]),
        ("The best, #1, top-rated and guaranteed choice.",
         ["best", "#1", "top-rated", "guaranteed"]),
        # Dates, times, years, phone numbers, ids and small counts are no claims.
        ("Since 2019, open 24/7 from 9:30 on 5 May. Call 555-1234, order #12345, "
         "3 steps, 20 minutes.", []),
    ],
)  # fmt: skip
def test_claim_triggers_are_figures_and_superlatives(
    text: str, found: list[str]
) -> None:
    assert [t.text for t in triggers(text)] == found


def _guide(*claims: str) -> pb.BrandGuide:
    return pb.BrandGuide(approved_claims=list(claims))


def test_a_paraphrase_of_an_approved_claim_passes() -> None:
    guide = _guide("10,000 teams trust us")

    report = check_variant("Trusted by 10,000 teams.", guide, "x", STRICT)

    assert rows(report) == []
    assert report.compliant


def test_the_same_figure_in_another_context_is_not_approved() -> None:
    guide = _guide("10,000 teams trust us")
    text = "Trusted by 10,000 teams. We ship 10,000 parcels a day."

    assert rows(check_variant(text, guide, "x", STRICT)) == [
        ("claims.unapproved", "warning", (25, 54),
         "We ship 10,000 parcels a day.", True),
    ]  # fmt: skip


def test_a_sentence_with_an_extra_figure_is_not_approved() -> None:
    guide = _guide("10,000 teams trust us")

    report = check_variant("10,000 teams trust us, 99% of them daily.", guide, "x",
                           MODERATE)  # fmt: skip

    assert [r[0] for r in rows(report)] == ["claims.unapproved"]
    assert report.violations[0].message == (
        'This sentence makes a claim ("10,000", "99%") that is not one of the '
        "brand's approved claims."
    )
    assert report.compliant  # a warning blocks only under STRICT


def test_a_figure_the_request_asked_for_is_not_invented() -> None:
    text = "Spring sale: 50% off everything."

    with_keyword = check_variant(text, _guide(), "x", STRICT, keywords=["50% off"])
    without = check_variant(text, _guide(), "x", STRICT)

    assert rows(with_keyword) == []
    assert [r[0] for r in rows(without)] == ["claims.unapproved"]


def test_a_banned_superlative_is_reported_once_as_banned() -> None:
    guide = pb.BrandGuide(banned_terms=[pb.BannedTerm(term="guaranteed")])

    report = check_variant("Results guaranteed.", guide, "x", STRICT)

    assert [r[0] for r in rows(report)] == ["banned.guaranteed"]


def test_figures_in_links_and_hashtags_are_not_claims() -> None:
    text = "See example.com/10000-tips and #Top100 picks."

    assert rows(check_variant(text, _guide(), "x", STRICT)) == []
