"""``byok-bench``: run the scenarios and print their tables.

::

    byok-bench                       # every scenario, full counts (~10 min)
    byok-bench --quick               # every scenario, small counts (~2 min)
    byok-bench --scenario keyvault   # one scenario (repeatable)
    byok-bench --profile prof/       # also record the services with py-spy

Figures from a ``--profile`` run are perturbed by the sampling; take the
tables from a run without it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench import goals, machine
from bench.counts import DELTAS, FULL, INTERVAL_MS, QUICK
from bench.litellm import DEFAULT_VENV
from bench.profiling import PROFILED, hottest, py_spy
from bench.runner import Run
from bench.scenarios import SCENARIOS
from bench.stack import Stack
from bench.tables import Table, fmt


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="byok-bench",
        description="Measure what KeyVault and Generation add, side by side.",
    )
    parser.add_argument(
        "--scenario",
        action="append",
        choices=list(SCENARIOS),
        help="run only this scenario (repeatable); default: all",
    )
    parser.add_argument("--quick", action="store_true", help="small counts")
    parser.add_argument(
        "--count",
        type=int,
        metavar="N",
        help="cap every per-side count at N (smoke tests)",
    )
    parser.add_argument("--no-litellm", action="store_true", help="skip LiteLLM")
    parser.add_argument(
        "--litellm-venv",
        type=Path,
        default=DEFAULT_VENV,
        help=f"virtualenv for LiteLLM, made on first use (default {DEFAULT_VENV})",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="record the services with py-spy into DIR",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory (logs)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    counts = QUICK if args.quick else FULL
    if args.count:
        counts = counts.capped(args.count)
    selected = args.scenario or list(SCENARIOS)
    if args.profile and py_spy() is None:
        print("--profile needs py-spy: pip install -e '.[bench]'", file=sys.stderr)
        return 2

    _print_header(selected, args.quick)
    work_dir = Path(tempfile.mkdtemp(prefix="byok-bench-"))
    stack = Stack(
        work_dir, DELTAS, INTERVAL_MS, None if args.no_litellm else args.litellm_venv
    )
    run = Run(stack, counts, args.profile)
    failed = False
    try:
        for name in selected:
            failed |= not _run_scenario(run, name)
        verdicts = goals.table(run.figures)
        if any(row[-1] != goals.NOT_MEASURED for row in verdicts.rows):
            print(verdicts.render(), flush=True)
        if args.profile:
            _print_profiles(args.profile)
    finally:
        run.close()
        stack.close()
        if args.keep or failed:
            print(f"work directory (logs): {work_dir}")
        else:
            shutil.rmtree(work_dir, ignore_errors=True)
    return 1 if failed else 0


def _run_scenario(run: Run, name: str) -> bool:
    print(f"## {name}\n", flush=True)
    started = time.monotonic()
    run.begin()
    try:
        tables = SCENARIOS[name](run)
    except Exception as error:  # one broken scenario must not hide the others
        print(f"scenario {name} failed: {type(error).__name__}: {error}\n", flush=True)
        return False
    for table in tables:
        print(table.render(), flush=True)
    print(f"({name}: {time.monotonic() - started:.0f} s)\n", flush=True)
    return True


def _print_header(selected: list[str], quick: bool) -> None:
    print("# byok-bench\n")
    facts = machine.describe()
    print(", ".join(f"{key}: {value}" for key, value in facts.items()))
    print(f"profile: {'quick' if quick else 'full'}; scenarios: {', '.join(selected)}")
    print(f"provider stand-in: {DELTAS} deltas, {INTERVAL_MS:g} ms apart\n", flush=True)


def _print_profiles(directory: Path) -> None:
    for path in sorted(directory.glob("*.txt")):
        spots = hottest(path)
        if not spots.total:
            continue
        own = Table(
            f"py-spy {path.stem}: own time ({spots.total} samples)",
            ["frame", "% of samples"],
        )
        for frame, share in spots.own:
            own.add(frame, fmt(share, 1))
        ours = Table(
            f"py-spy {path.stem}: our code, inclusive", ["frame", "% of samples"]
        )
        for frame, share in spots.project:
            ours.add(frame, fmt(share, 1))
        print(own.render(), flush=True)
        print(ours.render(), flush=True)
    print(f"collapsed stacks of {', '.join(PROFILED)} in {directory}")


if __name__ == "__main__":
    sys.exit(main())
