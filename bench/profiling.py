"""``--profile DIR``: py-spy records the services while a scenario runs.

py-spy samples a running process from outside (``--nonblocking``: it does
not pause it), so the services run their real entry points unchanged.
Each measurement appends collapsed stacks to
``DIR/<scenario>-<service>.txt``; :func:`hottest` sums them into the
functions that ran most (own time) and the functions of our own packages
that were on the stack most (inclusive time).
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROFILED = ("generation", "keyvault-local", "keyvault-vault")
RATE_HZ = 250
STOP_TIMEOUT_S = 30.0
# "function (path/to/module.py:123)" -> "function (module.py)"
_FRAME = re.compile(r"^(?P<function>.*?) \((?P<path>[^():]+?)(?::\d+)?\)$")
# Frames of our own packages, matched on "package/module.py".
PROJECT_MODULES = ("generation_service/", "keyvault_service/", "shared/")


@dataclass(frozen=True)
class Hotspots:
    total: int
    own: list[tuple[str, float]]  # frame, % of samples on top of the stack
    project: list[tuple[str, float]]  # our frame, % of samples anywhere on it


def py_spy() -> str | None:
    beside_python = Path(sys.executable).with_name("py-spy")
    return str(beside_python) if beside_python.exists() else shutil.which("py-spy")


class Recorder:
    """A context manager; does nothing when ``directory`` is None."""

    def __init__(
        self, directory: Path | None, scenario: str, pids: Mapping[str, int]
    ) -> None:
        self._directory = directory
        self._scenario = scenario
        self._pids = {name: pid for name, pid in pids.items() if name in PROFILED}
        self._running: list[tuple[subprocess.Popen[bytes], Path, Path]] = []

    def __enter__(self) -> Recorder:
        binary = py_spy()
        if self._directory is None or binary is None:
            return self
        self._directory.mkdir(parents=True, exist_ok=True)
        for name, pid in self._pids.items():
            final = self._directory / f"{self._scenario}-{name}.txt"
            part = final.with_suffix(".part")
            process = subprocess.Popen(
                [
                    binary,
                    "record",
                    "--pid",
                    str(pid),
                    "--rate",
                    str(RATE_HZ),
                    "--format",
                    "raw",
                    "--nonblocking",
                    "--output",
                    str(part),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            self._running.append((process, part, final))
        return self

    def __exit__(self, *_: object) -> None:
        for process, part, final in self._running:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if part.exists():
                with final.open("a") as out:
                    out.write(part.read_text())
                part.unlink()
        self._running.clear()


def hottest(path: Path, top: int = 12) -> Hotspots:
    """Where the samples in ``path`` (collapsed stacks) were spent."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(frame) for frame in stack.split(";")]
        frames = [frame for frame in frames if frame]
        if not frames:
            continue
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count

    def share(samples: int) -> float:
        return 100 * samples / total if total else 0.0

    ours = [
        (frame, share(samples))
        for frame, samples in inclusive.most_common()
        if frame.rsplit("(", 1)[-1].startswith(PROJECT_MODULES)
        and not frame.startswith(("<module>", "main ("))
    ]
    return Hotspots(
        total=total,
        own=[(frame, share(samples)) for frame, samples in own.most_common(top)],
        project=ours[:top],
    )


def _short(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if match is None:
        return ""
    parts = Path(match["path"]).parts[-2:]
    return f"{match['function']} ({'/'.join(parts)})"
