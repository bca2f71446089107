"""Check one variant against a brand guide and a platform."""

from __future__ import annotations

from collections.abc import Sequence

from byok.generation.v1 import brand_pb2

from . import (
    _text,
    claims,
    conditional,
    consistency,
    count_rules,
    counting,
    editorial,
    readability,
    repetition,
    score,
    serial_comma,
    term_rules,
)
from . import adherence as levels
from .compiled import CompiledGuide, compile_guide
from .findings import Finding
from .matching import Match
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
    findings += _platform_rules(guide, policy, override, text, protected)
    findings += count_rules.length(policy, text, counting.measure(text, policy.unit.id))
    findings += count_rules.sentence_length(guide, text)
    findings += count_rules.reading_grade(guide, measured)
    findings += _style_rules(compiled, text, keywords, protected, findings)
    return findings


def _platform_rules(
    guide: brand_pb2.BrandGuide,
    policy: LengthPolicy,
    override: brand_pb2.PlatformOverride | None,
    text: str,
    protected: Sequence[Match[int]],
) -> list[Finding]:
    # Where the platform itself refuses emoji or exclamation marks, its
    # stricter rule reports them and the brand's policy stays quiet.
    platform = editorial.editorial(policy, text, [*_text.urls(text), *protected])
    taken = {(f.start, f.end) for f in platform}
    brand = [
        f
        for f in count_rules.occurrences(guide, policy, override, text, protected)
        if f.family not in ("emoji", "exclamation") or (f.start, f.end) not in taken
    ]
    return brand + platform


def _style_rules(
    compiled: CompiledGuide,
    text: str,
    keywords: Sequence[str],
    protected: Sequence[_text.Spanned],
    earlier: Sequence[Finding],
) -> list[Finding]:
    links = _text.urls(text)
    skip = [*protected, *links, *_text.hashtags(text, skip=links)]
    # Words a term rule already reports are not also a claim or a spelling.
    terms = [
        _text.Piece(f.start, f.end, f.matched)
        for f in earlier
        if f.family in ("banned", "preferred")
        and f.start is not None
        and f.end is not None
    ]

    findings = repetition.doubled(text, [*protected, *links])
    findings += repetition.overused(compiled, text, skip)
    findings += consistency.mixed_spellings(compiled, text, [*skip, *terms])
    findings += serial_comma.serial_commas(compiled.guide.serial_comma, text, links)
    findings += conditional.conditions(compiled, text, protected)
    findings += conditional.acronyms(compiled, text, skip)
    findings += claims.unapproved(compiled, text, [*skip, *terms], keywords)
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
