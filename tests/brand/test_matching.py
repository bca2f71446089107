"""How terms match: word boundaries, case, inflection, overlaps, own names."""

from __future__ import annotations

import pytest
from byok.generation.v1 import brand_pb2 as pb

from generation_service.brand import check_variant
from generation_service.brand.compiled import compile_guide
from generation_service.brand.inflection import inflect_like, inflections
from tests.brand import guides
from tests.brand.reports import MODERATE, rows


def _banned(*terms: str, exact: bool = False, products: tuple[str, ...] = ()):
    return pb.BrandGuide(
        banned_terms=[pb.BannedTerm(term=t, exact=exact) for t in terms],
        product_names=[pb.ProductName(canonical=p) for p in products],
    )


def _spans(text: str, guide: pb.BrandGuide) -> list[tuple[str, tuple[int, int] | None]]:
    return [(r[0], r[2]) for r in rows(check_variant(text, guide, "blog", MODERATE))]


@pytest.mark.parametrize(
    ("word", "forms"),
    [
        ("leverage", ["leveraging", "leveraged", "leverages", "leverage"]),
        ("box", ["boxing", "boxed", "boxes", "boxs", "box"]),
        ("ship", ["shipping", "shiping", "shipped", "shiped", "ships", "ship"]),
        ("apply", ["applying", "applied", "applies", "applys", "apply"]),
        ("deploy", ["deploying", "deployed", "deploys", "deploy"]),
        ("go", ["going", "goes", "gone", "went", "go"]),
        ("drive", ["driving", "drived", "driven", "drives", "drive", "drove"]),
        ("child", ["childing", "children", "childed", "childs", "child"]),
        ("24x7", ["24x7"]),
    ],
)
def test_inflections_cover_plural_ed_and_ing(word: str, forms: list[str]) -> None:
    assert inflections(word) == forms


def test_terms_match_whole_words_only() -> None:
    guide = _banned("key")

    assert _spans("The keyboard is key.", guide) == [("banned.key", (16, 19))]
    assert _spans("monkey keys turnkey", guide) == [("banned.key", (7, 11))]


def test_a_hyphen_is_a_word_boundary() -> None:
    assert _spans("a leverage-based plan", _banned("leverage")) == [
        ("banned.leverage", (2, 10))
    ]


def test_terms_match_in_any_case_and_inflection() -> None:
    text = "LEVERAGE it. Leverages, leveraged, leveraging."

    assert _spans(text, _banned("leverage")) == [
        ("banned.leverage", (0, 8)),
        ("banned.leverage", (13, 22)),
        ("banned.leverage", (24, 33)),
        ("banned.leverage", (35, 45)),
    ]


def test_exact_terms_do_not_inflect() -> None:
    assert _spans("all alls", _banned("all", exact=True)) == [("banned.all", (0, 3))]


def test_only_the_last_word_of_a_phrase_inflects() -> None:
    guide = _banned("thought leader")

    assert _spans("thought  leaders and thoughts leader", guide) == [
        ("banned.thought-leader", (0, 16))
    ]


def test_a_straight_apostrophe_in_a_term_matches_a_curly_one() -> None:
    assert _spans("we\u2019re here, we're there", _banned("we're", exact=True)) == [
        ("banned.we-re", (0, 5)),
        ("banned.we-re", (12, 17)),
    ]


def test_overlapping_matches_keep_the_longest() -> None:
    guide = _banned("thought", "thought leader", "leader")

    assert _spans("a thought leader, a leader", guide) == [
        ("banned.thought-leader", (2, 16)),
        ("banned.leader", (20, 26)),
    ]


def test_a_banned_term_beats_an_equally_long_preferred_term() -> None:
    guide = pb.BrandGuide(
        banned_terms=[pb.BannedTerm(term="web site")],
        preferred_terms=[pb.PreferredTerm(use="website", instead_of=["web sites"])],
    )

    assert _spans("our web site", guide) == [("banned.web-site", (4, 12))]


