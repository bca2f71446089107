"""What the load process calls, described in picklable values.

The load process gets these from the harness and builds its own channels
and clients from them; nothing live crosses the process boundary.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tls:
    ca: str
    cert: str
    key: str


@dataclass(frozen=True)
class UnaryTarget:
    """A unary gRPC method called with raw request bytes.

    Call ``i`` sends ``requests[i % len(requests)]``; a list of distinct
    tenants makes every call a first read.
    """

    name: str
    address: str
    tls: Tls
    method: str
    requests: tuple[bytes, ...]


@dataclass(frozen=True)
class GenerationTarget:
    """GenerateContent on the Generation service; ``request`` is serialized."""

    name: str
    address: str
    tls: Tls
    request: bytes


@dataclass(frozen=True)
class OpenAiTarget:
    """A streamed Chat Completion through the ``openai`` SDK."""

    name: str
    base_url: str
    api_key: str
    model: str


StreamTarget = GenerationTarget | OpenAiTarget


@dataclass(frozen=True)
class UnaryLatencyJob:
    """Sequential calls, one side after the other, ``count`` per side."""

    targets: tuple[UnaryTarget, ...]
    count: int
    warmup: int


@dataclass(frozen=True)
class UnaryThroughputJob:
    """Bursts of ``burst`` calls with ``concurrency`` in flight, per side per round."""

    targets: tuple[UnaryTarget, ...]
    concurrency: int
    burst: int
    rounds: int


@dataclass(frozen=True)
class StreamJob:
    """Rounds of ``concurrency`` streams per side, started over ``ramp_s``."""

    targets: tuple[StreamTarget, ...]
    concurrency: int
    rounds: int
    ramp_s: float
    expected_deltas: int
    timeout_s: float


@dataclass(frozen=True)
class BrandJob:
    """``check_variant`` on texts of each length, ``repeats`` times each."""

    lengths: tuple[int, ...]
    repeats: int


@dataclass
class UnarySamples:
    latencies_ms: list[float]
    operations: int
    wall_s: float
    failures: int
    first_error: str = ""


@dataclass
class StreamSamples:
    ttft_ms: list[float]
    gaps_ms: list[float]
    streams: int
    wall_s: float
    dropped_frames: int
    failed_streams: int
    peak_concurrency: int
    first_error: str = ""
