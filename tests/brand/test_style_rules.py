"""Repetition, consistency, serial comma, conditions, acronyms, editorial."""

from __future__ import annotations

import pytest
from byok.generation.v1 import brand_pb2 as pb

from generation_service.brand import check_variant
from tests.brand.reports import CUSTOM, MODERATE, STRICT, rows

Row = tuple[str, tuple[int, int] | None, str]


def _found(text: str, guide: pb.BrandGuide, platform: str = "blog") -> list[Row]:
    return [
        (r[0], r[2], r[3]) for r in rows(check_variant(text, guide, platform, STRICT))
    ]


# -- repetition --


def test_a_doubled_word_is_found_across_case_and_a_line_break() -> None:
    text = "Read the The guide.\nSee the\nthe the list. Go go!"

    assert _found(text, pb.BrandGuide()) == [
        ("repetition.the", (5, 12), "the The"),
        ("repetition.the", (24, 35), "the\nthe the"),
        ("repetition.go", (42, 47), "Go go"),
    ]


def test_doubles_that_are_correct_or_deliberate_are_not_flagged() -> None:
    guide = pb.BrandGuide(product_names=[pb.ProductName(canonical="Talk Talk")])
    text = (
        "She had had enough. No, no. Talk Talk broadband. Room 10 10. "
        "Well.\n\nWell done. the-the band"
    )

    assert _found(text, guide) == []


def test_the_doubled_word_fix_keeps_the_first_as_written() -> None:
    report = check_variant("The the plan", pb.BrandGuide(), "x", STRICT)

    assert report.violations[0].suggestion == "The"
    assert report.violations[0].severity == pb.SEVERITY_ERROR


def test_overused_words_are_flagged_beyond_the_limit_per_100_words() -> None:
    guide = pb.BrandGuide(repetition=pb.RepetitionPolicy(max_word_uses=2))
    text = "Fresh bread, fresh milk and fresh eggs. Fresh is best for you and me."

    assert [r for r in _found(text, guide) if r[0].startswith("overuse")] == [
        ("overuse.fresh", (28, 33), "fresh"),
        ("overuse.fresh", (40, 45), "Fresh"),
    ]


def test_the_overuse_limit_grows_with_the_length_of_the_text() -> None:
    guide = pb.BrandGuide(repetition=pb.RepetitionPolicy(max_word_uses=2))
    filler = " ".join(f"w{i}x" for i in range(196))
    text = f"{filler} fresh fresh, fresh, fresh, fresh."  # 201 words: limit 4

    assert _found(text, guide) == [
        ("repetition.fresh", (len(filler) + 1, len(filler) + 12), "fresh fresh"),
        ("overuse.fresh", (len(text) - 6, len(text) - 1), "fresh"),
    ]


def test_function_words_short_words_and_exempt_words_are_never_overused() -> None:
    guide = pb.BrandGuide(
        repetition=pb.RepetitionPolicy(max_word_uses=1, ignore=["Jira"]),
        product_names=[pb.ProductName(canonical="Confluence")],
    )
    text = "The team and the jira board. The ox, the ox. Jira, Confluence, Confluence."

    assert [r for r in _found(text, guide) if r[0].startswith("overuse")] == []


# -- consistency --


def test_the_first_spelling_used_wins_and_later_ones_are_flagged() -> None:
    guide = pb.BrandGuide(
        consistent_terms=[pb.ConsistentTerm(variants=["email", "e-mail"])]
    )

    report = check_variant("E-mail us. Our emails and E-mails.", guide, "x", STRICT)

    assert rows(report) == [
        ("consistency.email", "warning", (15, 21), "emails", True),
    ]
    assert report.violations[0].suggestion == "e-mails"
    assert rows(check_variant("Emails, then e-mail.", guide, "x", STRICT))[0][:4] == (
        "consistency.email",
        "warning",
        (13, 19),
        "e-mail",
    )


