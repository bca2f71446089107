"""Reserving against a tenant's limits, settling, and the usage records.

A reservation adds the request's estimate to ``reserved`` of every limited
meter's current window, in one transaction, and only where ``used +
reserved`` stays within the limit: the row lock of the upsert serialises a
tenant's concurrent requests, so together they can never pass a limit. The
meters are always taken in the same order, so two requests never deadlock.

Settling, also one transaction, writes the usage records, moves the
estimate out of ``reserved`` and the real amounts into ``used``, and drops
the reservation row. A reservation never settled (its replica stopped) is
released the next time its tenant reserves, once it expired.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import asyncpg

from generation_service.store.database import Database, translated
from generation_service.tally import AttemptRecord

_RESERVE = """
INSERT INTO generation.limit_windows AS w (tenant_id, meter, window_start, reserved)
VALUES ($1, $2, $3, $4)
ON CONFLICT (tenant_id, meter, window_start) DO UPDATE
   SET reserved = w.reserved + EXCLUDED.reserved
 WHERE w.used + w.reserved + EXCLUDED.reserved <= $5
RETURNING w.used
"""

_SETTLE = """
UPDATE generation.limit_windows
   SET reserved = greatest(reserved - $4, 0), used = used + $5
 WHERE tenant_id = $1 AND meter = $2 AND window_start = $3
"""

_RELEASE = """
UPDATE generation.limit_windows
   SET reserved = greatest(reserved - $4, 0)
 WHERE tenant_id = $1 AND meter = $2 AND window_start = $3
"""

_EXPIRED = """
DELETE FROM generation.reservations
 WHERE tenant_id = $1 AND expires_at < $2
RETURNING amounts
"""

_RECORD = """
INSERT INTO generation.usage_records
       (request_id, tenant_id, variant_index, provider, model, key_source,
        key_fingerprint, status, outcome, input_tokens, output_tokens,
        cached_input_tokens, usage_estimated, cost_usd, cost_estimated)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
"""

_TOTALS = """
SELECT provider, model, key_source, status, count(*) AS calls,
       sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
       sum(cost_usd) AS cost_usd,
       count(*) FILTER (WHERE usage_estimated) AS estimated_calls,
       count(*) FILTER (WHERE cost_estimated) AS cost_estimated_calls
  FROM generation.usage_records
 WHERE tenant_id = $1 AND recorded_at >= $2
 GROUP BY provider, model, key_source, status
 ORDER BY provider, model, key_source, status
"""


@dataclass(frozen=True)
class Charge:
    """An amount against one meter's window, and the limit it must fit."""

    meter: str
    window_start: datetime
    amount: Decimal
    limit: Decimal


@dataclass(frozen=True)
class Refusal:
    """The charge that did not fit."""

    charge: Charge


@dataclass(frozen=True)
class UsageTotal:
    provider: str
    model: str
    key_source: str
    status: str
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal
    estimated_calls: int
    cost_estimated_calls: int


