"""Latency summaries: percentiles, throughput and the differences between sides."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    """One side's samples, in milliseconds, and how fast it completed them."""

    n: int
    p50: float
    p90: float
    p99: float
    max: float
    throughput: float  # completed operations per second of wall time

    @property
    def empty(self) -> bool:
        return self.n == 0


EMPTY = Summary(0, math.nan, math.nan, math.nan, math.nan, math.nan)


def percentile(ordered: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0 to 1) of sorted samples, linearly interpolated."""
    if not ordered:
        return math.nan
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    weight = position - low
    return ordered[low] * (1 - weight) + ordered[high] * weight


def summarise(samples_ms: Sequence[float], operations: int, wall_s: float) -> Summary:
    if not samples_ms:
        return EMPTY
    ordered = sorted(samples_ms)
    throughput = operations / wall_s if wall_s > 0 else math.nan
    return Summary(
        n=len(ordered),
        p50=percentile(ordered, 0.50),
        p90=percentile(ordered, 0.90),
        p99=percentile(ordered, 0.99),
        max=ordered[-1],
        throughput=throughput,
    )


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``; NaN when the denominator is not positive."""
    if math.isnan(numerator) or math.isnan(denominator) or denominator <= 0:
        return math.nan
    return numerator / denominator
