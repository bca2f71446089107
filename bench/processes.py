"""Server processes started by the harness, and their resident memory.

Each server runs as a child process with its output in a log file of the
run's work directory. Resident memory and CPU time are read from ``/proc``
and summed over the process and its descendants, so a server that forks
workers is counted whole.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

STOP_GRACE_S = 10.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class ServiceProcess:
    """A named child process; stopped with SIGTERM, then SIGKILL."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        log_dir: Path,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self._process = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self._process.pid

    def alive(self) -> bool:
        return self._process.poll() is None

    def rss_mb(self) -> float | None:
        return tree_rss_mb(self.pid) if self.alive() else None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_until(self, ready: Callable[[], bool], timeout_s: float) -> None:
        """Poll ``ready`` until it holds; fail early if the process died."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(
                    f"{self.name} exited while starting:\n{self.log_tail()}"
                )
            if ready():
                return
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} was not ready within {timeout_s:g}s")

    def stop(self) -> None:
        if self.alive():
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def tree_rss_mb(pid: int) -> float | None:
    """Resident memory of ``pid`` and all its descendants, in MiB."""
    total_kb = 0
    found = False
    for member in _tree(pid):
        kb = _rss_kb(member)
        if kb is not None:
            total_kb += kb
            found = True
    return total_kb / 1024 if found else None


def _tree(pid: int) -> list[int]:
    members, pending = [], [pid]
    while pending:
        current = pending.pop()
        members.append(current)
        pending.extend(_children(current))
    return members


def _children(pid: int) -> list[int]:
    children: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return children
    for task in tasks:
        try:
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
        except OSError:
            continue
        children.extend(int(child) for child in text.split())
    return children


def tree_cpu_s(pid: int) -> float | None:
    """User plus system CPU time of ``pid`` and its live descendants, in seconds."""
    ticks = 0
    found = False
    for member in _tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # Fields 14 and 15 of stat(5): utime and stime, after "pid (comm)".
        ticks += int(fields[11]) + int(fields[12])
        found = True
    return ticks / _CLOCK_TICKS if found else None


def _rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


class Monitor:
    """Samples every process on a thread: peak resident memory, CPU time used."""

    def __init__(self, pids: Mapping[str, int], interval_s: float = 0.2) -> None:
        self._pids = dict(pids)
        self._interval_s = interval_s
        self.peak_mb: dict[str, float] = {}
        self.cpu_s: dict[str, float] = {}
        self._cpu_start: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="monitor", daemon=True)

    def __enter__(self) -> Monitor:
        for name, pid in self._pids.items():
            used = tree_cpu_s(pid)
            if used is not None:
                self._cpu_start[name] = used
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        for name, pid in self._pids.items():
            used = tree_cpu_s(pid)
            if used is not None and name in self._cpu_start:
                self.cpu_s[name] = used - self._cpu_start[name]

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._sample()

    def _sample(self) -> None:
        for name, pid in self._pids.items():
            value = tree_rss_mb(pid)
            if value is not None:
                self.peak_mb[name] = max(value, self.peak_mb.get(name, 0.0))
