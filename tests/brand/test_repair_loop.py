"""The repair loop: fixes without a model, then bounded, re-checked rewrites.

The rewrite functions here stand in for the model: they read the
instruction lines and apply them (or not) deterministically.
"""

from __future__ import annotations

import pytest
import regex
from byok.generation.v1 import brand_pb2 as pb

from generation_service.brand import (
    check_variant,
    counting,
    enforce,
    rewrite_instructions,
)
from tests.brand import guides
from tests.brand.reports import LOOSE, MODERATE, STRICT, rows

_REPLACE = regex.compile(r'^- Use "(.*)" instead of "(.*)"\.$')
_REMOVE = regex.compile(r'^- Remove the (?:word|phrase) "([^"]*)"')
_ADD = regex.compile(r'^- Add (?:the keyword |the required term )?"([^"]*)"')
_SHORTEN = regex.compile(r"^- Shorten by at least (\d+) ")
_CLAIM = regex.compile(r'^- Remove or rephrase the claim in "(.*)"\.$')


def _follow(text: str, line: str) -> str:
    if m := _REPLACE.match(line):
        return text.replace(m[2], m[1], 1)
    if m := _REMOVE.match(line):
        return regex.sub(rf"\s?{regex.escape(m[1])}", "", text, count=1)
    if m := _CLAIM.match(line):
        return text.replace(m[1], "").strip()
    if m := _ADD.match(line):
        return f"{text.rstrip('.')}. {m[1].capitalize()}."
    if m := _SHORTEN.match(line):
        # Drop whole sentences before the last until enough is gone.
        sentences, cut = text.split(". "), 0
        while cut < int(m[1]) and len(sentences) > 2:
            cut += len(sentences.pop(-2)) + 2
        return ". ".join(sentences)
    return text


class Model:
    """A rewrite function that follows the first ``diligence`` lines."""

    def __init__(self, diligence: int = 1000, answer: str | None = None) -> None:
        self.diligence = diligence
        self.answer = answer
        self.calls: list[tuple[str, str]] = []

    async def __call__(self, text: str, instructions: str) -> str:
        self.calls.append((text, instructions))
        if self.answer is not None:
            return self.answer
        lines = [line for line in instructions.splitlines() if line.startswith("- ")]
        for line in lines[: self.diligence]:
            text = _follow(text, line)
        return f"  {text}\n"


GUIDE = guides.mailchimp()
# Two banned terms, a wrong spelling, a miscased name, a missing keyword, too
# long for X: some fixes need no model, the rest do.
TEXT = (
    "Our automagical tools help you leverage e-mail. MailChimp makes sending "
    "easy for every small business owner who wants to grow. Write plain words. "
    "Keep posts short. Say one thing. Show real results. Ask for replies. Thank "
    "your readers. Test subject lines. Send at set times. Grow your list slowly."
)


async def test_a_compliant_variant_is_returned_untouched_without_a_rewrite() -> None:
    model = Model()
    text = "Mailchimp makes email easy."

    outcome = await enforce(text, GUIDE, "x", STRICT, [], model)

    assert (outcome.text, outcome.attempts, outcome.repaired) == (text, 0, False)
    assert outcome.report.compliant
    assert outcome.report.repair_attempts == 0
    assert not outcome.report.repaired
    assert model.calls == []


async def test_fixes_without_a_model_can_be_enough() -> None:
    model = Model()

    outcome = await enforce("MailChimp sends e-mail.", GUIDE, "x", STRICT, [], model)

    assert outcome.text == "Mailchimp sends email."
    assert outcome.report.compliant
    assert (outcome.attempts, outcome.repaired) == (0, True)
    assert outcome.report.repaired
    assert model.calls == []


