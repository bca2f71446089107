"""What runs inside the load process: clients, interleaving and timing.

:func:`run` takes one job (see :mod:`bench.targets`) and returns raw samples
per side. Sides take turns: request by request for sequential latency,
burst by burst for throughput, round by round for concurrent streams, and
the turn order rotates so no side always goes first.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TypeVar

import grpc
from byok.generation.v1 import generation_pb2

from bench import workloads
from bench.targets import (
    BrandJob,
    GenerationTarget,
    OpenAiTarget,
    StreamJob,
    StreamSamples,
    StreamTarget,
    Tls,
    UnaryLatencyJob,
    UnarySamples,
    UnaryTarget,
    UnaryThroughputJob,
)

Job = UnaryLatencyJob | UnaryThroughputJob | StreamJob | BrandJob
UNARY_TIMEOUT_S = 10.0
# HTTP/2 servers cap concurrent streams per connection; stay well under.
STREAMS_PER_CHANNEL = 100
GENERATE_METHOD = "/byok.generation.v1.GenerationService/GenerateContent"

T = TypeVar("T")


def run(job: Job) -> dict[str, UnarySamples] | dict[str, StreamSamples] | dict:
    if isinstance(job, BrandJob):
        return _brand(job)
    return asyncio.run(_run_async(job))


async def _run_async(job: Job) -> dict:
    if isinstance(job, UnaryLatencyJob):
        return await _unary_latency(job)
    if isinstance(job, UnaryThroughputJob):
        return await _unary_throughput(job)
    if isinstance(job, StreamJob):
        return await _streams(job)
    raise TypeError(f"unknown job {type(job).__name__}")


def rotated(items: Sequence[T], turn: int) -> list[T]:
    shift = turn % len(items)
    return [*items[shift:], *items[:shift]]


# -- unary -------------------------------------------------------------------

Call = Callable[[bytes], Awaitable[bytes]]


def _credentials(tls: Tls) -> grpc.ChannelCredentials:
    with (
        open(tls.ca, "rb") as ca,
        open(tls.cert, "rb") as cert,
        open(tls.key, "rb") as key,
    ):
        return grpc.ssl_channel_credentials(ca.read(), key.read(), cert.read())


def _channel(address: str, tls: Tls, own_connection: bool = False) -> grpc.aio.Channel:
    # Without a local pool, channels to one address share one connection.
    options = [("grpc.use_local_subchannel_pool", 1)] if own_connection else []
    return grpc.aio.secure_channel(address, _credentials(tls), options=options)


async def _unary_calls(
    stack: AsyncExitStack, targets: Sequence[UnaryTarget]
) -> dict[str, Call]:
    calls: dict[str, Call] = {}
    for target in targets:
        channel = await stack.enter_async_context(_channel(target.address, target.tls))
        method = channel.unary_unary(target.method)

        async def call(request: bytes, method=method) -> bytes:
            return await method(request, timeout=UNARY_TIMEOUT_S)

        calls[target.name] = call
    return calls


async def _unary_latency(job: UnaryLatencyJob) -> dict[str, UnarySamples]:
    results = {t.name: UnarySamples([], 0, 0.0, 0) for t in job.targets}
    async with AsyncExitStack() as stack:
        calls = await _unary_calls(stack, job.targets)
        for warm in range(job.warmup):
            for target in job.targets:
                await calls[target.name](_request(target, job.count + warm))

        for index in range(job.count):
            for target in rotated(job.targets, index):
                await _timed_call(
                    calls[target.name], _request(target, index), results[target.name]
                )
    for samples in results.values():
        samples.wall_s = sum(samples.latencies_ms) / 1000
    return results


async def _unary_throughput(job: UnaryThroughputJob) -> dict[str, UnarySamples]:
    results = {t.name: UnarySamples([], 0, 0.0, 0) for t in job.targets}
    async with AsyncExitStack() as stack:
        calls = await _unary_calls(stack, job.targets)
        for target in job.targets:
            await _burst(calls[target.name], target, job, UnarySamples([], 0, 0.0, 0))
        for round_ in range(job.rounds):
            for target in rotated(job.targets, round_):
                await _burst(calls[target.name], target, job, results[target.name])
    return results


async def _burst(
    call: Call, target: UnaryTarget, job: UnaryThroughputJob, into: UnarySamples
) -> None:
    sent = 0

    async def worker() -> None:
        nonlocal sent
        while sent < job.burst:
            index = sent
            sent += 1
            await _timed_call(call, _request(target, index), into)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(job.concurrency)))
    into.wall_s += time.perf_counter() - started


async def _timed_call(call: Call, request: bytes, into: UnarySamples) -> None:
    started = time.perf_counter()
    try:
        await call(request)
    except grpc.aio.AioRpcError as error:
        into.failures += 1
        into.first_error = into.first_error or f"{error.code().name}: {error.details()}"
        return
    into.latencies_ms.append((time.perf_counter() - started) * 1000)
    into.operations += 1


def _request(target: UnaryTarget, index: int) -> bytes:
    return target.requests[index % len(target.requests)]


# -- streams -----------------------------------------------------------------

Deltas = Callable[[int], AsyncIterator[None]]


@dataclass
class _Stream:
    started: float
    ended: float = 0.0
    ttft_ms: float | None = None
    received: int = 0
    error: str = ""


async def _streams(job: StreamJob) -> dict[str, StreamSamples]:
    results = {t.name: StreamSamples([], [], 0, 0.0, 0, 0, 0) for t in job.targets}
    async with AsyncExitStack() as stack:
        openers = {
            t.name: await _stream_opener(stack, t, job.concurrency) for t in job.targets
        }
        warmup = warmup_streams(job.concurrency)
        for target in job.targets:
            scratch = StreamSamples([], [], 0, 0.0, 0, 0, 0)
            await _batch(openers[target.name], warmup, 0.0, job, scratch)

        for round_ in range(job.rounds):
            for target in rotated(job.targets, round_):
                await _batch(
                    openers[target.name],
                    job.concurrency,
                    job.ramp_s,
                    job,
                    results[target.name],
                )
    return results


def warmup_streams(concurrency: int) -> int:
    """Streams each side runs, unmeasured, before its rounds."""
    return min(concurrency, 20)


async def _batch(
    opener: Deltas, count: int, ramp_s: float, job: StreamJob, into: StreamSamples
) -> None:
    records: list[_Stream] = []

    async def one(index: int) -> None:
        await asyncio.sleep(ramp_s * index / count)
        record = _Stream(time.perf_counter())
        records.append(record)
        last = record.started
        try:
            async with asyncio.timeout(job.timeout_s):
                async for _ in opener(index):
                    now = time.perf_counter()
                    if record.ttft_ms is None:
                        record.ttft_ms = (now - record.started) * 1000
                    else:
                        into.gaps_ms.append((now - last) * 1000)
                    last = now
                    record.received += 1
        except Exception as error:  # any failure counts the same
            record.error = _describe(error)
        record.ended = time.perf_counter()

    started = time.perf_counter()
    await asyncio.gather(*(one(index) for index in range(count)))
    into.wall_s += time.perf_counter() - started

    for record in records:
        into.streams += 1
        into.dropped_frames += max(0, job.expected_deltas - record.received)
        if record.error:
            into.failed_streams += 1
            into.first_error = into.first_error or record.error
        elif record.ttft_ms is not None:
            into.ttft_ms.append(record.ttft_ms)
    into.peak_concurrency = max(into.peak_concurrency, _peak(records))


def _describe(error: Exception) -> str:
    if isinstance(error, grpc.aio.AioRpcError):
        return f"gRPC {error.code().name}: {error.details()}"
    return f"{type(error).__name__}: {error}"[:300]


def _peak(records: Sequence[_Stream]) -> int:
    edges = sorted([(r.started, 1) for r in records] + [(r.ended, -1) for r in records])
    peak = current = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak


async def _stream_opener(
    stack: AsyncExitStack, target: StreamTarget, concurrency: int
) -> Deltas:
    if isinstance(target, GenerationTarget):
        return await _generation_opener(stack, target, concurrency)
    return await _openai_opener(stack, target)


async def _generation_opener(
    stack: AsyncExitStack, target: GenerationTarget, concurrency: int
) -> Deltas:
    channels = []
    for _ in range(math.ceil(concurrency / STREAMS_PER_CHANNEL)):
        channel = _channel(target.address, target.tls, own_connection=True)
        channels.append(await stack.enter_async_context(channel))
    methods = [
        channel.unary_stream(
            GENERATE_METHOD,
            response_deserializer=generation_pb2.GenerateContentResponse.FromString,
        )
        for channel in channels
    ]

    async def deltas(index: int) -> AsyncIterator[None]:
        call = methods[index % len(methods)](target.request)
        async for response in call:
            kind = response.WhichOneof("event")
            if kind == "text_delta":
                yield None
            elif kind == "variant_failed":
                failed = response.variant_failed
                raise RuntimeError(f"variant failed: {failed.reason}")

    return deltas


async def _openai_opener(stack: AsyncExitStack, target: OpenAiTarget) -> Deltas:
    import openai

    http = await stack.enter_async_context(openai.DefaultAsyncHttpxClient())
    client = openai.AsyncOpenAI(
        api_key=target.api_key,
        base_url=target.base_url,
        max_retries=0,
        http_client=http,
    )

    async def deltas(index: int) -> AsyncIterator[None]:
        stream = await client.chat.completions.create(
            model=target.model,
            messages=list(workloads.CHAT_MESSAGES),  # type: ignore[arg-type]
            max_tokens=workloads.MAX_TOKENS,
            stream=True,
            stream_options={"include_usage": True},
        )
        async with stream:
            async for chunk in stream:
                for choice in chunk.choices:
                    if choice.delta.content:
                        yield None

    return deltas


# -- brand -------------------------------------------------------------------


def _brand(job: BrandJob) -> dict[int, list[float]]:
    """Microseconds per ``check_variant`` call, per text length."""
    from generation_service.brand import check_variant

    guide = workloads.brand_guide()
    moderate = workloads.generation_request("t").adherence
    results: dict[int, list[float]] = {}
    for length in job.lengths:
        text = workloads.marketing_text(length)
        check_variant(text, guide, "blog", moderate, ["jacket"])
        samples = []
        for _ in range(job.repeats):
            started = time.perf_counter()
            check_variant(text, guide, "blog", moderate, ["jacket"])
            samples.append((time.perf_counter() - started) * 1_000_000)
        results[length] = samples
    return results
