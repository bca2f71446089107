"""The scenarios: each measures, prints its tables and records figures.

Every scenario takes the :class:`~bench.runner.Run` and returns tables; the
figures the targets need go into ``run.figures``. Sides that are compared
run in the same job, so the load process interleaves them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from byok.keyvault.v1 import keyvault_pb2

from bench import counts as limits
from bench import echo, workloads
from bench.loadgen import warmup_streams
from bench.runner import LOADGEN, Run
from bench.stack import PROVIDER
from bench.stats import Summary, ratio, summarise
from bench.tables import Table, fmt, latency_cells, megabytes
from bench.targets import (
    BrandJob,
    GenerationTarget,
    OpenAiTarget,
    StreamJob,
    StreamSamples,
    StreamTarget,
    UnaryLatencyJob,
    UnarySamples,
    UnaryTarget,
    UnaryThroughputJob,
)

GET_DECRYPTED_KEY = "/byok.keyvault.v1.KeyVaultService/GetDecryptedKey"
ECHO, WARM, COLD = "echo", "warm", "cold"
SIDE_LABELS = {
    ECHO: "bare grpc.aio mTLS echo",
    WARM: "KeyVault warm (local KEK)",
    COLD: "KeyVault cold (bao transit)",
}
DIRECT, GENERATION, LITELLM = "direct", "generation", "litellm"
STREAM_LABELS = {
    DIRECT: "direct openai SDK",
    GENERATION: "Generation (gRPC)",
    LITELLM: "LiteLLM proxy",
}
# Where each side's server memory is read from.
STREAM_SERVICE = {GENERATION: "generation", LITELLM: "litellm"}
UNARY_SERVICE = {ECHO: "echo", WARM: "keyvault-local", COLD: "keyvault-vault"}
BOUNDS_MS = (1.0, 2.0, 5.0, 10.0, 50.0)
WARM_TENANT = "bench-warm"
GENERATION_TENANT = "bench-generation"

Scenario = Callable[[Run], list[Table]]


# -- KeyVault ----------------------------------------------------------------


def _key_request(tenant: str) -> bytes:
    message = keyvault_pb2.GetDecryptedKeyRequest(tenant_id=tenant, provider=PROVIDER)
    return message.SerializeToString()


def _unary_targets(run: Run, cold_calls: int) -> tuple[UnaryTarget, ...]:
    stack = run.stack
    warm_address = stack.keyvault("local")
    stack.seed_keys(warm_address, [WARM_TENANT])
    targets = [
        UnaryTarget(
            ECHO,
            stack.echo(),
            stack.tls("generation"),
            echo.METHOD,
            (_key_request(WARM_TENANT),),
        ),
        UnaryTarget(
            WARM,
            warm_address,
            stack.tls("generation"),
            GET_DECRYPTED_KEY,
            (_key_request(WARM_TENANT),),
        ),
    ]
    if cold_calls:
        cold_address = stack.keyvault("vault")
        # A tenant per call: each read is that key's first.
        tenants = [f"bench-cold-{index}" for index in range(cold_calls)]
        stack.seed_keys(cold_address, tenants)
        requests = tuple(_key_request(tenant) for tenant in tenants)
        targets.append(
            UnaryTarget(
                COLD, cold_address, stack.tls("generation"), GET_DECRYPTED_KEY, requests
            )
        )
    return tuple(targets)


def keyvault(run: Run) -> list[Table]:
    counts = run.counts
    targets = _unary_targets(run, counts.unary_calls + counts.unary_warmup)

    latency = run.measure(
        "keyvault", UnaryLatencyJob(targets, counts.unary_calls, counts.unary_warmup)
    )
    loaded = run.measure(
        "keyvault",
        UnaryThroughputJob(
            targets[:2],
            counts.throughput_concurrency,
            counts.throughput_burst,
            counts.throughput_rounds,
        ),
    )

    sequential = _unary_table(
        "KeyVault GetDecryptedKey vs bare gRPC echo, one call at a time, interleaved",
        latency,
        run,
    )
    closed = _unary_table(
        f"Closed loop, {counts.throughput_concurrency} calls in flight, "
        "interleaved bursts",
        loaded,
        run,
    )
    seq = {name: _summary(samples) for name, samples in latency.items()}
    busy = {name: _summary(samples) for name, samples in loaded.items()}
    for name, summary in seq.items():
        _record(run, f"keyvault.{name}", summary)
    for name, summary in busy.items():
        _record(run, f"keyvault.loaded.{name}", summary)

    sequential.notes += [
        f"- warm / echo: p50 {fmt(ratio(seq[WARM].p50, seq[ECHO].p50))}x, "
        f"p99 {fmt(ratio(seq[WARM].p99, seq[ECHO].p99))}x (target <= 1.25x)",
    ]
    if COLD in seq:
        sequential.notes.append(
            f"- cold p99 / warm p99: {fmt(ratio(seq[COLD].p99, seq[WARM].p99))}x "
            "(target <= 3x)"
        )
    closed.notes.append(
        "- warm / echo throughput: "
        f"{fmt(ratio(busy[WARM].throughput, busy[ECHO].throughput))}x "
        "(target >= 0.8x)"
    )
    return [sequential, closed]


def keyvault_bounds(run: Run) -> list[Table]:
    counts = run.counts
    targets = _unary_targets(run, cold_calls=0)
    levels = Table(
        "KeyVault warm vs echo: throughput by calls in flight",
        ["in flight", "side", "n", "p50 ms", "p99 ms", "throughput /s"],
    )
    by_level: dict[str, list[Summary]] = {t.name: [] for t in targets}
    for level in counts.bound_levels:
        samples = run.measure(
            "keyvault-bounds",
            UnaryThroughputJob(targets, level, counts.bound_burst, rounds=1),
        )
        for target in targets:
            summary = _summary(samples[target.name])
            by_level[target.name].append(summary)
            levels.add(
                level,
                SIDE_LABELS[target.name],
                summary.n,
                summary.p50,
                summary.p99,
                fmt(summary.throughput, 0),
            )

    bounds = Table(
        "Highest throughput with p99 under a bound",
        [
            "p99 bound ms",
            SIDE_LABELS[ECHO] + " /s",
            SIDE_LABELS[WARM] + " /s",
            "warm / echo",
        ],
    )
    for bound in BOUNDS_MS:
        best = {
            name: max((s.throughput for s in summaries if s.p99 <= bound), default=0.0)
            for name, summaries in by_level.items()
        }
        bounds.add(
            fmt(bound, 0),
            fmt(best[ECHO], 0),
            fmt(best[WARM], 0),
            fmt(ratio(best[WARM], best[ECHO])),
        )
        run.figures[f"bounds.{bound:g}.{WARM}"] = best[WARM]
        run.figures[f"bounds.{bound:g}.{ECHO}"] = best[ECHO]
    return [levels, bounds]


def _unary_table(title: str, results: dict[str, UnarySamples], run: Run) -> Table:
    table = Table(
        title,
        [
            "side",
            "n",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "throughput /s",
            "failed",
            "RSS MB",
        ],
    )
    for name, samples in results.items():
        summary = _summary(samples)
        rss = run.peak_rss_mb.get(UNARY_SERVICE[name])
        table.add(
            SIDE_LABELS[name],
            summary.n,
            *latency_cells(summary),
            fmt(summary.throughput, 0),
            samples.failures,
            megabytes(rss),
        )
        if samples.first_error:
            table.notes.append(f"- {name} first error: {samples.first_error}")
    return table


def _summary(samples: UnarySamples) -> Summary:
    return summarise(samples.latencies_ms, samples.operations, samples.wall_s)


# -- Generation streams --------------------------------------------------------


def streams(concurrency: int) -> Scenario:
    def scenario(run: Run) -> list[Table]:
        return _streams(run, concurrency)

    scenario.__doc__ = f"{concurrency} concurrent streams per side"
    return scenario


def _stream_targets(run: Run, concurrency: int) -> tuple[list[StreamTarget], str]:
    stack = run.stack
    address = stack.generation()
    stack.seed_keys(stack.keyvault("local"), [GENERATION_TENANT])
    request = workloads.generation_request(GENERATION_TENANT).SerializeToString()
    targets: list[StreamTarget] = [
        OpenAiTarget(
            DIRECT, f"{stack.standin()}/v1", "bench-direct-key", workloads.MODEL
        ),
        GenerationTarget(GENERATION, address, stack.tls("platform"), request),
    ]
    note = ""
    if concurrency > run.counts.litellm_max_concurrency:
        note = f"- LiteLLM skipped at {concurrency} streams in this profile"
    else:
        proxy = stack.litellm()
        if proxy is None:
            note = f"- {stack.litellm_problem}"
        else:
            targets.append(
                OpenAiTarget(LITELLM, proxy.base_url, proxy.master_key, proxy.model)
            )
    return targets, note


def _streams(run: Run, concurrency: int) -> list[Table]:
    targets, note = _stream_targets(run, concurrency)
    # One stream start per millisecond: 1,000 streams all overlap after 1 s.
    ramp_s = concurrency / 1000 if concurrency > 1 else 0.0
    job = StreamJob(
        tuple(targets),
        concurrency,
        run.counts.stream_rounds[concurrency],
        ramp_s,
        limits.DELTAS,
        limits.STREAM_TIMEOUT_S,
    )
    # First requests pay for lazy imports and new connections; keep that out
    # of the CPU and memory figures.
    run.measure(f"streams-{concurrency}", replace(job, rounds=0))
    run.begin()
    results: dict[str, StreamSamples] = run.measure(f"streams-{concurrency}", job)

    table = Table(
        f"{concurrency} concurrent stream(s) per side, {limits.DELTAS} deltas "
        f"{limits.INTERVAL_MS:g} ms apart, interleaved rounds",
        [
            "side",
            "metric",
            "n",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "streams /s",
            "dropped frames",
            "failed",
            "peak streams",
            "RSS MB",
        ],
    )
    summaries: dict[str, tuple[Summary, Summary]] = {}
    for name, samples in results.items():
        ttft = summarise(samples.ttft_ms, samples.streams, samples.wall_s)
        gaps = summarise(samples.gaps_ms, len(samples.gaps_ms), samples.wall_s)
        summaries[name] = (ttft, gaps)
        rss = run.peak_rss_mb.get(STREAM_SERVICE.get(name, ""))
        common = [
            fmt(ttft.throughput, 1),
            samples.dropped_frames,
            samples.failed_streams,
            samples.peak_concurrency,
            megabytes(rss) if name in STREAM_SERVICE else "-",
        ]
        table.add(STREAM_LABELS[name], "TTFT", ttft.n, *latency_cells(ttft), *common)
        table.add(
            STREAM_LABELS[name], "inter-chunk", gaps.n, *latency_cells(gaps), *common
        )
        _record(run, f"streams.{concurrency}.{name}.ttft", ttft)
        _record(run, f"streams.{concurrency}.{name}.gap", gaps)
        run.figures[f"streams.{concurrency}.{name}.dropped"] = samples.dropped_frames
        run.figures[f"streams.{concurrency}.{name}.failed"] = samples.failed_streams
        run.figures[f"streams.{concurrency}.{name}.peak"] = samples.peak_concurrency
        if samples.first_error:
            table.notes.append(f"- {name} first error: {samples.first_error}")
    if note:
        table.notes.append(note)
    for service, value in sorted(run.peak_rss_mb.items()):
        run.figures[f"streams.{concurrency}.rss.{service}"] = value
    table.notes += _resource_notes(run, concurrency, results)
    return [table, _added_table(run, concurrency, summaries)]


def _resource_notes(
    run: Run, concurrency: int, results: dict[str, StreamSamples]
) -> list[str]:
    """Peak memory and CPU time per process; CPU per stream for each gateway."""
    notes = [
        "- peak RSS MB: "
        + ", ".join(f"{k} {v:.1f}" for k, v in sorted(run.peak_rss_mb.items())),
        "- CPU s: " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(run.cpu_s.items())),
    ]
    # The gateway's own processes serve only its side, so their CPU time per
    # stream is a per-stream cost that does not depend on the machine's load.
    costs = []
    for name, services in (
        (GENERATION, ("generation", "keyvault-local")),
        (LITELLM, ("litellm",)),
    ):
        if name not in results or not all(s in run.cpu_s for s in services):
            continue
        streams = results[name].streams + warmup_streams(concurrency)
        per_stream = 1000 * sum(run.cpu_s[s] for s in services) / streams
        run.figures[f"streams.{concurrency}.{name}.cpu_ms_per_stream"] = per_stream
        costs.append(f"{STREAM_LABELS[name]} {per_stream:.1f} ({' + '.join(services)})")
    if costs:
        notes.append("- gateway CPU ms per stream: " + ", ".join(costs))
    return notes


def _added_table(
    run: Run, concurrency: int, summaries: dict[str, tuple[Summary, Summary]]
) -> Table:
    table = Table(
        f"Added over the direct SDK call at {concurrency} stream(s)",
        [
            "side",
            "TTFT p50 ms",
            "TTFT p99 ms",
            "inter-chunk p50 ms",
            "inter-chunk p99 ms",
        ],
    )
    direct_ttft, direct_gap = summaries[DIRECT]
    for name in (GENERATION, LITELLM):
        if name not in summaries:
            continue
        ttft, gap = summaries[name]
        added = {
            "ttft.p50": ttft.p50 - direct_ttft.p50,
            "ttft.p99": ttft.p99 - direct_ttft.p99,
            "gap.p50": gap.p50 - direct_gap.p50,
            "gap.p99": gap.p99 - direct_gap.p99,
        }
        for key, value in added.items():
            run.figures[f"streams.{concurrency}.{name}.added.{key}"] = value
        table.add(STREAM_LABELS[name], *added.values())
    if GENERATION in summaries and LITELLM in summaries:
        ours = f"streams.{concurrency}.{GENERATION}.added.ttft"
        theirs = f"streams.{concurrency}.{LITELLM}.added.ttft"
        p50 = ratio(run.figures[f"{ours}.p50"], run.figures[f"{theirs}.p50"])
        p99 = ratio(run.figures[f"{ours}.p99"], run.figures[f"{theirs}.p99"])
        table.notes.append(
            f"- Generation / LiteLLM added TTFT: p50 {fmt(p50)}x, p99 {fmt(p99)}x"
        )
    return table


# -- brand -----------------------------------------------------------------------


def brand(run: Run) -> list[Table]:
    counts = run.counts
    samples: dict[int, list[float]] = run.measure(
        "brand", BrandJob(counts.brand_lengths, counts.brand_repeats)
    )
    table = Table(
        "Brand validation (check_variant), per call and per 1,000 characters",
        [
            "characters",
            "n",
            "p50 µs",
            "p90 µs",
            "p99 µs",
            "max µs",
            "p50 µs / 1k chars",
            "p99 µs / 1k chars",
            "checks /s",
        ],
    )
    for length, values in samples.items():
        summary = summarise(values, len(values), sum(values) / 1_000_000)
        per_k = 1000 / length
        table.add(
            length,
            summary.n,
            fmt(summary.p50, 1),
            fmt(summary.p90, 1),
            fmt(summary.p99, 1),
            fmt(summary.max, 1),
            fmt(summary.p50 * per_k, 1),
            fmt(summary.p99 * per_k, 1),
            fmt(summary.throughput, 0),
        )
        run.figures[f"brand.{length}.p50_per_1k_us"] = summary.p50 * per_k
    table.notes.append(
        f"- measured in the {LOADGEN} process, one core, guide compiled once"
    )
    return [table]


def _record(run: Run, prefix: str, summary: Summary) -> None:
    for field in ("p50", "p90", "p99", "max", "throughput"):
        run.figures[f"{prefix}.{field}"] = getattr(summary, field)


SCENARIOS: dict[str, Scenario] = {
    "brand": brand,
    "keyvault": keyvault,
    "keyvault-bounds": keyvault_bounds,
    **{f"streams-{c}": streams(c) for c in limits.CONCURRENCY_LEVELS},
}