async def test_a_model_that_follows_the_instructions_makes_the_variant_compliant() -> (
    None
):
    model = Model()

    outcome = await enforce(TEXT, GUIDE, "x", STRICT, ["spring sale"], model)

    assert len(model.calls) == 1
    fixed_first, instructions = model.calls[0]
    assert fixed_first.startswith(
        "Our automagical tools help you leverage email. Mailchimp makes"
    )
    assert instructions == (
        "Rewrite the text to fix each of these problems and change nothing else:\n"
        '- Remove the word "automagical" (Say what it does).\n'
        '- Remove the word "leverage" (Fluffy corporate term: say what you mean).\n'
        "- Shorten by at least 15 weighted characters (as X counts them: most "
        "Latin letters and punctuation count 1, other scripts (CJK too) count 2, "
        "every emoji counts 2, every link counts 23). The X post is 295 weighted "
        "characters; the limit is 280.\n"
        '- Add the keyword "spring sale".\n'
        "- Keep the whole text within 280 weighted characters.\n"
        "Return only the rewritten text."
    )
    assert outcome.report.compliant
    assert rows(outcome.report) == []
    assert (outcome.attempts, outcome.report.repair_attempts) == (1, 1)
    assert outcome.repaired
    assert outcome.report.repaired
    assert outcome.text.endswith("Spring sale.")
    assert counting.x_weighted(outcome.text) <= 280


async def test_each_rewrite_is_checked_again_and_the_loop_continues() -> None:
    model = Model(diligence=1)

    outcome = await enforce(
        TEXT, GUIDE, "x", STRICT, ["spring sale"], model, max_rewrites=6
    )

    # One fix per rewrite; each next list comes from checking the answer.
    firsts = [instructions.splitlines()[1] for _, instructions in model.calls]
    assert firsts == [
        '- Remove the word "automagical" (Say what it does).',
        '- Remove the word "leverage" (Fluffy corporate term: say what you mean).',
        '- Add the keyword "spring sale".',
        "- Shorten by at least 7 weighted characters (as X counts them: most "
        "Latin letters and punctuation count 1, other scripts (CJK too) count 2, "
        "every emoji counts 2, every link counts 23). The X post is 287 weighted "
        "characters; the limit is 280.",
    ]
    assert outcome.report.compliant
    assert outcome.report.repair_attempts == 4


async def test_a_model_that_ignores_the_instructions_leaves_the_variant_flagged() -> (
    None
):
    model = Model(diligence=0)

    outcome = await enforce(TEXT, GUIDE, "x", STRICT, ["spring sale"], model)

    assert len(model.calls) == 2
    assert not outcome.report.compliant
    assert outcome.report.repair_attempts == 2
    # The fixes that need no model stay; nothing is cut to fit.
    assert (
        outcome.text
        == TEXT.replace("e-mail", "email").replace("MailChimp", "Mailchimp").strip()
    )
    assert [r[0] for r in rows(outcome.report) if r[4]] == [
        "banned.automagical",
        "banned.leverage",
        "length.x",
        "keyword.spring-sale",
    ]
    expected = check_variant(outcome.text, GUIDE, "x", STRICT, ["spring sale"])
    expected.repair_attempts, expected.repaired = 2, True
    assert outcome.report == expected


async def test_a_worse_rewrite_is_not_kept() -> None:
    model = Model(answer="We leverage funnels! Crazy ninja rockstars!! " * 9)

    outcome = await enforce(TEXT, GUIDE, "x", STRICT, ["spring sale"], model)

    assert len(model.calls) == 2
    # Both rewrites started from the best text, not from the bad answer.
    assert model.calls[0][0] == model.calls[1][0]
    assert outcome.text == model.calls[0][0]
    assert not outcome.report.compliant


async def test_an_empty_answer_counts_as_an_attempt() -> None:
    model = Model(answer="  \n")

    outcome = await enforce(TEXT, GUIDE, "x", STRICT, [], model, max_rewrites=1)

    assert len(model.calls) == 1
    assert outcome.attempts == 1
    assert outcome.text.startswith("Our automagical tools")
    assert not outcome.report.compliant


async def test_no_rewrites_allowed_means_fixes_without_a_model_only() -> None:
    model = Model()

    outcome = await enforce(TEXT, GUIDE, "x", STRICT, [], model, max_rewrites=0)

    assert model.calls == []
    assert outcome.attempts == 0
    assert outcome.repaired
    assert not outcome.report.compliant


