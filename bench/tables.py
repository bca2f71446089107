"""Plain-text tables in Markdown pipe syntax, readable in a terminal and a doc."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.stats import Summary

LATENCY_HEADERS = ("p50 ms", "p90 ms", "p99 ms", "max ms")


@dataclass
class Table:
    title: str
    headers: Sequence[str]
    rows: list[Sequence[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append(
            [cell if isinstance(cell, str) else fmt(cell) for cell in cells]
        )

    def render(self) -> str:
        cells = [list(self.headers), *[list(row) for row in self.rows]]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.headers))]

        def line(row: Sequence[str]) -> str:
            padded = (
                cell.ljust(width) if i == 0 else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(row, widths, strict=True))
            )
            return "| " + " | ".join(padded) + " |"

        rule = (
            "|"
            + "|".join(
                "-" * (w + 2) if i == 0 else "-" * (w + 1) + ":"
                for i, w in enumerate(widths)
            )
            + "|"
        )
        out = [f"### {self.title}", "", line(cells[0]), rule]
        out += [line(row) for row in cells[1:]]
        out += ["", *self.notes] if self.notes else []
        return "\n".join(out) + "\n"


def fmt(value: object, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:.{digits}f}"
    return str(value)


def latency_cells(summary: Summary) -> list[str]:
    return [fmt(summary.p50), fmt(summary.p90), fmt(summary.p99), fmt(summary.max)]


def megabytes(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"
