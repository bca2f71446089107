"""The exact fix list a model gets when a variant must be rewritten.

One line per blocking problem, each an affirmative instruction with the
words to change quoted exactly as they stand ("Use "email" instead of
"e-mail"", "Remove the word "leverage"", "Shorten by at least 12 weighted
characters (...)", "Add the keyword "spring sale""). Problems that do not
block are left out: a rewrite is asked to fix what must be fixed and change
nothing else. Quoted text is flattened to one line, like every tenant string
in a prompt.
"""

from __future__ import annotations

from collections.abc import Callable

from byok.generation.v1 import brand_pb2

from .policies import LengthPolicy, effective_policy
from .prompt import clean_field, quote_list
from .rule_ids import family_of

Line = Callable[[brand_pb2.Violation, LengthPolicy], str]


def _units(count: int, name: str) -> str:
    return f"{count} {name.removesuffix('s') if count == 1 else name}"


def _remove(v: brand_pb2.Violation, _: LengthPolicy) -> str:
    kind = "phrase" if len(v.matched_text.split()) > 1 else "word"
    hint = clean_field(v.suggestion).rstrip(".")
    return f'Remove the {kind} "{clean_field(v.matched_text)}"' + (
        f" ({hint})." if hint else "."
    )


def _replace(v: brand_pb2.Violation, _: LengthPolicy) -> str:
    return (
        f'Use "{clean_field(v.suggestion)}" instead of "{clean_field(v.matched_text)}".'
    )


def _doubled(v: brand_pb2.Violation, _: LengthPolicy) -> str:
    return f'Remove the repeated word in "{clean_field(v.matched_text)}".'


def _add(what: str) -> Line:
    return lambda v, _: f'Add the {what} "{clean_field(v.suggestion)}".'


def _condition(v: brand_pb2.Violation, _: LengthPolicy) -> str:
    needed, found = clean_field(v.suggestion), clean_field(v.matched_text)
    return f'Add "{needed}": the text says "{found}".'


def _shorten(v: brand_pb2.Violation, policy: LengthPolicy) -> str:
    unit = policy.unit
    if unit.id == "sms_segments":
        # Segments are not something a writer can count; characters are.
        cut = v.span.end - v.span.start
        return (
            f"Shorten by at least {_units(cut, 'characters')} so that the SMS "
            f"fits {_units(policy.hard_limit, 'segments')} ({unit.explain})."
        )
    return f"{clean_field(v.suggestion).rstrip('.')} ({unit.explain}). {v.message}"


def _drop(v: brand_pb2.Violation, policy: LengthPolicy) -> str:
    # Runs ("!!") keep their first marks; a banned "!" becomes a full stop.
    if v.suggestion:
        return _replace(v, policy)
    return f'Remove "{clean_field(v.matched_text)}": {v.message}'


def _split(v: brand_pb2.Violation, _: LengthPolicy) -> str:
    return f'Split the sentence "{clean_field(v.matched_text)}": {v.message}'


def _claim(v: brand_pb2.Violation, _: LengthPolicy) -> str:
    return f'Remove or rephrase the claim in "{clean_field(v.matched_text)}".'


def _overused(v: brand_pb2.Violation, _: LengthPolicy) -> str:
    word = clean_field(v.matched_text.casefold())
    return f'Replace or drop some uses of "{word}": {v.message}'


def _with_hint(v: brand_pb2.Violation, _: LengthPolicy) -> str:
    return f"{v.message} {clean_field(v.suggestion)}".strip()


def _as_told(v: brand_pb2.Violation, _: LengthPolicy) -> str:
    return v.message


_LINES: dict[str, Line] = {
    "banned": _remove,
    "preferred": _replace,
    "casing": _replace,
    "consistency": _replace,
    "repetition": _doubled,
    "required": _add("required term"),
    "keyword": _add("keyword"),
    "conditional": _condition,
    "length": _shorten,
    "recommended_length": _shorten,
    "emoji": _drop,
    "exclamation": _drop,
    "hashtags": _drop,
    "links": _drop,
    "characters": _drop,
    "editorial": _drop,
    "sentences": _split,
    "claims": _claim,
    "overuse": _overused,
    "readability": _with_hint,
}


def rewrite_instructions(
    report: brand_pb2.ComplianceReport, guide: brand_pb2.BrandGuide, platform: str
) -> str:
    """What a model must change in the text ``report`` describes.

    Raises :class:`UnknownPlatformError` for an unknown platform.
    """
    policy = effective_policy(guide, platform)
    lines: list[str] = []
    for violation in report.violations:
        if not violation.blocking:
            continue
        line = _LINES.get(family_of(violation.rule_id), _as_told)(violation, policy)
        if line not in lines:
            lines.append(line)

    if any(v.blocking and v.rule_id.startswith("claims.") for v in report.violations):
        allowed = quote_list(guide.approved_claims)
        lines.append(
            f"The only claims you may make are: {allowed}."
            if allowed
            else "Make no claims: no figures, superlatives or guarantees."
        )
    if policy.hard_limit:
        limit = _units(policy.hard_limit, policy.unit.name)
        lines.append(f"Keep the whole text within {limit}.")
    return "\n".join(
        [
            "Rewrite the text to fix each of these problems and change nothing else:",
            *(f"- {line}" for line in lines),
            "Return only the rewritten text.",
        ]
    )
