"""Length of a text in each platform's own counting unit.

Units:

``x_weighted``
    X's weighted length: the text is NFC-normalised; every link counts 23,
    every emoji sequence 2, code points in the light ranges (U+0000-U+10FF,
    U+2000-U+200D, U+2010-U+201F, U+2032-U+2037) 1, everything else 2.
``graphemes``
    Extended grapheme clusters (what a reader calls a character).
``codepoints`` / ``utf16_units`` / ``utf8_bytes``
    The encodings' own units.
``emoji_utf8``
    Code points, except that an emoji sequence counts its UTF-8 bytes
    (Threads documents emoji this way).
``double_width``
    Code points, wide and full-width ones (CJK) counting 2 (Google Ads).
``sms_segments``
    SMS segments: GSM-7 septets (extension characters cost 2) in segments of
    160, or 153 when concatenated; any character outside GSM-7 switches the
    whole message to UCS-2, 70 or 67 UTF-16 units per segment.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import regex

from . import _text

X_URL_WEIGHT = 23
X_EMOJI_WEIGHT = 2
_X_LIGHT_RANGES = (
    (0x0000, 0x10FF),
    (0x2000, 0x200D),
    (0x2010, 0x201F),
    (0x2032, 0x2037),
)

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Each of these is sent as an escape plus a septet.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
_GSM7 = GSM7_BASIC | GSM7_EXTENSION

SMS_SINGLE = {"gsm7": 160, "ucs2": 70}
SMS_MULTI = {"gsm7": 153, "ucs2": 67}


# Code points outside the light ranges weigh 2.
_X_HEAVY = regex.compile(
    "[^" + "".join(rf"\u{low:04x}-\u{high:04x}" for low, high in _X_LIGHT_RANGES) + "]"
)


def _x_plain_weight(text: str) -> int:
    return len(text) + len(_X_HEAVY.findall(text))


def x_weighted(text: str) -> int:
    text = unicodedata.normalize("NFC", text)
    total = _x_plain_weight(text)

    # Links first, then emoji outside links: each entity replaces the
    # weights of its code points with a single weight.
    links = _text.urls(text)
    entities = [(url, X_URL_WEIGHT) for url in links]
    for seq in _text.emoji_sequences(text):
        if not any(u.start < seq.end and seq.start < u.end for u in links):
            entities.append((seq, X_EMOJI_WEIGHT))
    for piece, weight in entities:
        total += weight - _x_plain_weight(piece.text)
    return total


def graphemes(text: str) -> int:
    return len(_text.graphemes(text))


def codepoints(text: str) -> int:
    return len(text)


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def utf8_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def emoji_utf8(text: str) -> int:
    total = len(text)
    for seq in _text.emoji_sequences(text):
        total += utf8_bytes(seq.text) - len(seq.text)
    return total


def _width(char: str) -> int:
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def double_width(text: str) -> int:
    return sum(_width(c) for c in text)


@dataclass(frozen=True, slots=True)
class SmsLength:
    encoding: str  # "gsm7" or "ucs2"
    units: int  # septets or UTF-16 units
    segments: int


def sms_encoding(text: str) -> str:
    return "gsm7" if all(c in _GSM7 for c in text) else "ucs2"


def _sms_unit_costs(text: str, encoding: str) -> list[int]:
    if encoding == "gsm7":
        return [2 if c in GSM7_EXTENSION else 1 for c in text]
    return [utf16_units(c) for c in text]


def sms(text: str, encoding: str | None = None) -> SmsLength:
    """Encoding, units and segments; ``encoding`` forces one (for prefixes)."""
    encoding = encoding or sms_encoding(text)
    costs = _sms_unit_costs(text, encoding)
    units = sum(costs)
    if units == 0:
        return SmsLength(encoding, 0, 0)
    if units <= SMS_SINGLE[encoding]:
        return SmsLength(encoding, units, 1)

    # Concatenated parts never split an escape pair or a surrogate pair, so
    # fill segments character by character rather than dividing.
    per_segment = SMS_MULTI[encoding]
    segments, used = 1, 0
    for cost in costs:
        if used + cost > per_segment:
            segments, used = segments + 1, 0
        used += cost
    return SmsLength(encoding, units, segments)


def sms_segments(text: str) -> int:
    return sms(text).segments


UNITS: dict[str, Callable[[str], int]] = {
    "x_weighted": x_weighted,
    "graphemes": graphemes,
    "codepoints": codepoints,
    "utf16_units": utf16_units,
    "utf8_bytes": utf8_bytes,
    "emoji_utf8": emoji_utf8,
    "double_width": double_width,
    "sms_segments": sms_segments,
}


def measure(text: str, unit: str) -> int:
    return UNITS[unit](text)


class _SegmentFill:
    """SMS segments of one encoding, filled character by character."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self.units = 0
        self._segments, self._used = 1, 0

    def add(self, cost: int) -> None:
        self.units += cost
        if self._used + cost > SMS_MULTI[self.encoding]:
            self._segments, self._used = self._segments + 1, 0
        self._used += cost

    @property
    def segments(self) -> int:
        if self.units == 0:
            return 0
        return 1 if self.units <= SMS_SINGLE[self.encoding] else self._segments


class RunningLength:
    """The length of a growing text, given piece by piece.

    Each piece after the first must start with whitespace or an ideographic
    full stop or comma: no link, emoji sequence or grapheme cluster spans
    such a split, and NFC never composes across it, so every unit is the
    sum of its pieces. SMS segments depend
    on the whole text's encoding; both encodings are filled as text arrives.
    """

    def __init__(self, unit: str) -> None:
        self._unit = unit
        self._total = 0
        self._gsm7: _SegmentFill | None = _SegmentFill("gsm7")
        self._ucs2 = _SegmentFill("ucs2")

    def add(self, piece: str) -> int:
        """The length so far, ``piece`` included."""
        if self._unit != "sms_segments":
            self._total += measure(piece, self._unit)
            return self._total

        for char in piece:
            self._ucs2.add(utf16_units(char))
            if self._gsm7 is not None and char not in _GSM7:
                self._gsm7 = None
            if self._gsm7 is not None:
                self._gsm7.add(2 if char in GSM7_EXTENSION else 1)
        return (self._gsm7 or self._ucs2).segments


def overflow_start(text: str, unit: str, limit: int) -> int:
    """First code point offset at which ``text`` no longer fits ``limit``.

    Found on grapheme boundaries, so the span never starts inside a cluster.
    Returns ``len(text)`` when the text fits.
    """
    if measure(text, unit) <= limit:
        return len(text)

    # A prefix is measured as part of the whole text: in the whole text's SMS
    # encoding, and with X links kept whole (a link is cut before, not in).
    size: Callable[[str], int] = UNITS[unit]
    if unit == "sms_segments":
        encoding = sms_encoding(text)
        size = lambda prefix: sms(prefix, encoding).segments  # noqa: E731

    # The longest grapheme prefix that still fits; lengths grow with prefixes.
    bounds = _text.grapheme_bounds(text)
    low, high = 0, len(bounds) - 1
    while low < high:
        middle = (low + high + 1) // 2
        if size(text[: bounds[middle]]) <= limit:
            low = middle
        else:
            high = middle - 1
    offset = bounds[low]

    if unit == "x_weighted":
        for url in _text.urls(text):
            if url.start < offset < url.end:
                offset = url.start
    return offset
