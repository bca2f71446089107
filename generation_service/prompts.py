"""Turning a request into what a provider is asked, per platform and variant.

Chat models get instructions and the brief. The local model is a small base
model: it gets plain text that ends exactly where the copy should begin, a
stop sequence, and a bounded number of tokens.
"""

from __future__ import annotations

from byok.generation.v1 import brand_pb2, generation_pb2

from generation_service.providers import GenerationCall

_CONTENT = {
    generation_pb2.CONTENT_TYPE_SOCIAL_POST: "social media post",
    generation_pb2.CONTENT_TYPE_AD_COPY: "ad copy",
    generation_pb2.CONTENT_TYPE_EMAIL: "marketing email",
    generation_pb2.CONTENT_TYPE_BLOG_POST: "blog post",
    generation_pb2.CONTENT_TYPE_PRODUCT_DESCRIPTION: "product description",
}
_LENGTH_TOKENS = {
    generation_pb2.CONTENT_LENGTH_SHORT: 120,
    generation_pb2.CONTENT_LENGTH_MEDIUM: 350,
    generation_pb2.CONTENT_LENGTH_LONG: 900,
}
_LENGTH_WORDS = {
    generation_pb2.CONTENT_LENGTH_SHORT: "short",
    generation_pb2.CONTENT_LENGTH_MEDIUM: "medium-length",
    generation_pb2.CONTENT_LENGTH_LONG: "long",
}
DEFAULT_TOKENS = 350
COMPLETION_STOP = ("\n\n\n", "\nBrief:", "\n###")


def build_call(
    request: generation_pb2.GenerateContentRequest,
    model: str,
    platform: str,
    variant: int,
    variant_count: int,
    max_output_tokens: int,
) -> GenerationCall:
    kind = _CONTENT.get(request.content_type, "marketing copy")
    facts = _facts(request)
    system = "\n".join(
        [
            f"You write {_length(request)} {kind} for {platform}.",
            *facts,
            *_variant_note(variant, variant_count),
            "Reply with the copy only: no preamble, no quotes, no notes.",
        ]
    )
    completion_prompt = "\n".join(
        [*facts, f"Brief: {request.prompt.strip()}", "", f"{platform} {kind}:", ""]
    )
    return GenerationCall(
        model=model,
        system=system,
        user=request.prompt.strip(),
        completion_prompt=completion_prompt,
        stop=COMPLETION_STOP,
        max_tokens=min(
            _LENGTH_TOKENS.get(request.length, DEFAULT_TOKENS), max_output_tokens
        ),
        # Variants of one platform differ a little more each.
        temperature=min(0.7 + 0.1 * variant, 1.0),
    )


def _length(request: generation_pb2.GenerateContentRequest) -> str:
    return _LENGTH_WORDS.get(request.length, "medium-length")


def _facts(request: generation_pb2.GenerateContentRequest) -> list[str]:
    guide: brand_pb2.BrandGuide = request.brand_guide
    lines = []
    if guide.name:
        lines.append(f"Brand: {guide.name}.")
    if guide.voice.descriptors:
        lines.append(f"Voice: {', '.join(guide.voice.descriptors)}.")
    for pair in guide.voice.pairs:
        # The field is named `is`, a Python keyword.
        lines.append(f"Be {getattr(pair, 'is')}, but not {pair.is_not}.")
    if request.tone:
        lines.append(f"Tone: {request.tone}.")
    if request.target_audience:
        lines.append(f"Audience: {request.target_audience}.")
    required = [*guide.required_terms, *request.keywords]
    if required:
        lines.append(f"Include: {', '.join(required)}.")
    if guide.banned_terms:
        banned = ", ".join(term.term for term in guide.banned_terms)
        lines.append(f"Never use: {banned}.")
    return lines


def _variant_note(variant: int, count: int) -> list[str]:
    if count == 1:
        return []
    return [f"This is version {variant + 1} of {count}: take a distinct angle."]
