"""Measure what the brand checks cost: ``python -m tests.brand.measure_cost``.

Not a test: timings depend on the machine. It prints the cost of
:func:`check_variant` per 1,000 characters on the fixture guides (and on one
with 500 banned terms) for a few platforms and lengths, and the cost of
streaming a long variant in small deltas.
"""

from __future__ import annotations

import time

from byok.generation.v1 import brand_pb2 as pb

from generation_service.brand import StreamingChecker, check_variant
from tests.brand import guides

PARAGRAPH = (
    "Our team helps small businesses grow with clear email campaigns. You can "
    "plan, write and send a newsletter in minutes \U0001f389 and see who opened "
    "it. Visit https://example.com/start to learn more, or reply to this email. "
    "#marketing "
)
STRICT = pb.ADHERENCE_LEVEL_STRICT


def _text(size: int, salt: int) -> str:
    # A different text each time, so no per-text cache helps.
    body = PARAGRAPH * (size // len(PARAGRAPH) + 1)
    return f"{salt} {body}"[:size]


def _large_guide() -> pb.BrandGuide:
    guide = guides.mailchimp()
    guide.banned_terms.extend(pb.BannedTerm(term=f"jargon{i}") for i in range(500))
    return guide


def check_cost(guide: pb.BrandGuide, platform: str, size: int, runs: int) -> float:
    """Milliseconds per 1,000 characters."""
    check_variant(_text(size, -1), guide, platform, STRICT)  # compile once
    texts = [_text(size, i) for i in range(runs)]
    started = time.perf_counter()
    for text in texts:
        check_variant(text, guide, platform, STRICT)
    seconds = (time.perf_counter() - started) / runs
    return seconds * 1000 / (size / 1000)


def stream_cost(platform: str, size: int, delta: int = 5) -> float:
    """Seconds to feed ``size`` characters in deltas of ``delta``."""
    text = _text(size, 0)
    checker = StreamingChecker(guides.govuk(), platform, STRICT)
    started = time.perf_counter()
    for i in range(0, len(text), delta):
        checker.feed(text[i : i + delta])
    return time.perf_counter() - started


def main() -> None:
    named = {
        "mailchimp": guides.mailchimp(),
        "govuk": guides.govuk(),
        "microsoft": guides.microsoft(),
        "500 banned terms": _large_guide(),
    }
    print("check_variant, ms per 1,000 characters")
    for name, guide in named.items():
        for platform, size, runs in (("x", 280, 200), ("linkedin", 3000, 40),
                                     ("blog", 20000, 5)):  # fmt: skip
            cost = check_cost(guide, platform, size, runs)
            print(f"  {name:17} {platform:9} {size:6} chars  {cost:6.2f}")
    print("StreamingChecker.feed, 5-character deltas")
    for size in (10_000, 40_000, 160_000):
        print(f"  facebook {size:7} chars  {stream_cost('facebook', size):6.3f} s")


if __name__ == "__main__":
    main()
