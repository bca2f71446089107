"""Tokens and cost of one provider call, reported or estimated.

The provider's own count is used when it gave one for a stream that ended
properly. Otherwise the count is estimated from the characters sent and
received, and marked ``estimated``: a call that streamed text is never
counted as 0 tokens. A call the provider refused before streaming (an HTTP
error) used nothing and is counted as 0, truthfully and unestimated.

TODO(reconcile with provider invoices): estimates are never corrected
afterwards; under BYOK the tenant's own invoice is the ground truth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from byok.generation.v1 import generation_pb2

from generation_service.pricing import PriceTable
from generation_service.providers import COMPLETION_STYLE, GenerationCall, Meter

# Rough characters per token of English text, for estimating usage a
# provider did not report.
CHARS_PER_TOKEN = 4
# For reserving against limits, before anything is known: an upper bound
# that holds for most scripts, so the reservation covers the real count.
RESERVE_CHARS_PER_TOKEN = 2


@dataclass(frozen=True)
class CallUsage:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    estimated: bool = False
    cost_usd: Decimal = Decimal(0)
    cost_estimated: bool = False

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: CallUsage) -> CallUsage:
        return CallUsage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cached_input_tokens=self.cached_input_tokens + other.cached_input_tokens,
            estimated=self.estimated or other.estimated,
            cost_usd=self.cost_usd + other.cost_usd,
            cost_estimated=self.cost_estimated or other.cost_estimated,
        )

    def to_pb(self) -> generation_pb2.Usage:
        return generation_pb2.Usage(
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cached_input_tokens=self.cached_input_tokens,
            estimated=self.estimated,
            cost_usd=float(self.cost_usd),
            cost_estimated=self.cost_estimated,
        )


def measure(
    prices: PriceTable,
    provider: str,
    call: GenerationCall,
    received: str,
    meter: Meter,
    finished: bool,
) -> CallUsage:
    """What one call used: ``received`` is the text that arrived."""
    if not meter.accepted:
        return CallUsage()

    reported = meter.usage
    if (
        finished
        and reported is not None
        and (reported.output_tokens > 0 or not received)
    ):
        input_tokens = reported.input_tokens
        output_tokens = reported.output_tokens
        cached = reported.cached_input_tokens
        estimated = False
    else:
        # A partial count (say, input from Anthropic's message_start) is kept
        # where it is better than the estimate.
        input_tokens = estimate_tokens(_prompt_of(provider, call))
        output_tokens = estimate_tokens(received)
        cached = 0
        if reported is not None:
            input_tokens = reported.input_tokens or input_tokens
            output_tokens = max(output_tokens, reported.output_tokens)
            cached = reported.cached_input_tokens
        estimated = True

    price = prices.price(provider, call.model)
    return CallUsage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_input_tokens=cached,
        estimated=estimated,
        cost_usd=price.cost(input_tokens, output_tokens, cached),
        cost_estimated=price.fallback,
    )


def reserve_estimate(
    prices: PriceTable, provider: str, call: GenerationCall
) -> CallUsage:
    """An upper bound for one call, to reserve against a tenant's limits."""
    prompt = _prompt_of(provider, call)
    input_tokens = math.ceil(len(prompt) / RESERVE_CHARS_PER_TOKEN)
    price = prices.price(provider, call.model)
    return CallUsage(
        input_tokens=input_tokens,
        output_tokens=call.max_tokens,
        estimated=True,
        cost_usd=price.cost(input_tokens, call.max_tokens),
        cost_estimated=price.fallback,
    )


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def _prompt_of(provider: str, call: GenerationCall) -> str:
    if provider in COMPLETION_STYLE:
        return call.completion_prompt
    return call.system + call.user