def test_an_exact_consistent_term_does_not_match_inflections() -> None:
    guide = pb.BrandGuide(
        consistent_terms=[pb.ConsistentTerm(variants=["log in", "login"], exact=True)]
    )

    assert _found("Log in here. The logins page. Use login.", guide) == [
        ("consistency.log-in", (34, 39), "login")
    ]


def test_a_spelling_inside_a_product_name_is_not_a_mix() -> None:
    guide = pb.BrandGuide(
        consistent_terms=[pb.ConsistentTerm(variants=["email", "e-mail"])],
        product_names=[pb.ProductName(canonical="E-mail Studio")],
    )

    assert _found("Send email with E-mail Studio.", guide) == []


# -- serial comma --


def _comma(policy: pb.SerialComma.ValueType) -> pb.BrandGuide:
    return pb.BrandGuide(serial_comma=policy)


def test_required_serial_comma_flags_lists_without_it() -> None:
    text = "Pick red, green and blue. Tea, coffee, or juice. Available in S, M or L."

    report = check_variant(text, _comma(pb.SERIAL_COMMA_REQUIRED), "blog", STRICT)

    assert rows(report) == [
        ("serial_comma.missing", "suggestion", (10, 15), "green", False),
        ("serial_comma.missing", "suggestion", (65, 66), "M", False),
    ]
    assert [v.suggestion for v in report.violations] == ["green,", "M,"]


def test_omitted_serial_comma_flags_lists_with_it() -> None:
    text = "Pick red, green and blue. Tea, coffee, or juice."

    report = check_variant(text, _comma(pb.SERIAL_COMMA_OMITTED), "blog", STRICT)

    assert rows(report) == [
        ("serial_comma.unexpected", "suggestion", (31, 38), "coffee,", False),
    ]
    assert report.violations[0].suggestion == "coffee"
    assert report.violations[0].message == (
        'Drop the comma before "or": "Tea, coffee or juice".'
    )


def test_consistent_serial_comma_follows_the_first_list() -> None:
    guide = _comma(pb.SERIAL_COMMA_CONSISTENT)

    assert _found("Tea, coffee, or juice. Red, green and blue.", guide) == [
        ("serial_comma.missing", (28, 33), "green")
    ]
    assert _found("Red, green and blue. Tea, coffee, or juice.", guide) == [
        ("serial_comma.unexpected", (26, 33), "coffee,")
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Today, we ship and deliver.",
        "However, prices rise and fall.",
        "Honestly, prices rise and fall.",
        "In 2024, sales grew and costs fell.",
        "After dinner, guests talk and dance.",
        "We tried, but it failed and we stopped.",
        "Visit example.com/a,b and more.",
    ],
)
def test_introductory_phrases_and_clauses_are_not_lists(text: str) -> None:
    assert _found(text, _comma(pb.SERIAL_COMMA_REQUIRED)) == []


def test_a_unknown_serial_comma_policy_checks_nothing() -> None:
    assert _found("Pick red, green and blue.", pb.BrandGuide()) == []


# -- conditions --


def _condition(**fields: object) -> pb.BrandGuide:
    condition = pb.Condition(if_term="free trial", then_term="terms apply")
    for name, value in fields.items():
        setattr(condition, name, value)
    return pb.BrandGuide(conditions=[condition])


def test_a_condition_is_reported_once_at_its_first_trigger() -> None:
    report = check_variant(
        "Free trials for all. Start your free trial.", _condition(), "x", MODERATE
    )

    assert rows(report) == [
        ("conditional.free-trial", "warning", (0, 11), "Free trials", False)
    ]
    assert report.violations[0].suggestion == "terms apply"


def test_a_condition_is_met_by_its_term_anywhere_in_the_text() -> None:
    assert _found("Terms apply. Start a free trial.", _condition()) == []
    assert _found("Start a free trial (terms applied).", _condition()) == []


