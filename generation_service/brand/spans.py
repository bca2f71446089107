"""Fast questions about many spans: does this range touch any of them?"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from typing import Protocol


class Spanned(Protocol):
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...


class SpanIndex:
    """Half-open spans merged into sorted, disjoint ranges.

    Rules test every word or match against the links, hashtags and names
    to skip; a scan per test would make long texts quadratic.
    """

    def __init__(self, spans: Iterable[Spanned]) -> None:
        merged: list[list[int]] = []
        for start, end in sorted((s.start, s.end) for s in spans if s.end > s.start):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self._starts = [start for start, _ in merged]
        self._ends = [end for _, end in merged]

    def overlaps(self, start: int, end: int) -> bool:
        """Whether ``[start, end)``, ``start < end``, touches any span."""
        # The first range ending after ``start`` is the only candidate.
        i = bisect_left(self._ends, start + 1)
        return i < len(self._starts) and self._starts[i] < end

    def holds(self, position: int) -> bool:
        return self.overlaps(position, position + 1)
