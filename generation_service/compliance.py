"""Brand compliance of the variants: the one place the brand engine is wired.

Three uses, one per stage of a variant:

- :meth:`Compliance.brand_prompt` briefs a chat model with the tenant's
  guide for the platform (``brand.render_brand_prompt``);
- :meth:`Compliance.watch` checks the text while it streams; at STRICT
  adherence a blocking violation stops the stream at once, so no more
  tokens are paid for a variant that cannot be used as written;
- :meth:`Compliance.enforce` runs on every variant that ended: a compliant
  one is returned as it is, a blocked one is repaired (``brand.enforce``:
  fixes that need no model, then rewrites by the model with the exact list
  of problems, through a callable the caller provides).

The text a repair returns replaces what the deltas carried; the report says
so (``repaired``).

Compiling a large guide and rendering its prompts take long enough to stall
every other RPC, so :meth:`Compliance.prepare` does both on a worker thread
once per request; later checks reuse the compiled guide and cost time in
proportion to the text.

TODO(hold-back window): deltas reach the caller as they arrive, before any
check; releasing text only up to the last checked sentence would keep
blocked words off the caller's screen at STRICT.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from byok.generation.v1 import brand_pb2

from generation_service import brand

STRICT = brand_pb2.ADHERENCE_LEVEL_STRICT
# Added to the rewrite instructions when the draft was stopped mid-way.
UNFINISHED_NOTE = (
    "The text stopped part-way: end it in the same style, within the limits."
)

# (draft, instructions) -> the model's rewrite
Rewrite = Callable[[str, str], Awaitable[str]]


@dataclass(frozen=True)
class Verdict:
    text: str
    report: brand_pb2.ComplianceReport


class Watch:
    """One attempt's text, checked while it streams."""

    def __init__(self, checker: brand.StreamingChecker, stops: bool) -> None:
        self._checker = checker
        self._stops = stops

    def feed(self, delta: str) -> bool:
        """True when the stream should stop now."""
        self._checker.feed(delta)
        return self._stops and self._checker.blocked


class Compliance:
    """The brand guide, adherence level and keywords of one request."""

    def __init__(
        self,
        guide: brand_pb2.BrandGuide,
        adherence: brand_pb2.AdherenceLevel.ValueType,
        keywords: Sequence[str],
        max_rewrites: int,
    ) -> None:
        self._guide = guide
        self._adherence = adherence
        self._keywords = list(keywords)
        self._max_rewrites = max_rewrites
        # (platform, content type, tone, audience) -> rendered prompt
        self._prompts: dict[tuple[str, int, str, str], str] = {}

    async def prepare(
        self, platforms: Sequence[str], content_type: int, tone: str, audience: str
    ) -> None:
        """Compile the guide and render each platform's prompt, off the loop."""

        def render() -> None:
            for platform in platforms:
                self.brand_prompt(platform, content_type, tone, audience)

        await asyncio.to_thread(render)

    def brand_prompt(
        self, platform: str, content_type: int, tone: str, audience: str
    ) -> str:
        entry = (platform, content_type, tone, audience)
        found = self._prompts.get(entry)
        if found is None:
            found = brand.render_brand_prompt(
                self._guide, platform, content_type, tone, self._keywords, audience
            )
            self._prompts[entry] = found
        return found

    def watch(self, platform: str) -> Watch:
        checker = brand.StreamingChecker(
            self._guide, platform, self._adherence, self._keywords
        )
        return Watch(checker, stops=self._adherence == STRICT)

    def report(self, text: str, platform: str) -> brand_pb2.ComplianceReport:
        return brand.check_variant(
            text, self._guide, platform, self._adherence, self._keywords
        )

    def rewrites_possible(self) -> bool:
        """Whether a variant of this request may cost rewrite calls."""
        return self._max_rewrites > 0 and self._adherence != (
            brand_pb2.ADHERENCE_LEVEL_LOOSE
        )

    async def enforce(
        self, text: str, platform: str, rewrite: Rewrite | None, unfinished: bool
    ) -> Verdict:
        """``text``, repaired if it blocks; ``rewrite`` None allows no rewrites.

        Whatever ``rewrite`` raises propagates.
        """

        # Checked off the loop first: most variants pass, and a large guide
        # makes one check long enough to stall other RPCs.
        report = await asyncio.to_thread(self.report, text, platform)
        if report.compliant:
            return Verdict(text, report)

        # TODO(repair off the loop): fixes and re-checks of a blocked variant
        # still run on the event loop, a few checks' time per variant.
        async def rewrite_unfinished(draft: str, instructions: str) -> str:
            assert rewrite is not None
            return await rewrite(draft, f"{instructions}\n{UNFINISHED_NOTE}")

        chosen = rewrite_unfinished if unfinished else rewrite
        outcome = await brand.enforce(
            text,
            self._guide,
            platform,
            self._adherence,
            self._keywords,
            chosen or _no_rewrite,
            self._max_rewrites if rewrite is not None else 0,
        )
        return Verdict(outcome.text, outcome.report)


async def _no_rewrite(draft: str, instructions: str) -> str:
    raise AssertionError("no rewrites were allowed")