def test_a_condition_carries_its_own_severity_and_hint() -> None:
    guide = _condition(severity=pb.SEVERITY_ERROR, hint="Legal requires it.")

    report = check_variant("Start a free trial.", guide, "x", MODERATE)

    assert rows(report) == [
        ("conditional.free-trial", "error", (8, 18), "free trial", True)
    ]
    assert report.violations[0].message == (
        '"free trial" needs "terms apply" too. Legal requires it.'
    )


# -- acronyms --


def _acronyms(*known: str, **definitions: str) -> pb.BrandGuide:
    return pb.BrandGuide(
        acronyms=pb.AcronymPolicy(
            require_definition=True,
            well_known=list(known),
            definitions=[
                pb.AcronymDefinition(acronym=a, expansion=e)
                for a, e in definitions.items()
            ],
        )
    )


@pytest.mark.parametrize(
    "text",
    [
        "The network operations centre (NOC) is open. The NOC helps.",
        "The NOC (network operations centre) is open. The NOC helps.",
        "Chapter XIV and Henry VIII. FREE SHIPPING TODAY. Read #SEO tips.",
        "See https://example.com/NOC and GOV.UK for the FAQ and a PDF.",
        "The KPI is fine.",
    ],
)
def test_defined_known_and_non_acronyms_pass(text: str) -> None:
    assert _found(text, _acronyms("KPI")) == []


def test_an_acronym_used_before_its_definition_is_flagged_once() -> None:
    text = "Ask the NOC. The network operations centre (NOC) knows. NOCs help."

    assert _found(text, _acronyms()) == [("acronym.noc", (8, 11), "NOC")]


def test_a_plural_acronym_is_the_acronym_and_the_guide_expansion_counts() -> None:
    guide = _acronyms(API="application programming interface")

    assert _found("Our APIs are fast.", guide) == [("acronym.api", (4, 8), "APIs")]
    assert _found("An application programming interface, or API.", guide) == []


def test_a_known_expansion_becomes_the_fix_capitalised_at_a_sentence_start() -> None:
    guide = _acronyms(NOC="network operations centre")

    report = check_variant("NOC staff help. The NOC is open.", guide, "x", STRICT)

    assert [(v.span.start, v.suggestion) for v in report.violations] == [
        (0, "Network operations centre (NOC)")
    ]


def test_acronyms_are_not_checked_unless_the_guide_asks() -> None:
    assert _found("Ask the NOC.", pb.BrandGuide()) == []


# -- platform editorial rules --


def test_google_ads_descriptions_allow_one_exclamation_mark_and_no_emoji() -> None:
    text = "Fast setup! Real support! \U0001f44d"

    assert _found(text, pb.BrandGuide(), "google_ads_description") == [
        ("editorial.exclamation", (24, 25), "!"),
        ("editorial.emoji", (26, 27), "\U0001f44d"),
    ]


def test_a_platform_refusal_replaces_the_brand_policy_for_the_same_marks() -> None:
    guide = pb.BrandGuide(
        exclamation=pb.Policy(forbidden=True), emoji=pb.Policy(forbidden=True)
    )
    text = "Go! \U0001f680"

    assert _found(text, guide, "google_ads_headline") == [
        ("editorial.exclamation", (2, 3), "!"),
        ("editorial.emoji", (4, 5), "\U0001f680"),
    ]
    assert _found(text, guide, "x") == [
        ("exclamation.forbidden", (2, 3), "!"),
        ("emoji.forbidden", (4, 5), "\U0001f680"),
    ]


def test_editorial_rules_can_be_relaxed_only_under_custom() -> None:
    guide = pb.BrandGuide(
        rule_overrides=[pb.RuleOverride(rule_id="editorial.*", disabled=True)]
    )

    custom = check_variant("Go!", guide, "google_ads_headline", CUSTOM)
    strict = check_variant("Go!", guide, "google_ads_headline", STRICT)

    assert rows(custom) == []
    assert not strict.compliant
