"""Deterministic repairs and grapheme-safe truncation."""

from __future__ import annotations

import regex
from byok.generation.v1 import brand_pb2 as pb

from generation_service.brand import check_variant, counting
from generation_service.brand.repair import repair_deterministic, truncate_to_limit
from tests.brand import guides
from tests.brand.reports import MODERATE, rows

CODER = "\U0001f469\u200d\U0001f4bb"
FLAG = "\U0001f1fa\U0001f1f8"


def _repair(text: str, guide: pb.BrandGuide, platform: str = "x") -> str:
    report = check_variant(text, guide, platform, MODERATE)
    return repair_deterministic(text, report, guide, platform)


def test_repair_applies_substitutions_casing_and_trims_marks_and_tags() -> None:
    guide = guides.mailchimp()
    text = (
        "Our funnel uses e-mail. Leveraging MailChimp is fun!! "
        "\U0001f389\U0001f44d\U0001f3fd #a #b #c"
    )

    repaired = _repair(text, guide)

    assert repaired == (
        "Our funnel uses email. Leveraging Mailchimp is fun! \U0001f389 #a #b"
    )
    # Banned terms need a rewrite; they are left for the model.
    assert [r[0] for r in rows(check_variant(repaired, guide, "x", MODERATE))] == [
        "banned.funnel",
        "banned.leverage",
    ]


def test_repair_removes_whole_emoji_sequences_and_their_space() -> None:
    guide = pb.BrandGuide(
        emoji=pb.Policy(forbidden=True),
        exclamation=pb.Policy(forbidden=True),
        hashtags_forbidden=True,
    )

    assert _repair(f"{CODER} Ship it! Now {FLAG} #go", guide) == "Ship it. Now"


def test_repair_keeps_the_source_casing_of_a_substitution() -> None:
    guide = pb.BrandGuide(
        preferred_terms=[pb.PreferredTerm(use="email", instead_of=["e-mail"])]
    )

    assert _repair("E-mail us. E-MAIL! e-mails", guide) == "Email us. EMAIL! emails"


def test_repair_checks_again_when_the_report_is_for_other_text() -> None:
    guide = guides.atlassian()
    stale = check_variant("JIRA rocks", guide, "x", MODERATE)

    assert repair_deterministic("We love JIRA", stale, guide, "x") == "We love Jira"


def test_truncation_never_splits_a_zwj_sequence() -> None:
    text = "a " * 100 + CODER * 100

    cut = truncate_to_limit(text, pb.BrandGuide(), "x")

    assert counting.x_weighted(cut) == 280
    assert cut.endswith(CODER + "\u2026")
    clusters = regex.findall(r"\X", cut)
    assert set(clusters[200:-1]) == {CODER}


def test_truncation_prefers_a_word_break_and_fits_double_width() -> None:
    guide = pb.BrandGuide()

    assert truncate_to_limit("word " * 20, guide, "google_ads_headline") == (
        "word word word word word word\u2026"
    )
    cjk = truncate_to_limit("\u65e5\u672c" * 20, guide, "google_ads_headline")
    assert cjk == "\u65e5\u672c" * 7 + "\u2026"
    assert counting.double_width(cjk) == 29


def test_truncation_leaves_fitting_text_alone() -> None:
    assert truncate_to_limit("short", pb.BrandGuide(), "x") == "short"
    assert truncate_to_limit("word " * 9000, pb.BrandGuide(), "blog").startswith("word")


def test_repair_fixes_doubled_words_spellings_commas_and_known_acronyms() -> None:
    guide = pb.BrandGuide(
        consistent_terms=[pb.ConsistentTerm(variants=["email", "e-mail"])],
        serial_comma=pb.SERIAL_COMMA_REQUIRED,
        acronyms=pb.AcronymPolicy(
            require_definition=True,
            definitions=[
                pb.AcronymDefinition(
                    acronym="NOC", expansion="network operations centre"
                )
            ],
        ),
    )
    text = "NOC staff read email, chat and E-mails. Call the the NOC."

    repaired = _repair(text, guide, "blog")

    assert repaired == (
        "Network operations centre (NOC) staff read email, chat, and Emails. "
        "Call the NOC."
    )
    assert rows(check_variant(repaired, guide, "blog", MODERATE)) == []


def test_repair_drops_the_serial_comma_where_the_guide_omits_it() -> None:
    guide = pb.BrandGuide(serial_comma=pb.SERIAL_COMMA_OMITTED)

    assert _repair("Tea, coffee, or juice.", guide, "blog") == "Tea, coffee or juice."


def test_repair_makes_a_google_ads_headline_acceptable() -> None:
    guide = pb.BrandGuide()

    assert _repair("Big sale! Shop now! \U0001f6d2", guide, "google_ads_headline") == (
        "Big sale. Shop now."
    )
    assert _repair("Shop now!", guide, "google_ads_headline") == "Shop now"


def test_repair_leaves_claims_conditions_and_overuse_to_a_rewrite() -> None:
    guide = pb.BrandGuide(
        conditions=[pb.Condition(if_term="free trial", then_term="terms apply")],
        repetition=pb.RepetitionPolicy(max_word_uses=1),
    )
    text = "The best free trial. Great, great deals."

    assert _repair(text, guide, "blog") == text
