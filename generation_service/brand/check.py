"""Check one variant against a brand guide and a platform."""

from __future__ import annotations

from collections.abc import Sequence

from byok.generation.v1 import brand_pb2

from . import adherence as levels
from . import count_rules, counting, readability, score, term_rules
from .compiled import compile_guide
from .findings import Finding
from .policies import LengthPolicy, effective_policy, platform_override


def check_variant(
    text: str,
    guide: brand_pb2.BrandGuide,
    platform: str,
    adherence: brand_pb2.AdherenceLevel.ValueType,
    keywords: Sequence[str] = (),
) -> brand_pb2.ComplianceReport:
    """The compliance report for ``text`` as a post on ``platform``.

    Raises :class:`UnknownPlatformError` or :class:`BrandGuideError` for bad
    input; never raises for any text.
    """
    compiled = compile_guide(guide)
    policy = effective_policy(compiled.guide, platform)
    measured = readability.measure(text)
    findings = find_all(compiled.guide, policy, text, keywords, measured)

    level = levels.effective_level(adherence)
    report = brand_pb2.ComplianceReport(
        adherence=level, word_count=measured.words, compliant=True
    )
    _fill_length(report, policy, text)
    if measured.words >= readability.MIN_WORDS:
        report.reading_grade = round(measured.grade, 2)

    severities = []
    for finding in sorted(findings, key=Finding.sort_key):
        value = levels.severity(finding, compiled.guide, level)
        if value is None:
            continue
        blocking = levels.blocks(value, level)
        report.violations.append(violation(finding, value, blocking))
        report.compliant = report.compliant and not blocking
        severities.append(value)
    report.score = score.score(measured.words, severities)
    return report


def find_all(
    guide: brand_pb2.BrandGuide,
    policy: LengthPolicy,
    text: str,
    keywords: Sequence[str] = (),
    measured: readability.Readability | None = None,
) -> list[Finding]:
    """Every finding of every deterministic rule, in no particular order."""
    compiled = compile_guide(guide)
    measured = measured or readability.measure(text)
    override = platform_override(compiled.guide, policy)
    protected = term_rules.product_spans(compiled, text)

    findings = term_rules.terms(compiled, text, protected)
    findings += term_rules.casing(compiled, text)
    findings += term_rules.required(compiled, text, keywords)
    findings += count_rules.occurrences(guide, policy, override, text, protected)
    findings += count_rules.length(policy, text, counting.measure(text, policy.unit.id))
    findings += count_rules.sentence_length(guide, text)
    findings += count_rules.reading_grade(guide, measured)
    return findings


def _fill_length(
    report: brand_pb2.ComplianceReport, policy: LengthPolicy, text: str
) -> None:
    report.length = counting.measure(text, policy.unit.id)
    report.length_limit = policy.hard_limit
    report.length_unit = policy.unit.id
    report.length_recommended = policy.recommended
    if policy.unit.id == "sms_segments":
        sms = counting.sms(text)
        report.sms_segments = sms.segments
        report.sms_encoding = sms.encoding


def violation(
    finding: Finding, value: brand_pb2.Severity.ValueType, blocking: bool
) -> brand_pb2.Violation:
    violation = brand_pb2.Violation(
        rule_id=finding.rule_id,
        rule_type=finding.rule_type,
        severity=value,
        matched_text=finding.matched,
        message=finding.message,
        suggestion=finding.suggestion,
        blocking=blocking,
    )
    if finding.start is not None and finding.end is not None:
        violation.span.start = finding.start
        violation.span.end = finding.end
    return violation
