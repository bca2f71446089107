"""One harness run: the load process, the servers, and what was measured.

:meth:`Run.measure` hands a job to the load process and, while it runs,
samples every server's resident memory (and, with ``--profile``, records
the services with py-spy). Figures that targets are judged on are kept in
:attr:`Run.figures` under dotted names such as ``keyvault.warm.p99``; peak
resident memory and CPU seconds per process since :meth:`Run.begin` in
:attr:`Run.peak_rss_mb` and :attr:`Run.cpu_s`.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from bench import loadgen
from bench.counts import Counts
from bench.processes import Monitor
from bench.profiling import Recorder
from bench.stack import Stack

LOADGEN = "load generator"


class Run:
    def __init__(self, stack: Stack, counts: Counts, profile_dir: Path | None) -> None:
        self.stack = stack
        self.counts = counts
        self.figures: dict[str, float] = {}
        self.peak_rss_mb: dict[str, float] = {}
        self.cpu_s: dict[str, float] = {}
        self._profile_dir = profile_dir
        # Spawned, not forked: the load process starts with no server state.
        self._pool = ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn")
        )
        self._loadgen_pid = self._pool.submit(os.getpid).result()

    def measure(self, scenario: str, job: Any) -> Any:
        """Run ``job`` in the load process; record memory and CPU per process."""
        pids = {**self.stack.pids(), LOADGEN: self._loadgen_pid}
        recorder = Recorder(self._profile_dir, scenario, self.stack.pids())
        with recorder, Monitor(pids) as monitor:
            result = self._pool.submit(loadgen.run, job).result()
        for name, value in monitor.peak_mb.items():
            self.peak_rss_mb[name] = max(value, self.peak_rss_mb.get(name, 0.0))
        for name, value in monitor.cpu_s.items():
            self.cpu_s[name] = self.cpu_s.get(name, 0.0) + value
        return result

    def begin(self) -> None:
        """Forget the previous scenario's memory peaks and CPU times."""
        self.peak_rss_mb = {}
        self.cpu_s = {}

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)
