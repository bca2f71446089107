"""Repair a blocked variant: fixes without a model first, then rewrites.

:func:`enforce` is what the Generation service runs on a finished variant:

1. Check it. A compliant variant is returned untouched.
2. Apply every fix that needs no model (:func:`repair_deterministic`), a
   few rounds while the text still changes, and check again.
3. While it still blocks and rewrites remain, ask the model to rewrite the
   best text so far with the exact list of problems
   (:func:`rewrite_instructions`), then fix and check the answer again.

The result is the best text seen: compliant if any was, otherwise the one
with the fewest blocking problems. It is never cut to fit and never marked
compliant unless its final check says so; ``report.repair_attempts`` counts
the rewrites and ``report.repaired`` says whether the text changed.

Errors raised by ``rewrite`` (a provider failure, a cancelled request)
propagate unchanged: the caller decides what a failed rewrite means.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from byok.generation.v1 import brand_pb2

from .check import check_variant
from .instructions import rewrite_instructions
from .repair import repair_deterministic

# (current text, instructions) -> rewritten text
RewriteFn = Callable[[str, str], Awaitable[str]]

DEFAULT_MAX_REWRITES = 2
# Fixes can uncover fixes (a substitution inside a doubled word); a few
# rounds settle any real text.
MAX_FIX_ROUNDS = 3


@dataclass(frozen=True)
class RepairOutcome:
    text: str
    report: brand_pb2.ComplianceReport
    # Model rewrites made.
    attempts: int
    # True when ``text`` differs from the text given to :func:`enforce`.
    repaired: bool


@dataclass(frozen=True)
class _Checked:
    text: str
    report: brand_pb2.ComplianceReport

    def rank(self) -> tuple[bool, int, float]:
        blocking = sum(1 for v in self.report.violations if v.blocking)
        return (self.report.compliant, -blocking, self.report.score)


async def enforce(
    text: str,
    guide: brand_pb2.BrandGuide,
    platform: str,
    adherence: brand_pb2.AdherenceLevel.ValueType,
    keywords: Sequence[str],
    rewrite: RewriteFn,
    max_rewrites: int = DEFAULT_MAX_REWRITES,
) -> RepairOutcome:
    """``text`` made compliant if possible, with its final report.

    Raises :class:`UnknownPlatformError` or :class:`BrandGuideError` for bad
    input, and whatever ``rewrite`` raises.
    """
    if max_rewrites < 0:
        raise ValueError("max_rewrites must not be negative")

    def check(candidate: str) -> _Checked:
        report = check_variant(candidate, guide, platform, adherence, keywords)
        return _Checked(candidate, report)

    first = check(text)
    if first.report.compliant:
        return _outcome(first, text, attempts=0)

    best = _fixed(first, check, guide, platform)
    attempts = 0
    while not best.report.compliant and attempts < max_rewrites:
        instructions = rewrite_instructions(best.report, guide, platform)
        answer = (await rewrite(best.text, instructions)).strip()
        attempts += 1
        if not answer:
            continue
        candidate = _fixed(check(answer), check, guide, platform)
        if candidate.rank() > best.rank():
            best = candidate
    return _outcome(best, text, attempts)


def _fixed(
    checked: _Checked,
    check: Callable[[str], _Checked],
    guide: brand_pb2.BrandGuide,
    platform: str,
) -> _Checked:
    for _ in range(MAX_FIX_ROUNDS):
        if checked.report.compliant:
            break
        text = repair_deterministic(checked.text, checked.report, guide, platform)
        if text == checked.text:
            break
        checked = check(text)
    return checked


def _outcome(best: _Checked, original: str, attempts: int) -> RepairOutcome:
    report = brand_pb2.ComplianceReport()
    report.CopyFrom(best.report)
    report.repair_attempts = attempts
    report.repaired = best.text != original
    return RepairOutcome(best.text, report, attempts, report.repaired)
