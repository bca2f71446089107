"""Running every variant of a request concurrently into one ordered stream.

Variants run as tasks of one task group, at most ``parallel`` at a time, and
put their events on a bounded queue that the RPC drains; a slow caller thus
slows the providers' reads down rather than filling memory. When the caller
goes away, the generator's ``finally`` cancels the group, which closes every
open provider connection before the RPC ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass

import structlog
from byok.generation.v1 import generation_pb2

from generation_service.errors import (
    GenerationError,
    GenerationTimedOut,
    InternalFailure,
)
from generation_service.variants import Emit, VariantPlan, VariantRunner

QUEUE_SIZE = 256

_log = structlog.get_logger("byok.generation.fanout")

Response = generation_pb2.GenerateContentResponse


@dataclass(frozen=True)
class _Done:
    failure: GenerationError | None


async def stream_variants(
    plans: Sequence[VariantPlan],
    make_runner: Callable[[Emit], VariantRunner],
    parallel: int,
    timeout_s: float,
) -> AsyncGenerator[Response, None]:
    """Yield every variant's events; raise a request-wide failure at the end."""
    queue: asyncio.Queue[Response | _Done] = asyncio.Queue(QUEUE_SIZE)
    runner = make_runner(queue.put)
    producer = asyncio.create_task(_produce(plans, runner, parallel, timeout_s, queue))
    try:
        while True:
            item = await queue.get()
            if isinstance(item, _Done):
                if item.failure is not None:
                    raise item.failure
                return
            yield item
    finally:
        if not producer.done():
            producer.cancel()
            # Wait for the cancellation to close the provider streams.
            await asyncio.wait([producer])


async def _produce(
    plans: Sequence[VariantPlan],
    runner: VariantRunner,
    parallel: int,
    timeout_s: float,
    queue: asyncio.Queue[Response | _Done],
) -> None:
    failure: GenerationError | None = InternalFailure("the generation failed")
    try:
        async with asyncio.timeout(timeout_s):
            failure = await _run_all(plans, runner, parallel)
    except TimeoutError:
        failure = GenerationTimedOut(
            f"the generation did not finish within {timeout_s:g}s"
        )
    except Exception:
        # Only defects get here: provider errors were translated already.
        _log.exception("variant task failed")
    # Not on cancellation: then nobody is left to read the queue.
    await queue.put(_Done(failure))


async def _run_all(
    plans: Sequence[VariantPlan], runner: VariantRunner, parallel: int
) -> GenerationError | None:
    slots = asyncio.Semaphore(parallel)

    async def one(plan: VariantPlan) -> None:
        async with slots:
            await runner.run(plan)

    failure: GenerationError | None = None
    try:
        async with asyncio.TaskGroup() as group:
            for plan in plans:
                group.create_task(one(plan))
    except* GenerationError as failures:
        # The first request-wide failure cancelled the other variants.
        failure = failures.exceptions[0]  # type: ignore[assignment]
    return failure
