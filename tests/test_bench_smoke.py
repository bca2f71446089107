"""The benchmark harness runs end to end and prints numeric tables.

Only the shape of the output is checked: timings on a shared machine are
not something a test can assert.
"""

from __future__ import annotations

import subprocess
import sys


def _table_rows(output: str) -> tuple[list[str], list[list[str]]]:
    lines = [line for line in output.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in lines[2:]  # after the header and its rule
    ]
    return header, rows


def test_the_brand_scenario_prints_numeric_p50_and_p99_per_text_length() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--scenario",
            "brand",
            "--quick",
            "--count",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    header, rows = _table_rows(result.stdout)
    p50 = next(i for i, name in enumerate(header) if name.startswith("p50"))
    p99 = next(i for i, name in enumerate(header) if name.startswith("p99"))
    assert [row[0] for row in rows] == ["280", "1000", "3000", "10000"]
    for row in rows:
        assert row[1] == "3"
        assert float(row[p50]) > 0
        assert float(row[p99]) >= float(row[p50])


def test_an_unknown_scenario_is_refused_with_the_valid_names() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--scenario", "nonesuch"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert "keyvault" in result.stderr
    assert "streams-1000" in result.stderr
