"""Checking a GenerateContent request before any key is looked up."""

from __future__ import annotations

import re
from dataclasses import dataclass

from byok.generation.v1 import generation_pb2

from generation_service.config import GenerationSettings
from generation_service.errors import InvalidRequest

# The same rule KeyVault applies, so a request it would refuse stops here.
TENANT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}")
MAX_VARIANTS = 5


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
            "starting with a letter or digit"
        )

    prompt = request.prompt.strip()
    if not prompt:
        raise InvalidRequest("prompt must not be empty")
    if len(prompt) > settings.max_prompt_chars:
        raise InvalidRequest(
            f"prompt must be at most {settings.max_prompt_chars} characters"
        )

    if not request.platforms:
        raise InvalidRequest("name at least one platform")
    known = set(brand.known_platforms())
    unknown = sorted({p for p in request.platforms if p not in known})
    if unknown:
        raise InvalidRequest(f"unknown platforms: {', '.join(unknown[:5])}")
    if len(set(request.platforms)) != len(request.platforms):
        raise InvalidRequest("each platform may be named once")

    if request.content_type not in generation_pb2.ContentType.values():
        raise InvalidRequest("content_type is not a known content type")
    if request.length not in generation_pb2.ContentLength.values():
        raise InvalidRequest("length is not a known content length")

    count = request.variant_count or 1
    if not 1 <= count <= MAX_VARIANTS:
        raise InvalidRequest(f"variant_count must be 1 to {MAX_VARIANTS}")

    provider = request.provider
    if provider and provider not in settings.providers:
        raise InvalidRequest(
            f"provider must be one of {', '.join(sorted(settings.providers))}"
        )
    model = request.model
    if model and not MODEL_NAME.fullmatch(model):
        raise InvalidRequest("model must be a plain model name")

    try:
        brand.validate_guide(request.brand_guide)
    except brand.BrandError as error:
        raise InvalidRequest(f"brand_guide: {error}") from None

    return ValidRequest(request, provider, model, tuple(request.platforms), count)
