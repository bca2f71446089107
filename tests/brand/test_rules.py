"""Length, occurrence and required-term rules, and adherence levels."""

from __future__ import annotations

from byok.generation.v1 import brand_pb2 as pb

from generation_service.brand import check_variant
from tests.brand.reports import CUSTOM, LOOSE, MODERATE, STRICT, rows

SMILE = "\U0001f60a"
EMPTY = pb.BrandGuide()


# -- length --


def test_x_accepts_140_emoji_and_rejects_141_with_the_overflow_span() -> None:
    fits = check_variant(SMILE * 140, EMPTY, "x", STRICT)
    too_long = check_variant(SMILE * 141, EMPTY, "x", STRICT)

    assert rows(fits) == []
    assert (fits.length, fits.length_limit) == (280, 280)
    assert rows(too_long) == [("length.x", "error", (140, 141), SMILE, True)]
    assert too_long.length == 282
    assert too_long.violations[0].suggestion == (
        "Shorten by at least 2 weighted characters."
    )


def test_x_length_counts_links_as_23_and_blocks_the_research_fixture() -> None:
    text = "a" * 270 + " https://example.com/" + "x" * 80 + " " + SMILE * 2

    report = check_variant(text, EMPTY, "x", MODERATE)

    # The link is one unit for X: the overflow starts where it starts.
    assert report.length == 270 + 1 + 23 + 1 + 4
    assert [r[:3] for r in rows(report)] == [("length.x", "error", (271, 374))]


def test_sms_reports_segments_and_switches_to_ucs2_for_one_character() -> None:
    guide = pb.BrandGuide(
        platform_overrides=[pb.PlatformOverride(platform="sms", max_length=2)]
    )

    report = check_variant("a" * 150 + "\u00ef", guide, "sms", MODERATE)

    assert (report.sms_encoding, report.sms_segments) == ("ucs2", 3)
    assert (report.length, report.length_limit, report.length_unit) == (
        3,
        2,
        "sms_segments",
    )
    # Two UCS-2 segments hold 134 units; the overflow starts after them.
    assert rows(report)[0][:3] == ("length.sms", "error", (134, 151))


def test_a_platform_override_may_raise_the_limit() -> None:
    guide = pb.BrandGuide(
        platform_overrides=[pb.PlatformOverride(platform="x", max_length=25000)]
    )

    report = check_variant("a" * 1000, guide, "x", STRICT)

    assert report.compliant
    assert report.length_limit == 25000


def test_youtube_counts_description_bytes_and_refuses_angle_brackets() -> None:
    report = check_variant("\u65e5" * 1667 + " <3", EMPTY, "youtube", MODERATE)

    assert report.length == 1667 * 3 + 3
    assert rows(report) == [
        ("length.youtube_description", "error", (1666, 1670), "\u65e5 <3", True),
        ("characters.youtube_description", "error", (1668, 1669), "<", True),
    ]


def test_email_subject_over_50_characters_gets_a_suggestion_only() -> None:
    report = check_variant("Your order is on its way and arrives soon, " * 2, EMPTY,
                           "email", STRICT)  # fmt: skip

    assert [r[:3] for r in rows(report)] == [
        ("recommended_length.email", "suggestion", (50, 86))
    ]
    assert report.compliant
    assert (report.length_limit, report.length_recommended) == (0, 50)


def test_blog_has_no_length_limit() -> None:
    assert rows(check_variant("Plain words here. " * 2000, EMPTY, "blog", STRICT)) == []


# -- occurrence --


def test_instagram_caps_hashtags_at_five_by_default() -> None:
    text = "New drop " + " ".join(f"#tag{i}" for i in range(7))

    report = check_variant(text, EMPTY, "instagram", MODERATE)

    assert [r[:4] for r in rows(report)] == [
        ("hashtags.max", "warning", (39, 44), "#tag5"),
        ("hashtags.max", "warning", (45, 50), "#tag6"),
    ]


def test_anchors_in_links_and_numbers_are_not_hashtags() -> None:
    guide = pb.BrandGuide(hashtags_forbidden=True)
    text = "See example.com/#faq, issue #42, C# and #Launch"

    assert [r[:4] for r in rows(check_variant(text, guide, "x", MODERATE))] == [
        ("hashtags.forbidden", "warning", (40, 47), "#Launch"),
    ]


def test_threads_accepts_five_links_and_blocks_the_sixth() -> None:
    text = " ".join(f"https://example.com/{i}" for i in range(6))

    report = check_variant(text, EMPTY, "threads", MODERATE)

    assert [r[:3] for r in rows(report)] == [("links.max", "error", (110, 131))]


