"""Planted violations against guides modelled on real style guides."""

from __future__ import annotations

import pytest

from generation_service.brand import check_variant
from tests.brand import guides
from tests.brand.reports import CUSTOM, LOOSE, MODERATE, STRICT, by_rule, rows

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


# -- style rules planted in every guide --


def test_mailchimp_flags_mixed_spellings_doubled_words_claims_and_overuse() -> None:
    text = (
        "Plan, write and send a signup form. Each sign-up gets a great welcome. "
        "Send up to 1,000 emails a month on the Free plan. Our tips are the the "
        "best. Great ideas are great. Great designs look great."
    )

    report = check_variant(text, guides.mailchimp(), "linkedin", MODERATE)

    # The 1,000 emails sentence is the guide's approved claim; "best" is not.
    assert rows(report) == [
        ("serial_comma.missing", "suggestion", (6, 11), "write", False),
        ("consistency.signup", "warning", (41, 48), "sign-up", False),
        ("claims.unapproved", "warning", (121, 147), "Our tips are the the best.",
         False),
        ("repetition.the", "error", (134, 141), "the the", True),
        ("overuse.great", "warning", (171, 176), "Great", False),
        ("overuse.great", "warning", (190, 195), "great", False),
    ]  # fmt: skip
    assert [v.suggestion for v in report.violations[:2]] == ["write,", "signup"]
    assert report.violations[0].message == (
        'Add a comma before "and": "Plan, write, and send".'
    )
    assert report.violations[4].message == '"great" is used 5 times; at most 3.'
    assert not report.compliant


def test_govuk_wants_abbreviations_spelled_out_unless_well_known() -> None:
    text = (
        "Apply to the DWP for help. HM Revenue and Customs (HMRC) can check your "
        "VAT. Ask your GP or the NOC team. FREE ADVICE is on GOV.UK."
    )

    moderate = check_variant(text, guides.govuk(), "blog", MODERATE)
    strict = check_variant(text, guides.govuk(), "blog", STRICT)

    # HMRC is defined where it is first used; HM, VAT and GOV.UK are known;
    # FREE ADVICE is shouting, not an abbreviation.
    assert rows(moderate) == [
        ("acronym.dwp", "warning", (13, 16), "DWP", False),
        ("acronym.gp", "warning", (86, 88), "GP", False),
        ("acronym.noc", "warning", (96, 99), "NOC", False),
    ]
    assert moderate.violations[0].suggestion == (
        "Department for Work and Pensions (DWP)"
    )
    assert moderate.violations[1].suggestion == ""
    assert moderate.compliant
    assert not strict.compliant


def test_polaris_accepts_its_approved_claim_and_flags_invented_ones() -> None:
    text = (
        "Shopify checkout converts up to 36% better than other checkouts. "
        "Shopify is the #1 platform for 2 million merchants. Start a free trial "
        "today."
    )

    report = check_variant(text, guides.polaris(), "linkedin", STRICT)

    assert rows(report) == [
        ("claims.unapproved", "warning", (65, 116),
         "Shopify is the #1 platform for 2 million merchants.", True),
        ("conditional.free-trial", "warning", (125, 135), "free trial", True),
    ]  # fmt: skip
    assert report.violations[0].message == (
        'This sentence makes a claim ("#1", "2 million") that is not one of the '
        "brand's approved claims."
    )
    assert report.violations[1].message == (
        '"free trial" needs "no credit card required" too. Say what the trial '
        "asks of the merchant."
    )


def test_polaris_google_ads_headline_refuses_exclamation_marks_and_emoji() -> None:
    text = "Shopify Payments! Try it \U0001f680"

    report = check_variant(text, guides.polaris(), "google_ads_headline", LOOSE)

    assert rows(report) == [
        ("editorial.exclamation", "error", (16, 17), "!", False),
        ("editorial.emoji", "error", (25, 26), "\U0001f680", False),
    ]
    assert report.violations[0].suggestion == "."


def test_microsoft_requires_the_oxford_comma_and_one_spelling_of_email() -> None:
    text = "Send a reminder by email, text or e-mail."

    custom = check_variant(text, guides.microsoft(), "linkedin", CUSTOM)
    strict = check_variant(text, guides.microsoft(), "linkedin", STRICT)

    assert rows(custom) == [
        ("serial_comma.missing", "warning", (26, 30), "text", False),
        ("consistency.email", "warning", (34, 40), "e-mail", False),
    ]
    # Overrides apply only under CUSTOM: elsewhere the comma only suggests.
    assert rows(strict) == [
        ("serial_comma.missing", "suggestion", (26, 30), "text", False),
        ("consistency.email", "warning", (34, 40), "e-mail", True),
    ]


def test_atlassian_voice_only_guide_still_gets_the_generic_rules() -> None:
    text = "Jira is the #1 tool for for agile teams. Confluence keeps docs tidy."

    report = check_variant(text, guides.atlassian(), "linkedin", MODERATE)

    assert rows(report) == [
        ("claims.unapproved", "warning", (0, 40),
         "Jira is the #1 tool for for agile teams.", False),
        ("repetition.for", "error", (20, 27), "for for", True),
    ]  # fmt: skip
    assert not report.compliant


def test_govuk_catches_irregular_and_phrasal_forms_of_its_words_to_avoid() -> None:
    text = "We drove out waste and are driving out delay. Landed costs fell."

    report = check_variant(text, guides.govuk(), "blog", MODERATE)

    assert rows(report) == [
        ("banned.drive-out", "error", (3, 12), "drove out", True),
        ("banned.drive-out", "error", (27, 38), "driving out", True),
        ("banned.land", "error", (46, 52), "Landed", True),
    ]