async def test_a_failing_rewrite_propagates_its_error() -> None:
    async def broken(text: str, instructions: str) -> str:
        raise ConnectionError("provider down")

    with pytest.raises(ConnectionError, match="provider down"):
        await enforce(TEXT, GUIDE, "x", STRICT, [], broken)


async def test_loose_adherence_reports_and_never_repairs() -> None:
    model = Model()

    outcome = await enforce(TEXT, GUIDE, "x", LOOSE, [], model)

    assert outcome.text == TEXT
    assert outcome.report.compliant
    assert len(outcome.report.violations) == 5
    assert model.calls == []


async def test_a_negative_rewrite_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="max_rewrites"):
        await enforce(TEXT, GUIDE, "x", STRICT, [], Model(), max_rewrites=-1)


# -- the instruction list --


def test_instructions_cover_claims_conditions_sms_and_runs_of_marks() -> None:
    guide = pb.BrandGuide(
        approved_claims=["Rated 4.8/5 by 2,000 shops"],
        conditions=[pb.Condition(if_term="free trial", then_term="terms apply",
                                 severity=pb.SEVERITY_ERROR)],
        exclamation=pb.Policy(max_consecutive=1),
        rule_overrides=[pb.RuleOverride(rule_id="claims.*",
                                        severity=pb.SEVERITY_ERROR)],
    )  # fmt: skip
    text = "The best free trial!! " + "Long text here. " * 12
    report = check_variant(text, guide, "sms", pb.ADHERENCE_LEVEL_CUSTOM)
    report.length_limit = 1  # as if the guide allowed one segment

    instructions = rewrite_instructions(report, guide, "sms")

    assert instructions.splitlines()[1:-1] == [
        '- Remove or rephrase the claim in "The best free trial!!".',
        '- Add "terms apply": the text says "free trial".',
        '- The only claims you may make are: "Rated 4.8/5 by 2,000 shops".',
        "- Keep the whole text within 10 SMS segments.",
    ]
    assert [r[0] for r in rows(report) if not r[4]] == ["exclamation.consecutive"]


def test_sms_overflow_is_stated_in_characters() -> None:
    guide = pb.BrandGuide(
        platform_overrides=[pb.PlatformOverride(platform="sms", max_length=1)]
    )
    report = check_variant("a" * 170, guide, "sms", MODERATE)

    instructions = rewrite_instructions(report, guide, "sms")

    assert (
        "- Shorten by at least 10 characters so that the SMS fits 1 segment "
        "(one segment holds 160 GSM-7 characters"
    ) in instructions


def test_instructions_for_overuse_acronyms_commas_and_readability() -> None:
    guide = pb.BrandGuide(
        repetition=pb.RepetitionPolicy(max_word_uses=1),
        acronyms=pb.AcronymPolicy(require_definition=True),
        serial_comma=pb.SERIAL_COMMA_REQUIRED,
        reading_grade_max=1,
        rule_overrides=[
            pb.RuleOverride(rule_id=f"{family}.*", severity=pb.SEVERITY_ERROR)
            for family in ("overuse", "acronym", "serial_comma", "readability")
        ],
    )
    text = (
        "Ask the NOC about fast, simple and fair pricing for fast delivery. "
        "Understanding our comprehensive infrastructure requires considerable "
        "organisational commitment from everybody involved in operations today, "
        "tomorrow, and afterwards. Please reply to us by email this week."
    )
    report = check_variant(text, guide, "blog", pb.ADHERENCE_LEVEL_CUSTOM)

    lines = rewrite_instructions(report, guide, "blog").splitlines()[1:-1]

    assert lines == [
        '- Spell out "NOC" where it is first used, with "(NOC)" after it.',
        '- Add a comma before "and": "fast, simple, and fair".',
        '- Replace or drop some uses of "fast": "fast" is used 2 times; at most 1.',
        f"- {report.violations[-1].message} Use shorter sentences and plainer words.",
    ]
    assert report.violations[-1].message.startswith("Reading grade ")
