"""Planted violations against guides modelled on real style guides."""

from __future__ import annotations

import pytest

from generation_service.brand import check_variant
from tests.brand import guides
from tests.brand.reports import CUSTOM, MODERATE, STRICT, by_rule, rows

# -- Mailchimp-like --


def test_mailchimp_flags_corporate_words_casing_and_excess_marks_on_x() -> None:
    text = (
        "Our automagical funnel helps you leverage e-mail. "
        "Leveraging MailChimp is crazy fun!! \U0001f389\U0001f389"
    )

    report = check_variant(text, guides.mailchimp(), "x", MODERATE)

    assert rows(report) == [
        ("banned.automagical", "error", (4, 15), "automagical", True),
        ("banned.funnel", "error", (16, 22), "funnel", True),
        ("banned.leverage", "error", (33, 41), "leverage", True),
        ("preferred.email", "warning", (42, 48), "e-mail", False),
        ("banned.leverage", "error", (50, 60), "Leveraging", True),
        ("casing.mailchimp", "warning", (61, 70), "MailChimp", False),
        ("banned.crazy", "error", (74, 79), "crazy", True),
        ("exclamation.consecutive", "warning", (83, 85), "!!", False),
        ("emoji.max", "warning", (87, 88), "\U0001f389", False),
    ]
    assert not report.compliant
    assert report.score == 4.5  # 13 words -> 25; 5 errors + 4 warnings
    assert (report.length, report.length_limit, report.length_unit) == (
        90,
        280,
        "x_weighted",
    )


def test_mailchimp_bans_marks_on_its_name_and_lowercases_web_words() -> None:
    text = (
        "Email us at Mailchimp\u00ae. Mailchimp's Website runs on the Internet! "
        "#email #tips #news"
    )

    report = check_variant(text, guides.mailchimp(), "instagram", MODERATE)

    # "Email" opens a sentence and "Mailchimp's" is the name as written.
    assert rows(report) == [
        ("banned.mailchimp-uae", "error", (12, 22), "Mailchimp\u00ae", True),
        ("preferred.website", "warning", (36, 43), "Website", False),
        ("preferred.internet", "warning", (56, 64), "Internet", False),
        ("hashtags.max", "warning", (79, 84), "#news", False),
    ]
    assert by_rule(report, "preferred.website")[0].suggestion == "website"


def test_mailchimp_allows_two_emoji_on_instagram_but_one_elsewhere() -> None:
    text = "Meet the thought leaders crushing it \U0001f389 \U0001f680 \u2728"

    on_instagram = check_variant(text, guides.mailchimp(), "instagram", MODERATE)
    on_facebook = check_variant(text, guides.mailchimp(), "facebook", MODERATE)

    assert rows(on_instagram) == [
        ("banned.thought-leader", "error", (9, 24), "thought leaders", True),
        ("banned.crushing-it", "error", (25, 36), "crushing it", True),
        ("emoji.max", "warning", (41, 42), "\u2728", False),
    ]
    assert [r[:3] for r in rows(on_facebook)][2:] == [
        ("emoji.max", "warning", (39, 40)),
        ("emoji.max", "warning", (41, 42)),
    ]


# -- GOV.UK-like --


def test_govuk_flags_words_to_avoid_with_their_plain_alternative() -> None:
    text = (
        "We will leverage key partners to deliver robust support. "
        "You can't apply until we initiate checks!"
    )

    report = check_variant(text, guides.govuk(), "facebook", MODERATE)

    assert rows(report) == [
        ("banned.leverage", "error", (8, 16), "leverage", True),
        ("banned.key", "error", (17, 20), "key", True),
        ("banned.deliver", "error", (33, 40), "deliver", True),
        ("banned.robust", "error", (41, 47), "robust", True),
        ("preferred.cannot", "warning", (61, 66), "can't", False),
        ("banned.initiate", "error", (82, 90), "initiate", True),
        ("exclamation.forbidden", "warning", (97, 98), "!", False),
    ]
    assert by_rule(report, "banned.initiate")[0].suggestion == "Use start."


def test_govuk_splits_long_sentences_and_flags_a_high_reading_grade() -> None:
    text = (
        "Going forward, the department will work with local councils, schools, "
        "charities and employers across every region of the country to help "
        "people who need support find work, training and advice that suits them."
    )

    report = check_variant(text, guides.govuk(), "blog", MODERATE)

    assert rows(report) == [
        ("banned.going-forward", "error", (0, 13), "Going forward", True),
        ("sentences.max_words", "warning", (0, 208), text, False),
        ("readability.grade", "suggestion", None, "", False),
    ]
    assert report.word_count == 33
    assert report.reading_grade == pytest.approx(15.5, abs=1.0)