def test_emoji_policy_ignores_copyright_signs_and_counts_sequences_once() -> None:
    guide = pb.BrandGuide(emoji=pb.Policy(forbidden=True))
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    text = f"\u00a9 2024 Brand\u2122 {family} \U0001f1fa\U0001f1f8"

    assert [r[:4] for r in rows(check_variant(text, guide, "x", MODERATE))] == [
        ("emoji.forbidden", "warning", (14, 19), family),
        ("emoji.forbidden", "warning", (20, 22), "\U0001f1fa\U0001f1f8"),
    ]


def test_emoji_runs_separated_by_spaces_count_as_consecutive() -> None:
    guide = pb.BrandGuide(emoji=pb.Policy(max_consecutive=2))
    text = f"Hi {SMILE} {SMILE}{SMILE} ok {SMILE}"

    assert [r[:4] for r in rows(check_variant(text, guide, "x", MODERATE))] == [
        ("emoji.consecutive", "warning", (3, 7), f"{SMILE} {SMILE}{SMILE}"),
    ]


def test_exclamation_marks_over_the_maximum_are_flagged_in_order() -> None:
    guide = pb.BrandGuide(exclamation=pb.Policy(max_count=1))

    assert [r[:3] for r in rows(check_variant("A! B! C\uff01", guide, "x", LOOSE))] == [
        ("exclamation.max", "warning", (4, 5)),
        ("exclamation.max", "warning", (7, 8)),
    ]


# -- required terms and keywords --


def test_missing_required_terms_and_keywords_are_errors_without_a_span() -> None:
    guide = pb.BrandGuide(required_terms=["free trial", "terms apply"])

    report = check_variant(
        "Start your free trials today.", guide, "x", MODERATE,
        keywords=["Spring Sale", "free trial", " "],
    )  # fmt: skip

    assert rows(report) == [
        ("keyword.spring-sale", "error", None, "", True),
        ("required.terms-apply", "error", None, "", True),
    ]
    assert report.violations[0].message == 'The keyword "Spring Sale" is missing.'


# -- adherence --


def _mixed() -> tuple[pb.BrandGuide, str]:
    guide = pb.BrandGuide(
        banned_terms=[pb.BannedTerm(term="synergy")],
        preferred_terms=[pb.PreferredTerm(use="email", instead_of=["e-mail"])],
    )
    return guide, "Synergy by e-mail."


def test_strict_blocks_on_warnings_and_moderate_only_on_errors() -> None:
    guide, text = _mixed()
    warning_only = "Write by e-mail."

    assert not check_variant(warning_only, guide, "x", STRICT).compliant
    assert check_variant(warning_only, guide, "x", MODERATE).compliant
    assert not check_variant(text, guide, "x", MODERATE).compliant


def test_loose_reports_everything_and_blocks_nothing() -> None:
    guide, text = _mixed()

    report = check_variant(text, guide, "x", LOOSE)

    assert report.compliant
    assert [(r[0], r[1], r[4]) for r in rows(report)] == [
        ("banned.synergy", "error", False),
        ("preferred.email", "warning", False),
    ]


def test_unspecified_adherence_behaves_as_moderate() -> None:
    guide, text = _mixed()

    report = check_variant(text, guide, "x", pb.ADHERENCE_LEVEL_UNSPECIFIED)

    assert report.adherence == MODERATE
    assert not report.compliant


def test_custom_overrides_change_severity_or_disable_by_id_or_family() -> None:
    guide, text = _mixed()
    guide.rule_overrides.add(rule_id="banned.synergy", severity=pb.SEVERITY_WARNING)
    guide.rule_overrides.add(rule_id="preferred.*", disabled=True)

    custom = check_variant(text, guide, "x", CUSTOM)
    strict = check_variant(text, guide, "x", STRICT)

    assert rows(custom) == [("banned.synergy", "warning", (0, 7), "Synergy", False)]
    assert custom.compliant
    assert len(strict.violations) == 2  # overrides apply only under CUSTOM


def test_an_exact_rule_override_wins_over_its_family() -> None:
    guide, text = _mixed()
    guide.rule_overrides.add(rule_id="banned.*", disabled=True)
    guide.rule_overrides.add(rule_id="banned.synergy", severity=pb.SEVERITY_ERROR)

    report = check_variant(text, guide, "x", CUSTOM)

    assert rows(report)[0] == ("banned.synergy", "error", (0, 7), "Synergy", True)


def test_a_banned_terms_own_severity_applies_at_every_level() -> None:
    guide = pb.BrandGuide(
        banned_terms=[pb.BannedTerm(term="cheap", severity=pb.SEVERITY_SUGGESTION)]
    )

    report = check_variant("cheap flights", guide, "x", STRICT)

    assert rows(report) == [("banned.cheap", "suggestion", (0, 5), "cheap", False)]
    assert report.compliant
