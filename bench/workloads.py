"""The requests and texts every scenario sends, fixed so runs compare.

The brand guide is a realistic one (banned, preferred and required terms,
product names, emoji and hashtag policies), so the brand check does the
work it does in production rather than returning early on an empty guide.
"""

from __future__ import annotations

from byok.generation.v1 import brand_pb2, generation_pb2

MODEL = "gpt-4o-mini"
PROMPT = "Announce the Trailhead jacket to hikers heading out this autumn."
# What every direct and proxied call asks the stand-in for.
CHAT_MESSAGES = (
    {"role": "system", "content": "You write short social posts for outdoor brands."},
    {"role": "user", "content": PROMPT},
)
MAX_TOKENS = 256

_SENTENCES = (
    "Meet the new Trailhead jacket: light enough for a morning run, warm "
    "enough for the summit. ",
    "Built from recycled nylon and sealed seams, it is ready for any "
    "weather the ridge throws at you. ",
    "Pack it into its own pocket, clip it to your harness and forget it is "
    "there until the wind picks up. ",
    "Our team tested it on three continents, from coastal fog to alpine "
    "sleet, and it kept them dry every time. ",
    "Find your size at your nearest store or order online today. #hiking ",
)


def brand_guide() -> brand_pb2.BrandGuide:
    banned = [
        brand_pb2.BannedTerm(term=term, hint="Say what it does.")
        for term in (
            "revolutionary",
            "game-changer",
            "synergy",
            "leverage",
            "best-in-class",
            "world-class",
            "cutting-edge",
            "disrupt",
        )
    ]
    return brand_pb2.BrandGuide(
        name="Trailhead",
        version="2025-01",
        voice=brand_pb2.Voice(descriptors=["plainspoken", "warm", "outdoorsy"]),
        banned_terms=banned,
        required_terms=["Trailhead"],
        preferred_terms=[
            brand_pb2.PreferredTerm(use="email", instead_of=["e-mail"]),
            brand_pb2.PreferredTerm(use="online", instead_of=["on-line"]),
        ],
        product_names=[brand_pb2.ProductName(canonical="Trailhead")],
        emoji=brand_pb2.Policy(max_count=2),
        exclamation=brand_pb2.Policy(max_consecutive=1),
        max_hashtags=3,
        max_sentence_words=35,
    )


def generation_request(tenant_id: str) -> generation_pb2.GenerateContentRequest:
    return generation_pb2.GenerateContentRequest(
        tenant_id=tenant_id,
        provider="openai",
        model=MODEL,
        prompt=PROMPT,
        content_type=generation_pb2.CONTENT_TYPE_SOCIAL_POST,
        platforms=["linkedin"],
        variant_count=1,
        adherence=brand_pb2.ADHERENCE_LEVEL_MODERATE,
        keywords=["jacket"],
        brand_guide=brand_guide(),
    )


def marketing_text(length: int) -> str:
    """Copy of exactly ``length`` characters, cut at the end if need be."""
    pieces: list[str] = []
    total = 0
    index = 0
    while total < length:
        sentence = _SENTENCES[index % len(_SENTENCES)]
        pieces.append(sentence)
        total += len(sentence)
        index += 1
    return "".join(pieces)[:length]
