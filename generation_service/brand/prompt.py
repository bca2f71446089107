"""Turn a brand guide into the instructions a model writes under.

Templates live in ``templates/<content_type>.txt`` as ``string.Template``
text; this module fills their sections: the length in the platform's own
unit, the voice as "X, not Y" pairs, banned and preferred terms as
affirmative "write X, not Y" pairs (bare prohibitions are the weakest kind of
instruction), and the counting policies.

Guide strings are tenant input placed in a prompt, so each is flattened to
one line without control characters and shortened before use.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Sequence
from functools import cache
from importlib import resources

from byok.generation.v1 import brand_pb2, generation_pb2

from .compiled import compile_guide
from .count_rules import hashtag_cap
from .errors import UnknownContentTypeError
from .policies import LengthPolicy, effective_policy, platform_override

MAX_FIELD_CHARS = 200
DEFAULT_CONTENT_TYPE = "general"


@cache
def content_types() -> tuple[str, ...]:
    folder = resources.files(__package__).joinpath("templates")
    names = (p.name for p in folder.iterdir() if p.name.endswith(".txt"))
    return tuple(sorted(n.removesuffix(".txt") for n in names))


@cache
def _template(content_type: str) -> string.Template:
    folder = resources.files(__package__).joinpath("templates")
    return string.Template(folder.joinpath(f"{content_type}.txt").read_text("utf-8"))


def _content_type_name(content_type: str | int) -> str:
    if isinstance(content_type, int):
        if content_type == generation_pb2.CONTENT_TYPE_UNSPECIFIED:
            return DEFAULT_CONTENT_TYPE
        name = generation_pb2.ContentType.Name(content_type)  # type: ignore[arg-type]
        return name.removeprefix("CONTENT_TYPE_").lower()
    return content_type or DEFAULT_CONTENT_TYPE


def clean_field(value: str) -> str:
    # Line breaks and other control or format characters become spaces.
    spaced = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in value)
    flat = " ".join(spaced.split())
    return flat if len(flat) <= MAX_FIELD_CHARS else flat[: MAX_FIELD_CHARS - 1] + "…"


def quote_list(values: Sequence[str], last: str = "and") -> str:
    items = [f'"{clean_field(v)}"' for v in values if clean_field(v)]
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def render_brand_prompt(
    guide: brand_pb2.BrandGuide,
    platform: str,
    content_type: str | int,
    tone: str = "",
    keywords: Sequence[str] = (),
    audience: str = "",
) -> str:
    """The system instructions for one variant on one platform.

    ``content_type`` is a template name (``social_post``, ``ad_copy``,
    ``email``, ``blog_post``, ``product_description``, ``general``) or a
    ``ContentType`` value. Raises :class:`UnknownPlatformError` or
    :class:`UnknownContentTypeError`.
    """
    name = _content_type_name(content_type)
    if name not in content_types():
        raise UnknownContentTypeError(name, content_types())
    guide = compile_guide(guide).guide  # validates, once per guide
    policy = effective_policy(guide, platform)

    text = _template(name).substitute(
        platform_label=policy.label,
        length=_length_section(policy),
        voice=_voice_section(guide, tone, audience),
        words=_words_section(guide, keywords),
        style=_style_section(guide, policy),
    )
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def _length_section(policy: LengthPolicy) -> str:
    unit = policy.unit
    lines = ["Length:"]
    if policy.hard_limit:
        lines.append(
            f"- At most {policy.hard_limit} {unit.name}, {unit.explain}. "
            "Longer text is rejected."
        )
    else:
        lines.append("- No hard length limit.")
    if policy.recommended:
        lines.append(f"- Aim for {policy.recommended} {unit.name} or fewer.")
    if policy.fold:
        lines.append(
            f'- Only the first {policy.fold} characters show before "see more": '
            "put the point there."
        )
    if policy.max_links:
        lines.append(f"- At most {policy.max_links} links.")
    if policy.forbidden:
        lines.append(f"- Never use these characters: {' '.join(policy.forbidden)}")
    if policy.no_emoji:
        lines.append("- No emoji: the platform refuses them.")
    if policy.no_exclamation:
        lines.append("- No exclamation marks: the platform refuses them.")
    elif policy.max_exclamation:
        lines.append(f"- At most {policy.max_exclamation} exclamation mark.")
    return "\n".join(lines)


def _voice_section(guide: brand_pb2.BrandGuide, tone: str, audience: str) -> str:
    lines = []
    if guide.voice.descriptors:
        descriptors = ", ".join(clean_field(d) for d in guide.voice.descriptors)
        lines.append(f"- Sound {descriptors}.")
    for pair in guide.voice.pairs:
        is_, is_not = clean_field(getattr(pair, "is")), clean_field(pair.is_not)
        if is_ and is_not:
            lines.append(f"- {is_}, not {is_not}.")
    if clean_field(tone):
        lines.append(f"- Tone for this piece: {clean_field(tone)}.")
    if clean_field(audience):
        lines.append(f"- Audience: {clean_field(audience)}.")
    return "\n".join(["Voice:", *lines]) if lines else ""


def _words_section(guide: brand_pb2.BrandGuide, keywords: Sequence[str]) -> str:
    lines = []
    for preferred in guide.preferred_terms:
        lines.append(
            f'- Write "{clean_field(preferred.use)}", '
            f"not {quote_list(preferred.instead_of, 'or')}."
        )
    if guide.product_names:
        names = quote_list([p.canonical for p in guide.product_names])
        lines.append(f"- Write these names exactly as shown: {names}.")
    required = [*guide.required_terms, *keywords]
    if quote_list(required):
        lines.append(f"- Include each of: {quote_list(required)}.")
    for banned in guide.banned_terms:
        hint = clean_field(banned.hint).rstrip(".")
        hint = f" ({hint})" if hint else ""
        lines.append(f'- Never write "{clean_field(banned.term)}"{hint}.')
    for term in guide.consistent_terms:
        spellings = quote_list(term.variants, "or")
        lines.append(f"- Pick one of {spellings} and use only that one.")
    for condition in guide.conditions:
        lines.append(
            f'- Whenever you write "{clean_field(condition.if_term)}", also write '
            f'"{clean_field(condition.then_term)}".'
        )
    lines += _claims_lines(guide)
    return "\n".join(["Words:", *lines]) if lines else ""


def _claims_lines(guide: brand_pb2.BrandGuide) -> list[str]:
    # Claims are always checked, so the model always hears the rule.
    if not guide.approved_claims:
        return [
            "- State no figures, percentages, prices, ratings or superlatives "
            '("best", "#1", "guaranteed") that the request does not give.'
        ]
    claims = "; ".join(f'"{clean_field(c)}"' for c in guide.approved_claims)
    return [
        "- Make no claim with a figure or a superlative except these approved "
        f"ones: {claims}."
    ]


def _style_section(guide: brand_pb2.BrandGuide, policy: LengthPolicy) -> str:
    override = platform_override(guide, policy)
    emoji = guide.emoji
    if override is not None and override.HasField("emoji"):
        emoji = override.emoji

    lines = [
        *_policy_lines(emoji, "emoji", "emoji"),
        *_policy_lines(guide.exclamation, "exclamation mark", "exclamation marks"),
    ]
    cap = hashtag_cap(guide, policy, override)
    if guide.hashtags_forbidden:
        lines.append("- No hashtags.")
    elif cap:
        lines.append(f"- At most {cap} hashtags, at the end.")
    if guide.max_sentence_words:
        lines.append(
            f"- Keep every sentence to {guide.max_sentence_words} words or fewer."
        )
    lines += _mechanics_lines(guide)
    if guide.reading_grade_max:
        lines.append(
            f"- Write for reading grade {guide.reading_grade_max:g} or lower: "
            "short sentences, everyday words."
        )
    return "\n".join(["Style:", *lines]) if lines else ""


_SERIAL_COMMA = {
    brand_pb2.SERIAL_COMMA_REQUIRED: '- Use the serial comma: "red, green, and blue".',
    brand_pb2.SERIAL_COMMA_OMITTED: '- No serial comma: "red, green and blue".',
    brand_pb2.SERIAL_COMMA_CONSISTENT: (
        "- Use the serial comma in every list or in none."
    ),
}


def _mechanics_lines(guide: brand_pb2.BrandGuide) -> list[str]:
    lines = []
    if guide.serial_comma in _SERIAL_COMMA:
        lines.append(_SERIAL_COMMA[guide.serial_comma])
    acronyms = guide.acronyms
    if acronyms.require_definition:
        lines.append(
            "- Spell out an abbreviation the first time, with the abbreviation "
            'after it in brackets: "network operations centre (NOC)".'
        )
        if acronyms.definitions:
            spelled = "; ".join(
                f'"{clean_field(d.expansion)} ({d.acronym})"'
                for d in acronyms.definitions
            )
            lines.append(f"- Spell them as: {spelled}.")
    if guide.repetition.max_word_uses:
        lines.append(
            f"- Use no word more than {guide.repetition.max_word_uses} times in "
            "100 words; vary your wording."
        )
    return lines


def _policy_lines(policy: brand_pb2.Policy, one: str, many: str) -> list[str]:
    if policy.forbidden:
        return [f"- No {many}."]
    lines = []
    if policy.max_count:
        noun = one if policy.max_count == 1 else many
        lines.append(f"- At most {policy.max_count} {noun} in total.")
    if policy.max_consecutive:
        noun = one if policy.max_consecutive == 1 else many
        lines.append(f"- Never more than {policy.max_consecutive} {noun} in a row.")
    return lines
