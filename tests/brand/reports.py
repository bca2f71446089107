"""Compact views of compliance reports, for exact comparisons in tests."""

from __future__ import annotations

from byok.generation.v1 import brand_pb2 as pb

Row = tuple[str, str, tuple[int, int] | None, str, bool]

MODERATE = pb.ADHERENCE_LEVEL_MODERATE
STRICT = pb.ADHERENCE_LEVEL_STRICT
LOOSE = pb.ADHERENCE_LEVEL_LOOSE
CUSTOM = pb.ADHERENCE_LEVEL_CUSTOM


def rows(report: pb.ComplianceReport) -> list[Row]:
    """(rule id, severity, span, matched text, blocking) per violation."""
    return [
        (
            v.rule_id,
            pb.Severity.Name(v.severity).removeprefix("SEVERITY_").lower(),
            (v.span.start, v.span.end) if v.HasField("span") else None,
            v.matched_text,
            v.blocking,
        )
        for v in report.violations
    ]


def by_rule(report: pb.ComplianceReport, rule_id: str) -> list[pb.Violation]:
    return [v for v in report.violations if v.rule_id == rule_id]
