"""Checking a GenerateContent request before any key is looked up.

Every free-text and repeated field is bounded, so no one request can make
the brand check, the prompt or the reply large enough to slow the service
down for everyone. The brand engine bounds the guide's terms (their number
and length, claims, acronyms); the guide fields it leaves open are bounded
here. A refusal names the field, and echoes no more than a few characters
of what the caller sent.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from byok.generation.v1 import brand_pb2, generation_pb2

from generation_service.config import GenerationSettings
from generation_service.errors import InvalidRequest

# The same rule KeyVault applies, so a request it would refuse stops here.
TENANT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}")
MAX_VARIANTS = 5
MAX_KEYWORDS = 50
# As long as a brand guide's terms may be.
MAX_KEYWORD_CHARS = 100
MAX_TONE_CHARS = 500
MAX_AUDIENCE_CHARS = 500
# Brand guide fields the brand engine does not bound.
MAX_GUIDE_NAME_CHARS = 200
MAX_GUIDE_VERSION_CHARS = 100
MAX_VOICE_ENTRIES = 50
MAX_VOICE_CHARS = 200
MAX_HINT_CHARS = 300
MAX_RULE_OVERRIDES = 200
MAX_RULE_ID_CHARS = 100
MAX_PLATFORM_ID_CHARS = 32
# Of a caller's value quoted back in a refusal.
MAX_ECHOED_CHARS = 24


@dataclass(frozen=True)
class ValidRequest:
    request: generation_pb2.GenerateContentRequest
    # Empty unless the request pins them.
    provider: str
    model: str
    platforms: tuple[str, ...]
    variant_count: int


def validate(
    request: generation_pb2.GenerateContentRequest, settings: GenerationSettings
) -> ValidRequest:
    # Imported here: the brand engine loads its policy tables on first use.
    from generation_service import brand

    if not TENANT_ID.fullmatch(request.tenant_id):
        raise InvalidRequest(
            "tenant_id must be 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
            "tenant_id",
        )

    prompt = request.prompt.strip()
    if not prompt:
        raise InvalidRequest("prompt must not be empty", "prompt")
    if len(prompt) > settings.max_prompt_chars:
        raise InvalidRequest(
            f"prompt must be at most {settings.max_prompt_chars} characters",
            "prompt",
        )
    _check_keywords(request.keywords)
    _check_length("tone", request.tone, MAX_TONE_CHARS)
    _check_length("target_audience", request.target_audience, MAX_AUDIENCE_CHARS)

    _check_platforms(request.platforms, brand.known_platforms(), settings)

    if request.content_type not in generation_pb2.ContentType.values():
        raise InvalidRequest("content_type is not a known content type", "content_type")
    if request.length not in generation_pb2.ContentLength.values():
        raise InvalidRequest("length is not a known content length", "length")

    count = request.variant_count or 1
    if not 1 <= count <= MAX_VARIANTS:
        raise InvalidRequest(
            f"variant_count must be 1 to {MAX_VARIANTS}", "variant_count"
        )
    total = count * len(request.platforms)
    if total > settings.max_variants_per_request:
        raise InvalidRequest(
            f"variant_count x platforms asks for {total} variants; at most "
            f"{settings.max_variants_per_request} variants per request",
            "variant_count",
        )

    provider = request.provider
    if provider and provider not in settings.providers:
        raise InvalidRequest(
            f"provider must be one of {', '.join(sorted(settings.providers))}",
            "provider",
        )
    model = request.model
    if model and not MODEL_NAME.fullmatch(model):
        raise InvalidRequest("model must be a plain model name", "model")

    _check_guide(request.brand_guide)
    try:
        brand.validate_guide(request.brand_guide)
    except brand.BrandError as error:
        raise InvalidRequest(f"brand_guide: {error}", "brand_guide") from None

    return ValidRequest(request, provider, model, tuple(request.platforms), count)


def _check_platforms(
    platforms: Sequence[str], known: Sequence[str], settings: GenerationSettings
) -> None:
    if not platforms:
        raise InvalidRequest("name at least one platform", "platforms")
    if len(platforms) > settings.max_platforms_per_request:
        raise InvalidRequest(
            f"platforms must name at most {settings.max_platforms_per_request} "
            "platforms",
            "platforms",
        )
    unknown = sorted({p for p in platforms if p not in known})
    if unknown:
        raise InvalidRequest(
            f"platforms: unknown {', '.join(_echo(p) for p in unknown[:3])}; "
            f"valid ids: {', '.join(known)}",
            "platforms",
        )
    if len(set(platforms)) != len(platforms):
        raise InvalidRequest("platforms: each platform may be named once", "platforms")


def _check_keywords(keywords: Sequence[str]) -> None:
    if len(keywords) > MAX_KEYWORDS:
        raise InvalidRequest(f"keywords must be at most {MAX_KEYWORDS}", "keywords")
    for i, keyword in enumerate(keywords):
        _check_term(f"keywords[{i}]", keyword, MAX_KEYWORD_CHARS)


def _check_guide(guide: brand_pb2.BrandGuide) -> None:
    _check_length("brand_guide.name", guide.name, MAX_GUIDE_NAME_CHARS)
    _check_length("brand_guide.version", guide.version, MAX_GUIDE_VERSION_CHARS)

    voice = guide.voice
    if len(voice.descriptors) + len(voice.pairs) > MAX_VOICE_ENTRIES:
        raise InvalidRequest(
            f"brand_guide.voice must have at most {MAX_VOICE_ENTRIES} "
            "descriptors and pairs together",
            "brand_guide.voice",
        )
    for i, descriptor in enumerate(voice.descriptors):
        path = f"brand_guide.voice.descriptors[{i}]"
        _check_length(path, descriptor, MAX_VOICE_CHARS)
    for i, pair in enumerate(voice.pairs):
        path = f"brand_guide.voice.pairs[{i}]"
        _check_length(f"{path}.is", getattr(pair, "is"), MAX_VOICE_CHARS)
        _check_length(f"{path}.is_not", pair.is_not, MAX_VOICE_CHARS)

    for i, banned in enumerate(guide.banned_terms):
        path = f"brand_guide.banned_terms[{i}].hint"
        _check_length(path, banned.hint, MAX_HINT_CHARS)

    if len(guide.rule_overrides) > MAX_RULE_OVERRIDES:
        raise InvalidRequest(
            f"brand_guide.rule_overrides must be at most {MAX_RULE_OVERRIDES}",
            "brand_guide.rule_overrides",
        )
    for i, rule in enumerate(guide.rule_overrides):
        path = f"brand_guide.rule_overrides[{i}].rule_id"
        _check_length(path, rule.rule_id, MAX_RULE_ID_CHARS)
    for i, override in enumerate(guide.platform_overrides):
        path = f"brand_guide.platform_overrides[{i}].platform"
        _check_length(path, override.platform, MAX_PLATFORM_ID_CHARS)


def _check_length(path: str, value: str, max_chars: int) -> None:
    if len(value) > max_chars:
        raise InvalidRequest(f"{path} must be at most {max_chars} characters", path)


def _check_term(path: str, value: str, max_chars: int) -> None:
    """The rule the brand engine applies to a guide's required terms."""
    if not value.strip():
        raise InvalidRequest(f"{path} must not be empty", path)
    _check_length(path, value, max_chars)
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in value):
        raise InvalidRequest(f"{path} must not contain control characters", path)


def _echo(value: str) -> str:
    """``value`` quoted, cut short, and printable."""
    shown = "".join(c if c.isprintable() else "?" for c in value[:MAX_ECHOED_CHARS])
    more = "..." if len(value) > MAX_ECHOED_CHARS else ""
    return f"{shown!r}{more}"