class Ledger:
    def __init__(self, database: Database) -> None:
        self._pool = database.pool

    async def reserve(
        self,
        tenant_id: str,
        charges: Sequence[Charge],
        now: datetime,
        expires_at: datetime,
    ) -> uuid.UUID | Refusal:
        """Reserve every charge, or none; the id settles them later."""
        for charge in charges:
            if charge.amount > charge.limit:
                return Refusal(charge)

        reservation = uuid.uuid4()
        try:
            with translated():
                async with (
                    self._pool.acquire() as connection,
                    connection.transaction(),
                ):
                    await _release_expired(connection, tenant_id, now)
                    for charge in sorted(charges, key=lambda c: c.meter):
                        await _charge(connection, tenant_id, charge)
                    await connection.execute(
                        "INSERT INTO generation.reservations"
                        " (id, tenant_id, amounts, expires_at)"
                        " VALUES ($1, $2, $3, $4)",
                        reservation,
                        tenant_id,
                        _amounts_json(charges),
                        expires_at,
                    )
        except _Refused as refused:
            return Refusal(refused.charge)
        return reservation

    async def settle(
        self,
        reservation: uuid.UUID | None,
        tenant_id: str,
        request_id: str,
        charges: Sequence[Charge],
        used: dict[str, Decimal],
        records: Sequence[AttemptRecord],
    ) -> None:
        """Record the calls and turn the reservation into what was used."""
        rows = [_record_row(request_id, tenant_id, r) for r in records if r.sent]
        with translated():
            async with (
                self._pool.acquire() as connection,
                connection.transaction(),
            ):
                if rows:
                    await connection.executemany(_RECORD, rows)
                if reservation is None:
                    return
                deleted = await connection.fetchval(
                    "DELETE FROM generation.reservations WHERE id = $1 RETURNING id",
                    reservation,
                )
                for charge in sorted(charges, key=lambda c: c.meter):
                    # Expired and released already: only count the use.
                    held = charge.amount if deleted else Decimal(0)
                    await connection.execute(
                        _SETTLE,
                        tenant_id,
                        charge.meter,
                        charge.window_start,
                        held,
                        used.get(charge.meter, Decimal(0)),
                    )

    async def totals(self, tenant_id: str, since: datetime) -> list[UsageTotal]:
        with translated():
            rows = await self._pool.fetch(_TOTALS, tenant_id, since)
        return [
            UsageTotal(
                provider=row["provider"],
                model=row["model"],
                key_source=row["key_source"],
                status=row["status"],
                calls=row["calls"],
                input_tokens=row["input_tokens"],
                output_tokens=row["output_tokens"],
                cost_usd=row["cost_usd"],
                estimated_calls=row["estimated_calls"],
                cost_estimated_calls=row["cost_estimated_calls"],
            )
            for row in rows
        ]

    async def window(
        self, tenant_id: str, meter: str, window_start: datetime
    ) -> tuple[Decimal, Decimal]:
        """``(used, reserved)`` of one window; zeros when it has no row."""
        with translated():
            row = await self._pool.fetchrow(
                "SELECT used, reserved FROM generation.limit_windows"
                " WHERE tenant_id = $1 AND meter = $2 AND window_start = $3",
                tenant_id,
                meter,
                window_start,
            )
        if row is None:
            return Decimal(0), Decimal(0)
        return row["used"], row["reserved"]


class _Refused(Exception):
    def __init__(self, charge: Charge) -> None:
        super().__init__(charge.meter)
        self.charge = charge


async def _charge(
    connection: asyncpg.Connection, tenant_id: str, charge: Charge
) -> None:
    granted = await connection.fetchrow(
        _RESERVE,
        tenant_id,
        charge.meter,
        charge.window_start,
        charge.amount,
        charge.limit,
    )
    if granted is None:
        # Raised through the transaction, which rolls every charge back.
        raise _Refused(charge)


async def _release_expired(
    connection: asyncpg.Connection, tenant_id: str, now: datetime
) -> None:
    for row in await connection.fetch(_EXPIRED, tenant_id, now):
        for held in json.loads(row["amounts"]):
            await connection.execute(
                _RELEASE,
                tenant_id,
                held["meter"],
                datetime.fromisoformat(held["window_start"]),
                Decimal(held["amount"]),
            )


def _amounts_json(charges: Sequence[Charge]) -> str:
    return json.dumps(
        [
            {
                "meter": charge.meter,
                "window_start": charge.window_start.isoformat(),
                "amount": str(charge.amount),
            }
            for charge in charges
        ]
    )


def _record_row(request_id: str, tenant_id: str, record: AttemptRecord) -> tuple:
    usage = record.usage
    return (
        request_id,
        tenant_id,
        record.variant_index,
        record.provider,
        record.model,
        record.key_source_name,
        record.key_fingerprint,
        record.status.value,
        record.outcome,
        usage.input_tokens,
        usage.output_tokens,
        usage.cached_input_tokens,
        usage.estimated,
        usage.cost_usd,
        usage.cost_estimated,
    )
