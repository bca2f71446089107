"""Streaming checks report banned terms and overflow as the text arrives."""

from __future__ import annotations

import random
import time

from byok.generation.v1 import brand_pb2 as pb

from generation_service.brand import StreamingChecker
from tests.brand import guides
from tests.brand.reports import CUSTOM, LOOSE, MODERATE, STRICT

SMILE = "\U0001f60a"


def _chunks(text: str, seed: int) -> list[str]:
    rng = random.Random(seed)  # noqa: S311 - a reproducible split, not a secret
    chunks, i = [], 0
    while i < len(text):
        size = rng.randint(1, 6)
        chunks.append(text[i : i + size])
        i += size
    return chunks


def _spans(violations: list[pb.Violation]) -> list[tuple[str, int, int]]:
    return [(v.rule_id, v.span.start, v.span.end) for v in violations]


def test_a_banned_term_is_reported_before_the_text_ends() -> None:
    checker = StreamingChecker(guides.mailchimp(), "x", STRICT)
    text = "We leverage data. " + "Then we write plain words for people. " * 3

    first_report_at = None
    for i, chunk in enumerate(_chunks(text, 1)):
        if checker.feed(chunk) and first_report_at is None:
            first_report_at = i

    assert first_report_at is not None
    assert len("".join(_chunks(text, 1)[: first_report_at + 1])) < 40
    assert checker.blocked


def test_streamed_banned_terms_match_the_final_report_for_any_split() -> None:
    guide = guides.mailchimp()
    text = (
        "Thought leaders leverage funnels. A thought leader is no ninja; "
        "Mailchimp\u00ae wizards and crazy rockstars leveraging disruption."
    )

    for seed in range(20):
        checker = StreamingChecker(guide, "linkedin", MODERATE)
        streamed = []
        for chunk in _chunks(text + " ", seed):
            streamed += checker.feed(chunk)
        streamed += checker.feed(" " * 20)
        final = checker.finish()

        expected = [v for v in final.violations if v.rule_id.startswith("banned.")]
        assert _spans(streamed) == _spans(expected), seed


def test_x_overflow_is_reported_once_when_it_happens() -> None:
    checker = StreamingChecker(pb.BrandGuide(), "x", STRICT)
    text = (SMILE * 10 + " ") * 14 + "tail"  # 21 per group: 294 before "tail"

    reports = [(i, v) for i, c in enumerate(_chunks(text, 3)) for v in checker.feed(c)]

    assert len(reports) == 1
    assert reports[0][1].rule_id == "length.x"
    assert reports[0][1].blocking
    assert checker.finish().length == 14 * 21 + 4


def test_a_link_being_typed_does_not_trigger_a_false_overflow() -> None:
    checker = StreamingChecker(pb.BrandGuide(), "x", STRICT)
    text = "a" * 250 + " https://example.com/" + "p" * 100

    violations = [v for c in _chunks(text, 4) for v in checker.feed(c)]

    assert violations == []
    assert checker.finish().compliant


def test_loose_streaming_reports_but_never_blocks() -> None:
    checker = StreamingChecker(guides.govuk(), "x", LOOSE)

    violations = checker.feed("We will leverage this and go on talking for a while.")

    assert [v.rule_id for v in violations] == ["banned.leverage"]
    assert not violations[0].blocking
    assert not checker.blocked


def test_rules_disabled_by_custom_overrides_are_not_streamed() -> None:
    guide = guides.govuk()
    guide.rule_overrides.add(rule_id="banned.leverage", disabled=True)
    checker = StreamingChecker(guide, "x", CUSTOM)

    assert checker.feed("We will leverage this and go on talking for a while.") == []


def test_banned_terms_deep_in_a_long_stream_are_found_at_their_offsets() -> None:
    guide = guides.govuk()
    filler = "You can apply for a grant if you run a small farm near a river. "
    text = filler * 150 + "We leverage it. " + filler * 150 + "Going forward, yes. "
    checker = StreamingChecker(guide, "blog", STRICT)

    streamed = [v for c in _chunks(text + " " * 20, 6) for v in checker.feed(c)]

    assert _spans(streamed) == [
        ("banned.leverage", 9603, 9611),
        ("banned.going-forward", 19216, 19229),
    ]
    assert _spans(streamed) == [
        s
        for s in _spans(list(checker.finish().violations))
        if s[0].startswith("banned.")
    ]


def test_sms_overflow_is_found_while_streaming_after_a_switch_to_ucs2() -> None:
    guide = pb.BrandGuide(
        platform_overrides=[pb.PlatformOverride(platform="sms", max_length=2)]
    )
    checker = StreamingChecker(guide, "sms", STRICT)
    text = "Hi \u00efr\u00e8ne, " + "your order ships today. " * 6

    reports = [v for c in _chunks(text, 8) for v in checker.feed(c)]

    # "\u00ef" is outside GSM-7: 154 UTF-16 units need three 67-unit segments.
    assert [v.rule_id for v in reports] == ["length.sms"]
    assert checker.finish().sms_segments == 3


def test_streaming_a_long_post_in_small_deltas_stays_linear() -> None:
    # An X Premium post: the weighted length is settled at every space.
    guide = guides.govuk()
    guide.platform_overrides.add(platform="x", max_length=25000)
    checker = StreamingChecker(guide, "x", STRICT)
    text = "You can apply for a grant if you run a small farm near a river. " * 380

    started = time.perf_counter()
    for chunk in _chunks(text, 5):
        checker.feed(chunk)
    elapsed = time.perf_counter() - started

    # 24,320 characters in about 7,000 deltas take about 0.1 s when each
    # delta costs its own size; measuring the whole text so far at every
    # space took over 5 s.
    assert elapsed < 2.0
    assert not checker.blocked
    assert checker.finish().length == len(text)


def test_text_without_spaces_settles_at_ideographic_punctuation() -> None:
    checker = StreamingChecker(pb.BrandGuide(), "x", STRICT)
    sentence = (
        "\u65b0\u3057\u3044\u5546\u54c1\u3092\u767a\u58f2\u3057\u307e\u3057\u305f\u3002"
    )
    text = sentence * 20  # 13 characters, 26 weighted, per sentence

    first_report_at = None
    for i, chunk in enumerate(_chunks(text, 7)):
        if checker.feed(chunk) and first_report_at is None:
            first_report_at = len("".join(_chunks(text, 7)[: i + 1]))

    # Before the eleventh full stop the text weighs 284: found right there,
    # not at the end of the stream.
    assert first_report_at is not None
    assert 10 * 13 < first_report_at <= 12 * 13
    assert checker.blocked
