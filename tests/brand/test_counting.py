"""Lengths in each platform's own unit, checked against references."""

from __future__ import annotations

import random

import pytest

from generation_service.brand import counting
from tests.brand import twitter_reference

WOMAN_TECHNOLOGIST = "\U0001f469\u200d\U0001f4bb"
THUMBS_UP = "\U0001f44d"
MEDIUM_SKIN_THUMBS_UP = "\U0001f44d\U0001f3fd"
US_FLAG = "\U0001f1fa\U0001f1f8"
KEYCAP_ONE = "1\ufe0f\u20e3"
SMILE = "\U0001f60a"
FULL_WIDTH_SALE = "\uff33\uff41\uff4c\uff45"
HALF_WIDTH_KATAKANA = "\uff76\uff80\uff76\uff85"
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"


# -- the table in the research notes, section 2.1 --


@pytest.mark.parametrize(
    ("text", "graphemes", "codepoints", "utf16", "utf8"),
    [
        ("café", 4, 4, 4, 5),
        ("cafe\u0301", 4, 5, 5, 6),
        (THUMBS_UP, 1, 1, 2, 4),
        (MEDIUM_SKIN_THUMBS_UP, 1, 2, 4, 8),
        (WOMAN_TECHNOLOGIST, 1, 3, 5, 11),
        (US_FLAG, 1, 2, 4, 8),
        (KEYCAP_ONE, 1, 3, 3, 7),
        ("日本語", 3, 3, 3, 9),
    ],
)
def test_plain_units_match_the_measured_table(
    text: str, graphemes: int, codepoints: int, utf16: int, utf8: int
) -> None:
    assert counting.graphemes(text) == graphemes
    assert counting.codepoints(text) == codepoints
    assert counting.utf16_units(text) == utf16
    assert counting.utf8_bytes(text) == utf8


# -- X weighted length --


def test_x_counts_140_smiles_as_280_and_141_as_282() -> None:
    assert counting.x_weighted(SMILE * 140) == 280
    assert counting.x_weighted(SMILE * 141) == 282


@pytest.mark.parametrize(
    ("text", "weighted"),
    [
        (f"{WOMAN_TECHNOLOGIST} ship it", 10),
        ("日本語のテキスト", 16),
        ("é" * 280, 280),
        (THUMBS_UP * 141, 282),
        (FAMILY, 2),
        (US_FLAG + KEYCAP_ONE + MEDIUM_SKIN_THUMBS_UP, 6),
        ("See https://example.com/" + "a" * 60, 4 + 23),
        ("Visit example.com today", 6 + 23 + 6),
        ("Read https://t.co/abc and www.example.co.uk/page.", 5 + 23 + 5 + 23 + 1),
        # General punctuation in the light ranges: curly quotes, dashes.
        ("\u201cquote\u201d \u2014 it\u2019s", 14),
        # The euro sign is outside them.
        ("5\u20ac", 3),
    ],
)
def test_x_weighted_length_of_known_texts(text: str, weighted: int) -> None:
    assert counting.x_weighted(text) == weighted


def test_x_normalises_to_nfc_before_counting() -> None:
    decomposed = "e\u0301" * 280

    assert len(decomposed) == 560
    assert counting.x_weighted(decomposed) == 280


def test_x_weights_every_reference_emoji_sequence_like_twitter_text() -> None:
    parse_tweet = twitter_reference.parse_tweet()
    sequences = twitter_reference.emoji_test_sequences()
    assert len(sequences) > 3000

    differing = [
        s for s in sequences if counting.x_weighted(s) != parse_tweet(s).weightedLength
    ]
    assert differing == []


_PIECES = [
    "hello", "world", " ", " ", "\n", ".", "!", "café", "e\u0301", "日本", "テキスト",
    "한국어", "русский", "\u2014", "\u201c", "\u2026", "\u20ac", "©", "™",
    SMILE, THUMBS_UP, MEDIUM_SKIN_THUMBS_UP, WOMAN_TECHNOLOGIST, US_FLAG,
    KEYCAP_ONE, FAMILY, "\u2764\ufe0f", "https://example.com/path?q=1",
    "example.org", "http://t.co/xyz", "#launch", "@brand", FULL_WIDTH_SALE,
]  # fmt: skip


def test_x_weights_random_mixed_texts_like_twitter_text() -> None:
    """Words, scripts, emoji and links in random order, separated by spaces.

    (Non-ASCII letters glued to a bare domain are a known difference.)
    """
    parse_tweet = twitter_reference.parse_tweet()
    rng = random.Random(18)  # noqa: S311 - a reproducible sample, not a secret
    texts = [
        " ".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 40)))
        for _ in range(400)
    ]

    differing = [
        (t, counting.x_weighted(t), parse_tweet(t).weightedLength)
        for t in texts
        if counting.x_weighted(t) != parse_tweet(t).weightedLength
    ]
    assert differing == []


