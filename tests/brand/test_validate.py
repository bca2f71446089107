"""Brand guides that cannot be enforced are refused with the field named."""

from __future__ import annotations

import pytest
from byok.generation.v1 import brand_pb2 as pb

from generation_service.brand import BrandGuideError, check_variant, validate_guide
from tests.brand import guides
from tests.brand.reports import MODERATE


@pytest.mark.parametrize(
    "guide",
    [guides.mailchimp(), guides.govuk(), guides.polaris(), guides.microsoft(),
     guides.atlassian(), pb.BrandGuide()],
    ids=["mailchimp", "govuk", "polaris", "microsoft", "atlassian", "empty"],
)  # fmt: skip
def test_the_fixture_guides_are_valid(guide: pb.BrandGuide) -> None:
    validate_guide(guide)


def _error(guide: pb.BrandGuide) -> tuple[str, str]:
    with pytest.raises(BrandGuideError) as caught:
        validate_guide(guide)
    return caught.value.field_path, caught.value.message


@pytest.mark.parametrize(
    ("guide", "field_path", "message"),
    [
        (
            pb.BrandGuide(banned_terms=[pb.BannedTerm(term="ok"), pb.BannedTerm()]),
            "banned_terms[1].term",
            "must not be empty",
        ),
        (
            pb.BrandGuide(banned_terms=[pb.BannedTerm(term="x" * 101)]),
            "banned_terms[0].term",
            "is longer than 100 characters",
        ),
        (
            pb.BrandGuide(banned_terms=[pb.BannedTerm(term="a\u200bb")]),
            "banned_terms[0].term",
            "must not contain control characters",
        ),
        (
            pb.BrandGuide(
                banned_terms=[pb.BannedTerm(term="Thought leader"),
                              pb.BannedTerm(term="thought-leader")]
            ),
            "banned_terms[1].term",
            "repeats banned_terms[0].term (same rule id)",
        ),
        (
            pb.BrandGuide(
                banned_terms=[pb.BannedTerm(term="utilize")],
                preferred_terms=[pb.PreferredTerm(use="Utilize", instead_of=["use"])],
            ),
            "preferred_terms[0].use",
            "recommends a banned term",
        ),
        (
            pb.BrandGuide(preferred_terms=[pb.PreferredTerm(use="email")]),
            "preferred_terms[0].instead_of",
            "must list at least one term",
        ),
        (
            pb.BrandGuide(
                preferred_terms=[pb.PreferredTerm(use="email", instead_of=["email"])]
            ),
            "preferred_terms[0].instead_of[0]",
            "is the preferred term itself",
        ),
        (
            pb.BrandGuide(
                banned_terms=[pb.BannedTerm(term="free")], required_terms=["Free"]
            ),
            "required_terms[0]",
            "is both required and banned",
        ),
        (
            pb.BrandGuide(product_names=[pb.ProductName(canonical="Jira"),
                                         pb.ProductName(canonical="JIRA")]),
            "product_names[1].canonical",
            "repeats an earlier product name",
        ),
        (
            pb.BrandGuide(emoji=pb.Policy(max_count=-1)),
            "emoji.max_count",
            "must not be negative",
        ),
        (
            pb.BrandGuide(reading_grade_max=31),
            "reading_grade_max",
            "must be 0 to 30",
        ),
        (
            pb.BrandGuide(
                platform_overrides=[pb.PlatformOverride(platform="x"),
                                    pb.PlatformOverride(platform="myspace")]
            ),
            "platform_overrides[1].platform",
            "unknown platform 'myspace'; known: blog, email, facebook, google_ads, "
            "google_ads_description, google_ads_headline, instagram, linkedin, "
            "meta_ads, pinterest, pinterest_description, pinterest_title, sms, "
            "threads, tiktok, x, youtube, youtube_description, youtube_title",
        ),
        (
            pb.BrandGuide(
                platform_overrides=[pb.PlatformOverride(platform="youtube"),
                                    pb.PlatformOverride(platform="youtube_description")]
            ),
            "platform_overrides[1].platform",
            "repeats an earlier override",
        ),
        (
            pb.BrandGuide(rule_overrides=[pb.RuleOverride(rule_id="leverage",
                                                          disabled=True)]),
            "rule_overrides[0].rule_id",
            "must be <family>.<name> or <family>.*, family one of acronym, banned, "
            "casing, characters, claims, conditional, consistency, editorial, "
            "emoji, exclamation, hashtags, keyword, length, links, overuse, "
            "preferred, readability, recommended_length, repetition, required, "
            "sentences, serial_comma",
        ),
        (
            pb.BrandGuide(rule_overrides=[pb.RuleOverride(rule_id="emoji.*")]),
            "rule_overrides[0].severity",
            "set a severity or disabled",
        ),
        (
            pb.BrandGuide(consistent_terms=[pb.ConsistentTerm(variants=["email"])]),
            "consistent_terms[0].variants",
            "must list at least two spellings",
        ),
        (
            pb.BrandGuide(
                consistent_terms=[pb.ConsistentTerm(variants=["email", "Email "])]
            ),
            "consistent_terms[0].variants[1]",
            "repeats consistent_terms[0].variants[0]",
        ),
        (
            pb.BrandGuide(
                preferred_terms=[pb.PreferredTerm(use="email", instead_of=["e-mail"])],
                consistent_terms=[pb.ConsistentTerm(variants=["email", "e-mail"])],
            ),
            "consistent_terms[0].variants[1]",
            "is already replaced by a preferred term",
        ),
        (
            pb.BrandGuide(
                banned_terms=[pb.BannedTerm(term="signup")],
                consistent_terms=[pb.ConsistentTerm(variants=["sign-up", "signup"])],
            ),
            "consistent_terms[0].variants[1]",
            "is a banned term",
        ),
        (
            pb.BrandGuide(serial_comma=7),
            "serial_comma",
            "is not a known serial comma policy",
        ),
        (
            pb.BrandGuide(conditions=[pb.Condition(if_term="free trial")]),
            "conditions[0].then_term",
            "must not be empty",
        ),
        (
            pb.BrandGuide(conditions=[pb.Condition(if_term="Trial",
                                                   then_term="trial")]),
            "conditions[0].then_term",
            "is the if_term itself",
        ),
        (
            pb.BrandGuide(conditions=[pb.Condition(if_term="a", then_term="b",
                                                   severity=9)]),
            "conditions[0].severity",
            "is not a known severity",
        ),
        (
            pb.BrandGuide(acronyms=pb.AcronymPolicy(well_known=["GOV UK"])),
            "acronyms.well_known[0]",
            "must be one word",
        ),
        (
            pb.BrandGuide(acronyms=pb.AcronymPolicy(definitions=[
                pb.AcronymDefinition(acronym="SaaS", expansion="software")])),
            "acronyms.definitions[0].acronym",
            "must be 2 to 6 capital letters, as acronyms are found in text",
        ),
        (
            pb.BrandGuide(acronyms=pb.AcronymPolicy(definitions=[
                pb.AcronymDefinition(acronym="NOC", expansion="network centre"),
                pb.AcronymDefinition(acronym="NOC", expansion="other")])),
            "acronyms.definitions[1].acronym",
            "repeats an earlier acronym",
        ),
        (
            pb.BrandGuide(acronyms=pb.AcronymPolicy(definitions=[
                pb.AcronymDefinition(acronym="NOC")])),
            "acronyms.definitions[0].expansion",
            "must not be empty",
        ),
        (
            pb.BrandGuide(repetition=pb.RepetitionPolicy(max_word_uses=-1)),
            "repetition.max_word_uses",
            "must be 0 to 100",
        ),
        (
            pb.BrandGuide(repetition=pb.RepetitionPolicy(ignore=["ok", "\n"])),
            "repetition.ignore[1]",
            "must not be empty",
        ),
        (
            pb.BrandGuide(approved_claims=["Rated 4.8/5", "x" * 301]),
            "approved_claims[1]",
            "is longer than 300 characters",
        ),
    ],
)  # fmt: skip
def test_invalid_guides_name_the_field(
    guide: pb.BrandGuide, field_path: str, message: str
) -> None:
    assert _error(guide) == (field_path, message)


def test_too_many_terms_are_refused_before_compiling() -> None:
    guide = pb.BrandGuide(required_terms=[f"term{i}" for i in range(2001)])

    assert _error(guide) == ("", "has 2001 terms; at most 2000 allowed")


def test_check_variant_validates_the_guide() -> None:
    guide = pb.BrandGuide(banned_terms=[pb.BannedTerm(term=" ")])

    with pytest.raises(BrandGuideError, match=r"banned_terms\[0\]\.term"):
        check_variant("text", guide, "x", MODERATE)


def test_claims_and_style_entries_count_towards_the_term_budget() -> None:
    guide = pb.BrandGuide(
        approved_claims=[f"Claim {i}" for i in range(1500)],
        conditions=[
            pb.Condition(if_term=f"a{i}", then_term=f"b{i}") for i in range(251)
        ],
    )

    assert _error(guide) == ("", "has 2002 terms; at most 2000 allowed")