def test_govuk_plain_short_sentences_pass_with_full_score() -> None:
    text = (
        "You can apply for a grant if you run a small farm. Fill in the form. "
        "Send it to us by 5 May. We will tell you if you can get the grant. "
        "It can take 4 weeks. Call us if you need help."
    )

    report = check_variant(text, guides.govuk(), "blog", STRICT)

    assert rows(report) == []
    assert report.compliant
    assert report.score == 100.0
    assert report.reading_grade < 4.0


# -- Shopify Polaris-like --


def test_polaris_blocks_overpromises_and_fixes_product_casing_in_ads() -> None:
    text = "Guaranteed: double your sales with shopify payments"

    report = check_variant(text, guides.polaris(), "google_ads_headline", MODERATE)

    assert rows(report) == [
        ("banned.guaranteed", "error", (0, 10), "Guaranteed", True),
        ("banned.double-your-sales", "error", (12, 29), "double your sales", True),
        (
            "length.google_ads_headline",
            "error",
            (30, 51),
            "with shopify payments",
            True,
        ),
        ("casing.shopify-payments", "warning", (35, 51), "shopify payments", False),
    ]
    assert (report.length, report.length_limit) == (51, 30)


def test_polaris_generalisations_warn_but_do_not_block_moderate() -> None:
    text = "You successfully added all products. Shopify Payments is on."

    report = check_variant(text, guides.polaris(), "google_ads_description", MODERATE)

    assert rows(report) == [
        ("banned.successfully", "warning", (4, 16), "successfully", False),
        ("banned.all", "warning", (23, 26), "all", False),
    ]
    assert report.compliant


# -- Microsoft-like --


def test_microsoft_requires_contractions_under_custom_adherence() -> None:
    text = (
        "In order to set up the chat bot, we recommend you do not use an "
        "adaptor and/or a smart phone."
    )

    report = check_variant(text, guides.microsoft(), "linkedin", CUSTOM)

    assert rows(report) == [
        ("preferred.to", "warning", (0, 11), "In order to", False),
        ("preferred.chatbot", "warning", (23, 31), "chat bot", False),
        ("banned.we", "warning", (33, 35), "we", False),
        ("preferred.don-t", "error", (50, 56), "do not", True),
        ("preferred.adapter", "warning", (64, 71), "adaptor", False),
        ("banned.and-or", "error", (72, 78), "and/or", True),
        ("preferred.phone", "warning", (81, 92), "smart phone", False),
    ]
    suggestions = [v.suggestion for v in report.violations]
    assert suggestions[0] == "To"
    assert suggestions[3] == "don't"


def test_microsoft_contractions_are_only_warnings_without_custom() -> None:
    text = "It is easy: it's ready 24/7."

    custom = check_variant(text, guides.microsoft(), "linkedin", CUSTOM)
    moderate = check_variant(text, guides.microsoft(), "linkedin", MODERATE)

    assert rows(custom) == [
        ("preferred.it-s", "error", (0, 5), "It is", True),
        ("preferred.every-day", "warning", (23, 27), "24/7", False),
    ]
    assert not custom.compliant
    assert rows(moderate)[0] == ("preferred.it-s", "warning", (0, 5), "It is", False)
    assert moderate.compliant


# -- Atlassian: voice only --


def test_atlassian_product_casing_warns_and_blocks_only_when_strict() -> None:
    text = "JIRA and confluence keep your team moving. Confluence pages stay tidy."
    expected = [
        ("casing.jira", "warning", (0, 4), "JIRA"),
        ("casing.confluence", "warning", (9, 19), "confluence"),
    ]

    moderate = check_variant(text, guides.atlassian(), "linkedin", MODERATE)
    strict = check_variant(text, guides.atlassian(), "linkedin", STRICT)

    assert [r[:4] for r in rows(moderate)] == expected
    assert moderate.compliant
    assert [r[:4] for r in rows(strict)] == expected
    assert not strict.compliant
    assert moderate.score == strict.score == 25.0


def test_atlassian_clean_copy_has_no_violations() -> None:
    text = "Jira and Confluence keep your team moving."

    report = check_variant(text, guides.atlassian(), "linkedin", STRICT)

    assert rows(report) == []
    assert report.compliant
    assert report.score == 100.0
