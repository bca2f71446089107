"""How much each scenario does: the full run and ``--quick``.

The full run keeps to about 10 minutes on a 2-core machine; ``--quick`` to
about 2 and a half (most of it is the 1,000-stream round and LiteLLM's
start-up). Stream rounds are per side; every stream lasts about
``deltas * interval`` (64 x 20 ms, so 1.3 s) however fast the gateway is.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

DELTAS = 64
INTERVAL_MS = 20.0
CONCURRENCY_LEVELS = (1, 10, 100, 1000)
STREAM_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Counts:
    unary_calls: int  # sequential calls per side
    unary_warmup: int
    throughput_concurrency: int
    throughput_burst: int  # calls per burst
    throughput_rounds: int
    bound_levels: tuple[int, ...]  # in-flight calls tried for the latency bounds
    bound_burst: int
    stream_rounds: dict[int, int] = field(default_factory=dict)  # per concurrency
    # Sides that skip a concurrency level (LiteLLM is slow at the top one).
    litellm_max_concurrency: int = 1000
    brand_repeats: int = 300
    brand_lengths: tuple[int, ...] = (280, 1000, 3000, 10000)

    def capped(self, limit: int) -> Counts:
        """Every count at most ``limit``; for smoke tests."""
        return replace(
            self,
            unary_calls=min(self.unary_calls, limit),
            unary_warmup=min(self.unary_warmup, limit),
            throughput_burst=min(self.throughput_burst, limit),
            throughput_rounds=min(self.throughput_rounds, limit),
            bound_burst=min(self.bound_burst, limit),
            stream_rounds={c: min(r, limit) for c, r in self.stream_rounds.items()},
            brand_repeats=min(self.brand_repeats, limit),
        )


FULL = Counts(
    unary_calls=2000,
    unary_warmup=50,
    throughput_concurrency=16,
    throughput_burst=2000,
    throughput_rounds=3,
    bound_levels=(1, 2, 4, 8, 16, 32, 64),
    bound_burst=1000,
    stream_rounds={1: 40, 10: 6, 100: 3, 1000: 2},
    # LiteLLM at 1,000 streams takes minutes on 2 cores; no target needs it.
    litellm_max_concurrency=100,
)

QUICK = Counts(
    unary_calls=300,
    unary_warmup=20,
    throughput_concurrency=16,
    throughput_burst=500,
    throughput_rounds=1,
    bound_levels=(1, 4, 16),
    bound_burst=300,
    stream_rounds={1: 6, 10: 2, 100: 1, 1000: 1},
    litellm_max_concurrency=100,
    brand_repeats=50,
)
