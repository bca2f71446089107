"""The service's small rules on their own: chain, prices, usage, periods."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from generation_service.chain import Step, provider_chain
from generation_service.config import GenerationSettings
from generation_service.limits import period_end, period_start
from generation_service.policy import (
    Limits,
    PlatformFallback,
    SpendPeriod,
    StoredLimits,
    StoredPolicy,
    effective,
    from_pb,
    to_pb,
)
from generation_service.pricing import PriceTable
from generation_service.providers import GenerationCall, Meter, TokenUsage
from generation_service.usage import measure, reserve_estimate
from shared.settings import SettingsError

CALL = GenerationCall(
    model="gpt-4o-mini",
    system="s" * 400,
    user="u" * 400,
    completion_prompt="c" * 100,
    stop=(),
    max_tokens=120,
    temperature=0.7,
)
SOCIAL = 1
BLOG = 4


@pytest.fixture(scope="module")
def prices() -> PriceTable:
    return PriceTable.load()


def settings(**env: str) -> GenerationSettings:
    return GenerationSettings.from_env(env)


@pytest.mark.parametrize(
    ("pinned", "model", "order", "env", "expected"),
    [
        # The service chain, when nothing else says otherwise.
        ("", "", (), {}, [Step("openai", "gpt-4o-mini"), Step("deepseek", "ds-1")]),
        # A tenant's order wins, unconfigured providers skipped.
        ("", "", ("local", "deepseek"), {}, [Step("deepseek", "ds-1")]),
        # Pinning a provider pins it alone.
        ("deepseek", "", (), {}, [Step("deepseek", "ds-1")]),
        # Pinning a model pins the first provider the tenant would use.
        ("", "m-9", ("deepseek",), {}, [Step("deepseek", "m-9")]),
        # No chain configured: the default provider alone.
        (
            "",
            "",
            (),
            {"GENERATION_PROVIDER_CHAIN": ""},
            [Step("openai", "gpt-4o-mini")],
        ),
    ],
)
def test_the_chain_follows_pin_then_tenant_then_service(
    pinned: str,
    model: str,
    order: tuple[str, ...],
    env: dict[str, str],
    expected: list[Step],
) -> None:
    configured = settings(
        **{
            "GENERATION_PROVIDER_CHAIN": "openai,deepseek",
            "DEEPSEEK_MODEL": "ds-1",
            **env,
        }
    )

    chain = provider_chain(configured, SOCIAL, pinned, model, order)

    assert list(chain) == expected


def test_a_model_per_content_type_applies_to_that_type_only() -> None:
    configured = settings(OPENAI_MODEL_BLOG_POST="gpt-4.1")

    assert provider_chain(configured, BLOG, "", "", ())[0].model == "gpt-4.1"
    assert provider_chain(configured, SOCIAL, "", "", ())[0].model == "gpt-4o-mini"


@pytest.mark.parametrize(
    ("provider", "model", "price", "fallback"),
    [
        ("openai", "gpt-4o-mini", ("0.15", "0.60"), False),
        ("openai", "gpt-4o-mini-2024-07-18", ("0.15", "0.60"), False),
        # The longest family wins: gpt-4.1-mini is not gpt-4.1.
        ("openai", "gpt-4.1-mini-2025-04-14", ("0.40", "1.60"), False),
        ("anthropic", "claude-3-5-haiku-latest", ("0.80", "4.00"), False),
        ("local", "anything", ("0", "0"), False),
        ("openai", "o9-preview", ("15.0", "75.0"), True),
        ("meta_llama", "Llama-3.3-70B-Instruct", ("15.0", "75.0"), True),
    ],
)
def test_prices_match_exact_names_then_families_then_defaults(
    prices: PriceTable,
    provider: str,
    model: str,
    price: tuple[str, str],
    fallback: bool,
) -> None:
    found = prices.price(provider, model)

    assert (found.input, found.output) == (Decimal(price[0]), Decimal(price[1]))
    assert found.fallback is fallback


def test_cached_input_is_priced_apart(prices: PriceTable) -> None:
    price = prices.price("openai", "gpt-4o-mini")

    cost = price.cost(input_tokens=1000, output_tokens=100, cached=400)

    expected = 600 * Decimal("0.15") + 400 * Decimal("0.075") + 100 * Decimal("0.6")
    assert cost == expected / 1_000_000


@pytest.mark.parametrize(
    "text",
    [
        '[default]\ninput = "x"\noutput = 1\n',
        "[openai]\n",
        "[default]\ninput = -1\noutput = 1",
    ],
)
def test_a_malformed_price_table_stops_the_start(tmp_path: Path, text: str) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(text)

    with pytest.raises(SettingsError, match="malformed"):
        PriceTable.load(path)


def test_a_call_refused_before_streaming_used_nothing(prices: PriceTable) -> None:
    usage = measure(prices, "openai", CALL, "", Meter(), finished=False)

    assert (usage.tokens, usage.estimated, usage.cost_usd) == (0, False, 0)


def test_reported_usage_of_a_finished_stream_is_taken_as_is(
    prices: PriceTable,
) -> None:
    meter = Meter(accepted=True, usage=TokenUsage(30, 12, cached_input_tokens=10))

    usage = measure(prices, "openai", CALL, "some text", meter, finished=True)

    assert (usage.input_tokens, usage.output_tokens) == (30, 12)
    assert usage.cached_input_tokens == 10
    assert not usage.estimated


@pytest.mark.parametrize(
    ("reported", "input_tokens"),
    # A reported input count is kept; otherwise 800 characters make 200.
    [(None, 200), (TokenUsage(0, 0), 200), (TokenUsage(180, 0), 180)],
    ids=str,
)
def test_streamed_text_is_never_counted_as_zero(
    prices: PriceTable, reported: TokenUsage | None, input_tokens: int
) -> None:
    meter = Meter(accepted=True, usage=reported)

    usage = measure(prices, "openai", CALL, "x" * 40, meter, finished=True)

    assert usage.estimated
    assert usage.output_tokens == 10
    assert usage.input_tokens == input_tokens
    assert usage.cost_usd > 0


def test_the_reservation_covers_the_whole_output_allowance(
    prices: PriceTable,
) -> None:
    estimate = reserve_estimate(prices, "openai", CALL)

    assert estimate.input_tokens == 400
    assert estimate.output_tokens == 120
    assert (
        estimate.cost_usd == (400 * Decimal("0.15") + 120 * Decimal("0.60")) / 1_000_000
    )


def test_the_local_model_is_estimated_on_its_completion_prompt(
    prices: PriceTable,
) -> None:
    meter = Meter(accepted=True)

    usage = measure(prices, "local", CALL, "abcd", meter, finished=True)

    assert usage.input_tokens == 25


@pytest.mark.parametrize(
    ("period", "now", "start", "end"),
    [
        (
            SpendPeriod.MONTH,
            datetime(2026, 12, 31, 23, 59, tzinfo=UTC),
            datetime(2026, 12, 1, tzinfo=UTC),
            datetime(2027, 1, 1, tzinfo=UTC),
        ),
        (
            SpendPeriod.MONTH,
            datetime(2026, 2, 10, 8, 0, tzinfo=UTC),
            datetime(2026, 2, 1, tzinfo=UTC),
            datetime(2026, 3, 1, tzinfo=UTC),
        ),
        (
            SpendPeriod.DAY,
            datetime(2026, 2, 28, 13, 5, tzinfo=UTC),
            datetime(2026, 2, 28, tzinfo=UTC),
            datetime(2026, 3, 1, tzinfo=UTC),
        ),
    ],
)
def test_spend_periods_are_calendar_days_and_months_in_utc(
    period: SpendPeriod, now: datetime, start: datetime, end: datetime
) -> None:
    assert period_start(period, now) == start
    assert period_end(period, start) == end


def test_a_stored_policy_fills_only_what_it_sets() -> None:
    defaults = Limits(requests_per_minute=60, tokens_per_minute=1000)
    stored = StoredPolicy(
        "t1", limits=StoredLimits(tokens_per_minute=0, spend_limit_usd=Decimal(5))
    )

    policy = effective(stored, PlatformFallback.AUTO, defaults)

    assert policy.platform_fallback is PlatformFallback.AUTO
    assert policy.limits == Limits(
        requests_per_minute=60,
        tokens_per_minute=0,
        spend_limit_usd=Decimal(5),
        spend_period=SpendPeriod.MONTH,
    )


def test_a_policy_survives_the_wire_form() -> None:
    stored = StoredPolicy(
        "t1",
        PlatformFallback.DENIED,
        ("anthropic",),
        StoredLimits(requests_per_minute=0, spend_limit_usd=Decimal("12.5")),
    )

    assert from_pb(to_pb(stored)) == stored
