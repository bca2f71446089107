"""Check a variant while it streams, to stop a blocked one early.

Only the rules that text arriving later cannot undo are checked here: banned
terms and the hard length limit. A banned term is reported once no longer
term or product name could still grow over it; the length once the text up
to its last space is already too long (adding text never shortens a post, and
the last word may still become a link, which X weighs 23 however long; text
without spaces settles at its ideographic full stops and commas).
:meth:`StreamingChecker.finish` then gives the full report, which contains
every violation reported while streaming.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from byok.generation.v1 import brand_pb2

from . import adherence as levels
from . import count_rules, counting, term_rules
from .check import check_variant, violation
from .compiled import compile_guide
from .findings import Finding
from .policies import effective_policy

# Characters before which no link, emoji sequence or grapheme cluster
# continues: spaces, and the ideographic space and full stops of text
# written without spaces (Japanese, Chinese).
_BREAKS = " \n\u3000\u3001\u3002\uff0c\uff01\uff1f"


class StreamingChecker:
    """Feed text deltas; get the blocking-relevant violations as they appear.

    Each :meth:`feed` costs time in proportion to its delta (plus a fixed
    window for term matching), not to the text so far, so a long stream in
    small deltas stays linear.
    """

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
        self._parts: list[str] = []
        self._size = 0
        # The tail of the text that term matching looks at again.
        self._window = ""
        self._window_start = 0
        # Text after the last measured break, and the length before it.
        self._unmeasured: list[str] = []
        self._measured = 0
        self._meter = counting.RunningLength(self._policy.unit.id)
        self._reported: set[tuple[str, int, int]] = set()
        self._length_reported = False
        self._blocked = False

    @property
    def text(self) -> str:
        if len(self._parts) > 1:
            self._parts = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    @property
    def blocked(self) -> bool:
        """True once a reported violation blocks at this adherence level."""
        return self._blocked

    def feed(self, delta: str) -> list[brand_pb2.Violation]:
        before = self._size
        self._parts.append(delta)
        self._size += len(delta)
        self._window += delta
        findings = self._settled_terms(before) + self._length(delta, before)
        self._trim_window()
        return [v for f in findings if (v := self._report(f)) is not None]

    def finish(self) -> brand_pb2.ComplianceReport:
        return check_variant(
            self.text, self._guide, self._platform, self._level, self._keywords
        )

    def _settled_terms(self, before: int) -> list[Finding]:
        # Every match that could still change ends after the previous text's
        # last margin; scanning three margins back also sees what overlaps it.
        if not self._margin:
            return []
        window, offset = self._window, self._window_start
        start = max(0, before - 3 * self._margin) - offset
        protected = term_rules.product_spans(self._compiled, window, start)
        return [
            dataclasses.replace(f, start=f.start + offset, end=f.end + offset)
            for f in term_rules.terms(self._compiled, window, protected, start)
            if f.family == "banned"
            and f.start is not None
            and f.end is not None
            and f.end + self._margin < len(window)
        ]

    def _trim_window(self) -> None:
        # Keep three margins for the next scan and one character before them
        # for the word-boundary look-behind.
        keep = 3 * self._margin + 1
        if len(self._window) > keep:
            cut = len(self._window) - keep
            self._window = self._window[cut:]
            self._window_start += cut

    def _length(self, delta: str, before: int) -> list[Finding]:
        # The text up to its last break is settled: later text only adds.
        if self._length_reported or not self._policy.hard_limit:
            return []
        last_break = max(delta.rfind(c) for c in _BREAKS)
        if last_break < 0:
            self._unmeasured.append(delta)
            return []
        piece = "".join([*self._unmeasured, delta[:last_break]])
        self._unmeasured = [delta[last_break:]]
        self._measured = before + last_break
        value = self._meter.add(piece)
        if value <= self._policy.hard_limit:
            return []

        settled = self.text[: self._measured]
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
