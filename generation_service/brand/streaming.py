"""Check a variant while it streams, to stop a blocked one early.

Only the rules that text arriving later cannot undo are checked here: banned
terms and the hard length limit. A banned term is reported once no longer
term or product name could still grow over it; the length once the text up
to its last space is already too long (adding text never shortens a post, and
the last word may still become a link, which X weighs 23 however long).
:meth:`StreamingChecker.finish` then gives the full report, which contains
every violation reported while streaming.
"""

from __future__ import annotations

from collections.abc import Sequence

from byok.generation.v1 import brand_pb2

from . import adherence as levels
from . import count_rules, counting, term_rules
from .check import check_variant, violation
from .compiled import compile_guide
from .findings import Finding
from .policies import effective_policy


class StreamingChecker:
    """Feed text deltas; get the blocking-relevant violations as they appear."""

    def __init__(
        self,
        guide: brand_pb2.BrandGuide,
        platform: str,
        adherence: brand_pb2.AdherenceLevel.ValueType,
        keywords: Sequence[str] = (),
    ) -> None:
        self._compiled = compile_guide(guide)
        self._guide = guide
        self._platform = platform
        self._policy = effective_policy(self._compiled.guide, platform)
        self._level = levels.effective_level(adherence)
        self._keywords = tuple(keywords)
        self._margin = max(
            self._compiled.terms.longest_match, self._compiled.products.longest_match
        )
        self._text = ""
        self._settled_length = -1
        self._reported: set[tuple[str, int, int]] = set()
        self._length_reported = False
        self._blocked = False

    @property
    def text(self) -> str:
        return self._text

    @property
    def blocked(self) -> bool:
        """True once a reported violation blocks at this adherence level."""
        return self._blocked

    def feed(self, delta: str) -> list[brand_pb2.Violation]:
        before = len(self._text)
        self._text += delta
        findings = self._settled_terms(before) + self._length()
        return [v for f in findings if (v := self._report(f)) is not None]

    def finish(self) -> brand_pb2.ComplianceReport:
        return check_variant(
            self._text, self._guide, self._platform, self._level, self._keywords
        )

    def _settled_terms(self, before: int) -> list[Finding]:
        # Every match that could still change ends after the previous text's
        # last margin; scanning three margins back also sees what overlaps it.
        text = self._text
        start = max(0, before - 3 * self._margin)
        protected = term_rules.product_spans(self._compiled, text, start)
        return [
            f
            for f in term_rules.terms(self._compiled, text, protected, start)
            if f.family == "banned"
            and f.end is not None
            and f.end + self._margin < len(text)
        ]

    def _length(self) -> list[Finding]:
        if self._length_reported or not self._policy.hard_limit:
            return []
        last_break = max(self._text.rfind(" "), self._text.rfind("\n"), 0)
        settled = self._text[:last_break]
        if len(settled) == self._settled_length:
            return []
        self._settled_length = len(settled)
        value = counting.measure(settled, self._policy.unit.id)
        found = count_rules.length(self._policy, settled, value)
        found = [f for f in found if f.family == "length"]
        self._length_reported = bool(found)
        return found

    def _report(self, finding: Finding) -> brand_pb2.Violation | None:
        key = (finding.rule_id, finding.start or 0, finding.end or 0)
        if key in self._reported:
            return None
        self._reported.add(key)

        severity = levels.severity(finding, self._compiled.guide, self._level)
        if severity is None:
            return None
        blocking = levels.blocks(severity, self._level)
        self._blocked = self._blocked or blocking
        return violation(finding, severity, blocking)
