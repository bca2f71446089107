"""Turning a request into what a provider is asked, per platform and variant.

Chat models get the brand engine's instructions for the platform and the
brief. The local model is a small *base* model: it follows no instructions,
only patterns. It gets a short frame of finished examples that ends exactly
where the copy should begin, stop sequences where the pattern would go on to
another example (or where a base model drifts into chat markup), and a
bounded number of tokens.
"""

from __future__ import annotations

from byok.generation.v1 import brand_pb2, generation_pb2

from generation_service.compliance import Compliance
from generation_service.providers import GenerationCall

_CONTENT = {
    generation_pb2.CONTENT_TYPE_SOCIAL_POST: "social media post",
    generation_pb2.CONTENT_TYPE_AD_COPY: "ad",
    generation_pb2.CONTENT_TYPE_EMAIL: "marketing email",
    generation_pb2.CONTENT_TYPE_BLOG_POST: "blog post",
    generation_pb2.CONTENT_TYPE_PRODUCT_DESCRIPTION: "product description",
}
_LENGTH_TOKENS = {
    generation_pb2.CONTENT_LENGTH_SHORT: 120,
    generation_pb2.CONTENT_LENGTH_MEDIUM: 350,
    generation_pb2.CONTENT_LENGTH_LONG: 900,
}
DEFAULT_TOKENS = 350
MAX_FRAME_FIELD_CHARS = 200

# Where a base model would start the next example, or fall into the chat
# and image markup it saw in training.
COMPLETION_STOP = (
    "\n\n\n",
    "\n###",
    "\nBrand:",
    "\nBrief:",
    "\nCopy:",
    "<start_of_image>",
    "<end_of_turn>",
    "<start_of_turn>",
    "[INST]",
)
# Short copy is one paragraph: a blank line means the example is over.
SHORT_STOP = ("\n\n",)

# Finished examples for the base model to continue the pattern of. They
# show what every answer must do: open with the words to include, turn the
# brief's request into copy rather than repeat it, stay on one platform, and
# stop. Tried against the local model with the demo's brief: examples that
# open with the keyword kept it far more often than examples that do not,
# and briefs worded as requests stopped it from echoing the demo's brief.
_EXAMPLES = (
    (
        ("Brand", "Trailhead Outfitters"),
        ("Platform", "linkedin"),
        ("Audience", "weekend hikers"),
        ("Tone", "warm, practical"),
        ("Include", "trail boots"),
        (
            "Brief",
            "Announce that our waterproof trail boots are 20% off until May 15.",
        ),
        (
            "Copy",
            "Our waterproof trail boots are 20% off until May 15. Spring trails "
            "are muddy, and your feet should not be: start your next hike dry. "
            "Find your pair before the sale ends.",
        ),
    ),
    (
        ("Brand", "Northwind Books"),
        ("Platform", "x"),
        ("Audience", "parents of young readers"),
        ("Tone", "friendly"),
        ("Include", "story hour"),
        (
            "Brief",
            "Tell parents about the free story hour, every Saturday at 10am in "
            "our Main Street shop.",
        ),
        (
            "Copy",
            "Story hour is back! Every Saturday at 10am our Main Street shop "
            "reads aloud to young readers. It is free, and the picture books "
            "are already on the rug.",
        ),
    ),
    (
        ("Brand", "Harbor Bank"),
        ("Platform", "facebook"),
        ("Audience", "first-time savers"),
        ("Tone", "clear, reassuring"),
        ("Include", "savings account"),
        (
            "Brief",
            "Promote our savings account: open it online in five minutes, no "
            "minimum deposit.",
        ),
        (
            "Copy",
            "A savings account you can open online in five minutes, with no "
            "minimum deposit. Start small, save steadily, and watch it grow.",
        ),
    ),
)


def build_call(
    request: generation_pb2.GenerateContentRequest,
    compliance: Compliance,
    model: str,
    platform: str,
    variant: int,
    variant_count: int,
    max_output_tokens: int,
) -> GenerationCall:
    brand_prompt = compliance.brand_prompt(
        platform, request.content_type, request.tone, request.target_audience
    )
    system = "\n".join([brand_prompt.rstrip(), *_variant_note(variant, variant_count)])
    short = request.length == generation_pb2.CONTENT_LENGTH_SHORT
    return GenerationCall(
        model=model,
        system=system,
        user=request.prompt.strip(),
        completion_prompt=completion_prompt(request, platform),
        stop=COMPLETION_STOP + (SHORT_STOP if short else ()),
        max_tokens=min(
            _LENGTH_TOKENS.get(request.length, DEFAULT_TOKENS), max_output_tokens
        ),
        # Variants of one platform differ a little more each.
        temperature=min(0.7 + 0.1 * variant, 1.0),
    )


def completion_prompt(
    request: generation_pb2.GenerateContentRequest, platform: str
) -> str:
    """The few-shot frame, ending where the base model writes the copy."""
    blocks = [
        "\n".join(f"{name}: {value}" for name, value in example)
        for example in _EXAMPLES
    ]
    blocks.append("\n".join([*_frame_fields(request, platform), "Copy:"]))
    kind = _CONTENT.get(request.content_type, "marketing copy")
    heading = f"Finished {kind} copy, each written to its brief."
    return "\n\n".join([heading, *blocks])


def _frame_fields(
    request: generation_pb2.GenerateContentRequest, platform: str
) -> list[str]:
    guide: brand_pb2.BrandGuide = request.brand_guide
    fields = [
        ("Brand", guide.name),
        ("Platform", platform),
        ("Audience", request.target_audience),
        ("Tone", request.tone or ", ".join(guide.voice.descriptors)),
        ("Include", ", ".join([*guide.required_terms, *request.keywords])),
        ("Brief", request.prompt),
    ]
    return [f"{name}: {_flat(value)}" for name, value in fields if _flat(value)]


def _flat(value: str) -> str:
    # One line each: a line break in tenant text would end the pattern.
    flat = " ".join(value.split())
    return flat[:MAX_FRAME_FIELD_CHARS]


def _variant_note(variant: int, count: int) -> list[str]:
    if count == 1:
        return []
    return [f"This is version {variant + 1} of {count}: take a distinct angle."]
