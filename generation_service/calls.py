"""One provider call, streamed, metered and recorded however it ends.

:meth:`Calls.stream` hands each piece of text to the caller as it arrives;
the caller may stop the stream early (a blocked STRICT variant), and the
provider connection is then closed at once rather than read to its end.
:meth:`Calls.collect` makes a call whose text is not streamed to anyone (a
brand rewrite). Either way the call lands in the request's :class:`Tally`
with its usage: completed, failed with its reason, or cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field

from generation_service.chain import Step
from generation_service.errors import EmptyOutput, GenerationError
from generation_service.keys import ResolvedKey
from generation_service.pricing import PriceTable
from generation_service.providers import Adapters, Finished, GenerationCall, Meter
from generation_service.tally import OK, AttemptRecord, CallStatus, Tally
from generation_service.usage import measure

# Gets each piece of text; returns True to stop the stream there.
OnText = Callable[[str], Awaitable[bool]]

BRAND_STOPPED = "BRAND_STOPPED"
CANCELLED = "CANCELLED"
REWRITE = "rewrite"


@dataclass
class Attempt:
    """One call: what it sends, and what came back so far."""

    variant_index: int
    step: Step
    key: ResolvedKey
    call: GenerationCall
    meter: Meter = field(default_factory=Meter)
    pieces: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.pieces)


@dataclass(frozen=True)
class Ending:
    # None when the caller stopped the stream.
    finished: Finished | None

    @property
    def stopped(self) -> bool:
        return self.finished is None


class Calls:
    def __init__(self, adapters: Adapters, prices: PriceTable, tally: Tally) -> None:
        self._adapters = adapters
        self._prices = prices
        self._tally = tally

    async def stream(self, attempt: Attempt, on_text: OnText) -> Ending:
        """Stream ``attempt``; raises ``EmptyOutput`` for a stream with no text."""
        status, outcome, finished = CallStatus.FAILED, "", None
        try:
            finished = await self._read(attempt, on_text)
            if finished is None:
                status, outcome = CallStatus.CANCELLED, BRAND_STOPPED
            elif not attempt.text.strip():
                raise EmptyOutput(attempt.step.provider, "the model returned no text")
            else:
                status, outcome = CallStatus.COMPLETED, OK
        except GenerationError as error:
            outcome = error.reason
            raise
        except asyncio.CancelledError:
            status, outcome = CallStatus.CANCELLED, CANCELLED
            raise
        finally:
            self._record(attempt, status, outcome, finished)
        return Ending(finished)

    async def collect(self, attempt: Attempt) -> str:
        """The whole text of ``attempt``, streamed to nobody."""

        async def keep(_: str) -> bool:
            return False

        status, outcome, finished = CallStatus.FAILED, "", None
        try:
            finished = await self._read(attempt, keep)
            status, outcome = CallStatus.COMPLETED, REWRITE
        except GenerationError as error:
            outcome = error.reason
            raise
        except asyncio.CancelledError:
            status, outcome = CallStatus.CANCELLED, CANCELLED
            raise
        finally:
            self._record(attempt, status, outcome, finished)
        return attempt.text

    async def _read(self, attempt: Attempt, on_text: OnText) -> Finished | None:
        adapter = self._adapters.build(attempt.key)
        # aclosing: leaving early closes the provider's stream right away.
        async with aclosing(adapter.stream(attempt.call, attempt.meter)) as events:
            async for event in events:
                if isinstance(event, Finished):
                    return event
                attempt.pieces.append(event.text)
                if await on_text(event.text):
                    return None
        # Adapters end with Finished or raise; reaching here is a defect.
        raise AssertionError("adapter stream ended without Finished")

    def _record(
        self,
        attempt: Attempt,
        status: CallStatus,
        outcome: str,
        finished: Finished | None,
    ) -> None:
        usage = measure(
            self._prices,
            attempt.step.provider,
            attempt.call,
            attempt.text,
            attempt.meter,
            finished is not None,
        )
        self._tally.add(
            AttemptRecord(
                variant_index=attempt.variant_index,
                provider=attempt.step.provider,
                model=attempt.step.model,
                key_source=attempt.key.source,
                key_fingerprint=attempt.key.fingerprint,
                outcome=outcome,
                status=status,
                usage=usage,
            )
        )
