"""Enforcing a tenant's limits: reserve before the call, settle after.

Before any provider is called, the request's upper-bound estimate (one
request; every variant's prompt and full output allowance, in tokens and in
dollars) is reserved against the tenant's limits, so concurrent requests
cannot pass them together. When the request ends, however it ends, the
reservation is settled with what the calls really used, and the usage
records are written in the same transaction.

Without a database there is nothing to reserve against or record into:
:class:`Limiter` then admits everything, as the start-up log says.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import structlog

from generation_service.errors import (
    BudgetExceeded,
    GenerationError,
    LimitExceeded,
    TenantRateLimited,
)
from generation_service.policy import Limits, SpendPeriod
from generation_service.store.ledger import Charge, Ledger, Refusal
from generation_service.tally import Tally
from generation_service.usage import CallUsage

REQUESTS = "requests"
TOKENS = "tokens"
SPEND = "spend"

Clock = Callable[[], datetime]

_log = structlog.get_logger("byok.generation.limits")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Admission:
    """A request let in: what it reserved, to be settled once."""

    tenant_id: str
    request_id: str
    charges: Sequence[Charge] = ()
    reservation: uuid.UUID | None = None
    settled: bool = field(default=False)


class Limiter:
    def __init__(
        self, ledger: Ledger | None, reservation_ttl_s: float, clock: Clock = utc_now
    ) -> None:
        self._ledger = ledger
        self._ttl = timedelta(seconds=reservation_ttl_s)
        self._clock = clock

    async def admit(
        self, tenant_id: str, request_id: str, limits: Limits, estimate: CallUsage
    ) -> Admission:
        """Reserve ``estimate``; raises ``LimitExceeded`` when it does not fit."""
        if self._ledger is None or not limits.any:
            return Admission(tenant_id, request_id)

        now = self._clock()
        charges = _charges(limits, estimate, now)
        outcome = await self._ledger.reserve(tenant_id, charges, now, now + self._ttl)
        if isinstance(outcome, Refusal):
            raise _exceeded(outcome.charge, limits, now)
        return Admission(tenant_id, request_id, charges, outcome)

    async def settle(self, admission: Admission, tally: Tally) -> None:
        """Record the request's calls and settle its reservation; never raises.

        A failure leaves the reservation to expire: the tenant's limit stays
        on the safe side, and the caller's response is not failed for it.
        """
        if self._ledger is None or admission.settled:
            return
        admission.settled = True

        usage = tally.usage
        used = {
            REQUESTS: Decimal(1),
            TOKENS: Decimal(usage.tokens),
            SPEND: usage.cost_usd,
        }
        try:
            await self._ledger.settle(
                admission.reservation,
                admission.tenant_id,
                admission.request_id,
                admission.charges,
                used,
                tally.records,
            )
        except GenerationError as error:
            _log.warning(
                "usage not recorded",
                tenant=admission.tenant_id,
                request_id=admission.request_id,
                reason=error.reason,
            )


def _charges(limits: Limits, estimate: CallUsage, now: datetime) -> list[Charge]:
    minute = now.replace(second=0, microsecond=0)
    charges = []
    if limits.requests_per_minute:
        charges.append(
            Charge(REQUESTS, minute, Decimal(1), Decimal(limits.requests_per_minute))
        )
    if limits.tokens_per_minute:
        charges.append(
            Charge(
                TOKENS,
                minute,
                Decimal(estimate.tokens),
                Decimal(limits.tokens_per_minute),
            )
        )
    if limits.spend_limit_usd:
        charges.append(
            Charge(
                SPEND,
                period_start(limits.spend_period, now),
                estimate.cost_usd,
                limits.spend_limit_usd,
            )
        )
    return charges


def period_start(period: SpendPeriod, now: datetime) -> datetime:
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day if period is SpendPeriod.DAY else day.replace(day=1)


def period_end(period: SpendPeriod, start: datetime) -> datetime:
    if period is SpendPeriod.DAY:
        return start + timedelta(days=1)
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1)
    return start.replace(month=start.month + 1)


def _exceeded(charge: Charge, limits: Limits, now: datetime) -> LimitExceeded:
    if charge.meter == SPEND:
        end = period_end(limits.spend_period, charge.window_start)
        return BudgetExceeded(
            f"the tenant's spend limit of ${limits.spend_limit_usd} per "
            f"{limits.spend_period.value} would be exceeded by this request "
            f"(estimated at up to ${charge.amount:.6f})",
            retry_after_s=(end - now).total_seconds(),
        )
    end = charge.window_start + timedelta(minutes=1)
    unit = "requests" if charge.meter == REQUESTS else "tokens"
    return TenantRateLimited(
        f"the tenant's limit of {charge.limit} {unit} per minute would be "
        f"exceeded by this request",
        retry_after_s=max((end - now).total_seconds(), 0.001),
    )