def test_product_names_are_never_flagged_by_generic_rules() -> None:
    guide = pb.BrandGuide(
        banned_terms=[pb.BannedTerm(term="key"), pb.BannedTerm(term="vault")],
        preferred_terms=[pb.PreferredTerm(use="mail", instead_of=["post"])],
        product_names=[
            pb.ProductName(canonical="Key Vault"),
            pb.ProductName(canonical="Post Office!"),
        ],
        exclamation=pb.Policy(forbidden=True),
    )
    text = "Key Vault keeps the key. Post Office! post"

    assert _spans(text, guide) == [
        ("banned.key", (20, 23)),
        ("preferred.mail", (38, 42)),
    ]


def test_a_miscased_product_name_is_still_protected_and_reported_once() -> None:
    guide = _banned("vault", products=("Key Vault",))

    assert _spans("KEY VAULT works", guide) == [("casing.key-vault", (0, 9))]


def test_a_product_name_may_start_a_sentence_capitalised() -> None:
    guide = pb.BrandGuide(product_names=[pb.ProductName(canonical="iPhone")])

    assert _spans("IPhone owners. Get an IPhone. \u201cIPhone", guide) == [
        ("casing.iphone", (22, 28))
    ]


def test_irregular_forms_of_a_banned_term_are_matched() -> None:
    guide = _banned("drive out", "thought leader", "child")
    text = "We drove out waste. Children and thought leaders have driven out doubt."

    assert _spans(text, guide) == [
        ("banned.drive-out", (3, 12)),
        ("banned.child", (20, 28)),
        ("banned.thought-leader", (33, 48)),
        ("banned.drive-out", (54, 64)),
    ]


@pytest.mark.parametrize(
    ("replacement", "term", "matched", "expected"),
    [
        ("use", "utilize", "utilizing", "using"),
        ("use", "utilise", "utilised", "used"),
        ("email", "e-mail", "e-mails", "emails"),
        ("buy", "purchase", "purchased", "bought"),
        ("buy", "purchase", "purchases", "buys"),
        ("work with", "collaborate", "collaborating", "working with"),
        ("ship", "send", "sent", "shipped"),
        ("visit", "go", "went", "visited"),
        ("apply", "submit", "submitted", "applied"),
        ("see", "view", "viewing", "seeing"),
        ("phone", "smart phone", "smart phones", "phones"),
        ("drag", "drag and drop", "drag and dropped", "dragged"),
        ("person", "user", "users", "people"),
        ("before", "prior to", "prior to", "before"),
    ],
)
def test_a_replacement_takes_the_form_of_the_matched_word(
    replacement: str, term: str, matched: str, expected: str
) -> None:
    assert inflect_like(replacement, term, matched) == expected


def test_a_preferred_term_suggestion_is_inflected_irregularly() -> None:
    guide = pb.BrandGuide(
        preferred_terms=[pb.PreferredTerm(use="buy", instead_of=["purchase"])]
    )

    report = check_variant("They purchased it.", guide, "x", MODERATE)

    assert report.violations[0].suggestion == "bought"
    assert report.violations[0].message == 'Use "bought" instead of "purchased".'


@pytest.mark.parametrize(
    ("term", "form"),
    [("think", "thought"), ("go", "went"), ("buy", "bought"), ("person", "people"),
     ("log in", "logged in"), ("sign up", "signs up"), ("win", "winning")],
)  # fmt: skip
def test_every_irregular_or_phrasal_form_is_found(term: str, form: str) -> None:
    assert _spans(f"Then {form.upper()} it.", _banned(term)) == [
        (f"banned.{term.replace(' ', '-')}", (5, 5 + len(form)))
    ]


def test_a_guide_is_compiled_once_for_any_copy_of_it() -> None:
    first = compile_guide(guides.govuk())

    assert compile_guide(guides.govuk()) is first
    assert compile_guide(guides.mailchimp()) is not first
