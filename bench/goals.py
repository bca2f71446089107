"""The targets, judged on the figures of this run.

Every target is a ratio between two sides measured in the same run, or an
absolute count (dropped frames, memory). A target whose figures were not
measured in this run (a scenario not selected, LiteLLM unavailable) is
reported as such, never as met.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bench.stats import ratio
from bench.tables import Table, fmt

NOT_MEASURED = "not measured"
MAX_RSS_MB = 200.0
SUSTAINED_STREAMS = 1000

Figures = Mapping[str, float]
Judge = Callable[[Figures], tuple[str, bool]]


@dataclass(frozen=True)
class Verdict:
    target: str
    measured: str
    status: str  # "met", "not met" or "not measured"


@dataclass(frozen=True)
class _Goal:
    target: str
    needs: tuple[str, ...]
    judge: Judge


def _at_most(limit: float, numerator: str, denominator: str) -> Judge:
    def judge(f: Figures) -> tuple[str, bool]:
        value = ratio(f[numerator], f[denominator])
        text = f"{fmt(f[numerator])} / {fmt(f[denominator])} = {fmt(value)}x"
        return text, not math.isnan(value) and value <= limit

    return judge


def _at_least(limit: float, numerator: str, denominator: str) -> Judge:
    def judge(f: Figures) -> tuple[str, bool]:
        value = ratio(f[numerator], f[denominator])
        text = f"{fmt(f[numerator], 0)} / {fmt(f[denominator], 0)} = {fmt(value)}x"
        return text, not math.isnan(value) and value >= limit

    return judge


def _below(ours: str, theirs: str) -> Judge:
    def judge(f: Figures) -> tuple[str, bool]:
        text = f"+{fmt(f[ours])} ms vs LiteLLM +{fmt(f[theirs])} ms"
        return text, f[ours] < f[theirs]

    return judge


def _sustained(f: Figures) -> tuple[str, bool]:
    prefix = f"streams.{SUSTAINED_STREAMS}.generation"
    dropped, failed = f[f"{prefix}.dropped"], f[f"{prefix}.failed"]
    peak = f[f"{prefix}.peak"]
    text = f"peak {peak:.0f} streams, {dropped:.0f} dropped frames, {failed:.0f} failed"
    return text, dropped == 0 and failed == 0 and peak >= SUSTAINED_STREAMS


def _memory(service: str) -> Judge:
    def judge(f: Figures) -> tuple[str, bool]:
        value = f[f"streams.{SUSTAINED_STREAMS}.rss.{service}"]
        return f"{value:.1f} MB", value <= MAX_RSS_MB

    return judge


GEN, LITE = "streams.1.generation.added.ttft", "streams.1.litellm.added.ttft"
GEN100 = "streams.100.generation.added.ttft"

GOALS = (
    _Goal(
        "Generation added TTFT p50 <= 0.1x LiteLLM's (1 stream)",
        (f"{GEN}.p50", f"{LITE}.p50"),
        _at_most(0.1, f"{GEN}.p50", f"{LITE}.p50"),
    ),
    _Goal(
        "Generation added TTFT p99 <= 0.2x LiteLLM's (1 stream)",
        (f"{GEN}.p99", f"{LITE}.p99"),
        _at_most(0.2, f"{GEN}.p99", f"{LITE}.p99"),
    ),
    _Goal(
        "Generation added TTFT p50 at 100 streams < LiteLLM's at 1",
        (f"{GEN100}.p50", f"{LITE}.p50"),
        _below(f"{GEN100}.p50", f"{LITE}.p50"),
    ),
    _Goal(
        "Generation added TTFT p99 at 100 streams < LiteLLM's at 1",
        (f"{GEN100}.p99", f"{LITE}.p99"),
        _below(f"{GEN100}.p99", f"{LITE}.p99"),
    ),
    _Goal(
        "KeyVault warm p50 <= 1.25x bare echo",
        ("keyvault.warm.p50", "keyvault.echo.p50"),
        _at_most(1.25, "keyvault.warm.p50", "keyvault.echo.p50"),
    ),
    _Goal(
        "KeyVault warm p99 <= 1.25x bare echo",
        ("keyvault.warm.p99", "keyvault.echo.p99"),
        _at_most(1.25, "keyvault.warm.p99", "keyvault.echo.p99"),
    ),
    _Goal(
        "KeyVault warm throughput >= 0.8x bare echo",
        ("keyvault.loaded.warm.throughput", "keyvault.loaded.echo.throughput"),
        _at_least(
            0.8, "keyvault.loaded.warm.throughput", "keyvault.loaded.echo.throughput"
        ),
    ),
    _Goal(
        "KeyVault cold p99 <= 3x warm p99",
        ("keyvault.cold.p99", "keyvault.warm.p99"),
        _at_most(3.0, "keyvault.cold.p99", "keyvault.warm.p99"),
    ),
    _Goal(
        f"{SUSTAINED_STREAMS} concurrent streams, 0 dropped frames",
        (
            f"streams.{SUSTAINED_STREAMS}.generation.dropped",
            f"streams.{SUSTAINED_STREAMS}.generation.peak",
        ),
        _sustained,
    ),
    _Goal(
        f"Generation RSS <= {MAX_RSS_MB:.0f} MB at {SUSTAINED_STREAMS} streams",
        (f"streams.{SUSTAINED_STREAMS}.rss.generation",),
        _memory("generation"),
    ),
    _Goal(
        f"KeyVault RSS <= {MAX_RSS_MB:.0f} MB at {SUSTAINED_STREAMS} streams",
        (f"streams.{SUSTAINED_STREAMS}.rss.keyvault-local",),
        _memory("keyvault-local"),
    ),
)


def judge(figures: Figures) -> list[Verdict]:
    verdicts = []
    for goal in GOALS:
        if not all(
            name in figures and not math.isnan(figures[name]) for name in goal.needs
        ):
            verdicts.append(Verdict(goal.target, "-", NOT_MEASURED))
            continue
        measured, met = goal.judge(figures)
        verdicts.append(Verdict(goal.target, measured, "met" if met else "NOT MET"))
    return verdicts


def table(figures: Figures) -> Table:
    result = Table("Targets", ["target", "measured", "status"])
    for verdict in judge(figures):
        result.add(verdict.target, verdict.measured, verdict.status)
    return result
