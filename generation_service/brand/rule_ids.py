"""Stable rule ids and the default severity of each rule family.

A rule id is ``<family>.<name>``: ``banned.leverage``, ``length.x``,
``casing.mailchimp``. Names come from the guide's own terms through
:func:`slug`, so an id stays the same for as long as the term does, and a
tenant can override it (or a whole family, ``emoji.*``) under
``ADHERENCE_LEVEL_CUSTOM``.
"""

from __future__ import annotations

import regex
from byok.generation.v1 import brand_pb2

ERROR = brand_pb2.SEVERITY_ERROR
WARNING = brand_pb2.SEVERITY_WARNING
SUGGESTION = brand_pb2.SEVERITY_SUGGESTION

# family -> (rule_type, default severity)
FAMILIES: dict[str, tuple[str, brand_pb2.Severity.ValueType]] = {
    "banned": ("existence", ERROR),
    "required": ("required", ERROR),
    "keyword": ("required", ERROR),
    "preferred": ("substitution", WARNING),
    "casing": ("capitalization", WARNING),
    "emoji": ("occurrence", WARNING),
    "exclamation": ("occurrence", WARNING),
    "hashtags": ("occurrence", WARNING),
    "links": ("occurrence", ERROR),
    "characters": ("existence", ERROR),
    "length": ("length", ERROR),
    "recommended_length": ("length", SUGGESTION),
    "sentences": ("occurrence", WARNING),
    "readability": ("readability", SUGGESTION),
    "repetition": ("repetition", ERROR),
    "overuse": ("repetition", WARNING),
    "consistency": ("consistency", WARNING),
    # List detection is a heuristic, so by default it only suggests.
    "serial_comma": ("consistency", SUGGESTION),
    "conditional": ("conditional", WARNING),
    "acronym": ("conditional", WARNING),
    "claims": ("claim", WARNING),
    # A platform's own editorial policy: the ad is refused, not just worse.
    "editorial": ("existence", ERROR),
}

_SLUG_PART = regex.compile(r"[\p{L}\p{N}]+|[^\s\-'\u2019/.,_]")


def slug(term: str) -> str:
    """``Thought Leader`` -> ``thought-leader``, ``Brand®`` -> ``brand-uae``.

    Letters and digits are kept; spaces, hyphens, apostrophes, slashes, dots,
    commas and underscores separate words; any other character is spelled as
    its code point, so ``C++``, ``C#`` and ``C`` get different ids.
    """
    parts = _SLUG_PART.findall(term.casefold())
    return "-".join(p if p[0].isalnum() else f"u{ord(p):x}" for p in parts)


def family_of(rule_id: str) -> str:
    return rule_id.partition(".")[0]
