"""Find the pieces of a variant that platforms and rules count on their own.

Every function returns half-open spans in code points of the text it is given,
which is the span unit of :class:`brand_pb2.Span`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

import emoji
import regex

from .spans import SpanIndex, Spanned

VS16 = "\ufe0f"

# Code points the emoji data lists but that read as typography when written
# without VS16: (c), (r), TM, arrows, double exclamation.
_TYPOGRAPHIC_LIMIT = 0x2300

# \uff03 is the full-width number sign; \u2018-\u201d are curly quotes.
_HASHTAG = regex.compile(r"(?<![\w&/#\uff03])[#\uff03](\w*\p{L}\w*)")
_WORD = regex.compile(r"[\p{L}\p{N}]+(?:['\u2019][\p{L}]+)*")
_SENTENCE_END = regex.compile(r"[.!?…]+[\"'\u201d\u2019)\]]*(?:\s+|$)|\n\s*\n")
_OPENERS = " \t\"'\u201c\u2018("


@dataclass(frozen=True, slots=True)
class Piece:
    start: int
    end: int
    text: str


# Link syntax follows X's own extractor closely enough that X's weighted
# count agrees: Latin (accented too) and Cyrillic letters may appear in a
# path, CJK and emoji end a link, and a link never ends in punctuation.
#
# TODO(IDN hosts): X also takes non-ASCII letters glued to a bare domain
# ("caféexample.org") into the link; here the link starts at the ASCII part,
# which weighs the glued letters on their own.
_LETTERS = (
    r"a-z0-9\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u0300-\u036f"
    r"\u0400-\u04ff\u1e00-\u1eff"
)
_PATH_CHARS = rf"[{_LETTERS}!*';:=+,.$/%#\[\]\-_~&|@()]"
_QUERY_CHARS = r"[a-z0-9!?*'();:&=+$/%#\[\]\-_.,~|@]"
_PATH_END = rf"[{_LETTERS}=_#/\-+&)]"
_NOT_BEFORE_LINK = r"(?<![a-z0-9@$#\uff20\uff03])"


@cache
def _url_pattern() -> regex.Pattern[str]:
    lines = resources.files(__package__).joinpath("tlds.txt").read_text("utf-8")
    tlds = sorted(
        (t.strip() for t in lines.splitlines() if t and not t.startswith("#")),
        key=len,
        reverse=True,
    )
    label = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
    unicode_label = r"[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?"
    rest = rf"(?::\d{{1,5}})?(?:/{_PATH_CHARS}*)?(?:\?{_QUERY_CHARS}*)?"
    scheme = (
        rf"{_NOT_BEFORE_LINK}https?://(?:{unicode_label}\.)+[a-z]{{2,63}}"
        rf"(?![a-z0-9-]){rest}"
    )
    bare = (
        rf"{_NOT_BEFORE_LINK}(?<![-_./])(?:{label}\.)+(?:{'|'.join(tlds)})"
        rf"(?![a-z0-9@+-]){rest}"
    )
    return regex.compile(f"{scheme}|{bare}", regex.IGNORECASE)


_ENDS_WELL = regex.compile(_PATH_END + "$", regex.IGNORECASE)


def _trim_url(url: str) -> str:
    # A sentence ends after a link more often than a link ends in a period;
    # keep a closing parenthesis only when the link opened one.
    after_scheme = url.find("//") + 2 if "//" in url else 0
    path = regex.search(r"[/?#]", url[after_scheme:])
    if path is None:
        return url
    host_end = after_scheme + path.start()
    while len(url) > host_end and not _ENDS_WELL.search(url):
        url = url[:-1]
    while url.endswith(")") and url.count("(") < url.count(")"):
        url = url[:-1]
    return _TCO.sub(r"\1", url)


# X's own short links end where their slug does: "t.co/abc!more" -> "t.co/abc".
_TCO = regex.compile(r"^(https?://t\.co/[a-z0-9]+).*$", regex.IGNORECASE | regex.DOTALL)


# One check looks for links and emoji in the same text several times
# (length, occurrence rules, readability); the last few answers are kept.
_RECENT_TEXTS = 16


def urls(text: str) -> list[Piece]:
    return list(_urls(text))


@lru_cache(maxsize=_RECENT_TEXTS)
def _urls(text: str) -> tuple[Piece, ...]:
    found = []
    for start, word in _words_around(text, _DOT):
        for match in _url_pattern().finditer(word):
            url = _trim_url(match.group())
            at = start + match.start()
            found.append(Piece(at, at + len(url), url))
    return tuple(found)


# Links and emoji sequences hold no whitespace, and every link holds a dot
# and every emoji sequence a code point above U+00A8. Only the words around
# those go through the (slow) link pattern and emoji tokenizer, which is the
# same as running them on the whole text: whitespace on either side of a
# word passes every look-around they use.
_DOT = regex.compile(r"[.\uff0e]")
_NOT_LATIN1 = regex.compile(r"[^\x00-\xa8]")


def _words_around(text: str, hit: regex.Pattern[str]) -> list[tuple[int, str]]:
    words: list[tuple[int, str]] = []
    end = 0
    for match in hit.finditer(text):
        if match.start() < end:
            continue
        start = match.start()
        while start > end and not text[start - 1].isspace():
            start -= 1
        end = match.end()
        while end < len(text) and not text[end].isspace():
            end += 1
        words.append((start, text[start:end]))
    return words


def emoji_sequences(text: str) -> list[Piece]:
    """Every emoji sequence (ZWJ, flags, keycaps, skin tones count as one)."""
    return list(_emoji_sequences(text))


@lru_cache(maxsize=_RECENT_TEXTS)
def _emoji_sequences(text: str) -> tuple[Piece, ...]:
    found = []
    for start, word in _words_around(text, _NOT_LATIN1):
        found += [
            Piece(start + item["match_start"], start + item["match_end"], item["emoji"])
            for item in emoji.emoji_list(word)
        ]
    return tuple(found)


def is_pictographic(sequence: str) -> bool:
    """Whether an emoji sequence reads as an emoji rather than a symbol.

    A lone (c), (r) or arrow without VS16 is typography that brand emoji
    policies should not count; X still weighs it as an emoji.
    """
    if len(sequence) > 1:
        return True
    code = ord(sequence)
    return code >= _TYPOGRAPHIC_LIMIT or unicodedata.east_asian_width(sequence) == "W"


def pictographs(text: str) -> list[Piece]:
    return [p for p in emoji_sequences(text) if is_pictographic(p.text)]


def hashtags(text: str, skip: Sequence[Spanned] = ()) -> list[Piece]:
    """Hashtags outside links (``example.com/#top`` is no hashtag)."""
    skipped = SpanIndex(skip)
    return [
        Piece(m.start(), m.end(), m.group())
        for m in _HASHTAG.finditer(text)
        if not skipped.holds(m.start())
    ]


def graphemes(text: str) -> list[str]:
    return regex.findall(r"\X", text)


def grapheme_bounds(text: str) -> list[int]:
    """Code point offsets where a grapheme cluster starts, plus len(text)."""
    bounds = [m.start() for m in regex.finditer(r"\X", text)]
    bounds.append(len(text))
    return bounds


def words(text: str) -> list[Piece]:
    return [Piece(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]


def sentences(text: str) -> list[Piece]:
    """Sentences split on terminal punctuation and blank lines."""
    found, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        if match.end() > start:
            found.append(_stripped(text, start, match.end()))
        start = match.end()
    if start < len(text):
        found.append(_stripped(text, start, len(text)))
    return [s for s in found if s.text]


def _stripped(text: str, start: int, end: int) -> Piece:
    chunk = text[start:end]
    lead = len(chunk) - len(chunk.lstrip())
    body = chunk.strip()
    return Piece(start + lead, start + lead + len(body), body)


def is_sentence_start(text: str, position: int) -> bool:
    # Walk back over openers only: a slice of everything before would make
    # many calls on a long text quadratic.
    i = position - 1
    while i >= 0 and text[i] in _OPENERS:
        i -= 1
    return i < 0 or text[i] in ".!?…\n"