def test_x_overflow_starts_at_a_grapheme_boundary() -> None:
    text = "a" * 279 + WOMAN_TECHNOLOGIST

    assert counting.x_weighted(text) == 281
    assert counting.overflow_start(text, "x_weighted", 280) == 279


def test_overflow_start_is_the_text_length_when_it_fits() -> None:
    assert counting.overflow_start("short", "x_weighted", 280) == 5


# -- SMS --


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "gsm7", 0, 0),
        ("a" * 160, "gsm7", 160, 1),
        ("a" * 161, "gsm7", 161, 2),
        ("a" * 306, "gsm7", 306, 2),
        ("a" * 307, "gsm7", 307, 3),
        ("Price: 5€ [today]", "gsm7", 20, 1),
        ("a" * 159 + "€", "gsm7", 161, 2),
        (f"Thanks {THUMBS_UP}", "ucs2", 9, 1),
        ("a" * 150 + "ï", "ucs2", 151, 3),
        ("日" * 70, "ucs2", 70, 1),
        ("日" * 71, "ucs2", 71, 2),
        ("\u201cquoted\u201d", "ucs2", 8, 1),
    ],
)
def test_sms_encoding_units_and_segments(
    text: str, encoding: str, units: int, segments: int
) -> None:
    assert counting.sms(text) == counting.SmsLength(encoding, units, segments)


def test_sms_segments_never_split_an_escape_pair() -> None:
    # 152 septets, then a 2-septet euro: it cannot straddle the 153 boundary.
    text = "a" * 152 + "€" + "a" * 10

    assert counting.sms(text).units == 164
    assert counting.sms(text).segments == 2
    assert counting.sms("a" * 152 + "€" + "a" * 152).segments == 3


def test_sms_segments_never_split_a_surrogate_pair() -> None:
    # 66 units, then a 2-unit emoji that does not fit the 67-unit segment:
    # it opens the second one, and 66 more units spill into a third.
    text = "日" * 66 + THUMBS_UP + "日" * 66

    assert counting.sms(text).units == 134
    assert counting.sms(text).segments == 3
    assert counting.sms("日" * 67 + "日" * 67).segments == 2


def test_gsm_septets_match_the_gsm0338_codec() -> None:
    gsm0338 = pytest.importorskip("gsm0338")
    assert gsm0338
    alphabet = [chr(c) for c in range(0x20, 0x3A0)] + ["€", "\n", "\f"]
    for char in alphabet:
        try:
            reference = len(char.encode("gsm03.38"))
        except UnicodeEncodeError:
            assert counting.sms_encoding(char) == "ucs2", char
            continue
        assert counting.sms_encoding(char) == "gsm7", char
        assert counting.sms(char).units == reference, char


# -- double width, bytes, Threads emoji bytes --


@pytest.mark.parametrize(
    ("text", "width"),
    [
        ("Sale", 4),
        ("日本語", 6),
        (FULL_WIDTH_SALE, 8),
        (HALF_WIDTH_KATAKANA, 4),
        ("한국", 4),
        # Per code point: an emoji is wide, a combining mark is not.
        (THUMBS_UP, 2),
        ("e\u0301", 2),
    ],
)
def test_double_width_counts_wide_and_full_width_characters_twice(
    text: str, width: int
) -> None:
    assert counting.double_width(text) == width


def test_threads_counts_emoji_by_their_utf8_bytes() -> None:
    assert counting.emoji_utf8(f"hi {THUMBS_UP}") == 3 + 4
    assert counting.emoji_utf8(WOMAN_TECHNOLOGIST) == 11
    assert counting.emoji_utf8("日本") == 2


# -- lengths of a growing text --


@pytest.mark.parametrize("unit", sorted(counting.UNITS))
def test_a_running_length_equals_the_length_of_the_whole_text(unit: str) -> None:
    rng = random.Random(unit)  # noqa: S311 - reproducible texts, not secrets
    pieces = ["a", "\u00ef", "\u20ac", "[", SMILE, WOMAN_TECHNOLOGIST, US_FLAG,
              "\u65e5", "e\u0301", "https://example.com/p", " ", " ", "\n"]  # fmt: skip
    for _ in range(100):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 120)))
        splits = [i for i, c in enumerate(text) if c.isspace() and rng.random() < 0.5]
        meter = counting.RunningLength(unit)

        totals = [meter.add(text[a:b]) for a, b in
                  zip([0, *splits], [*splits, len(text)], strict=True)]  # fmt: skip

        assert totals[-1] == counting.measure(text, unit), text
