"""The main job runs on a machine with nothing configured.

``byok demo`` starts the embedded database, the local model, KeyVault and
Generation, saves a tenant key, streams two generations and stops.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from shared.devstack.demo import run_demo

UNCONFIGURED = (
    "DATABASE_URL",
    "KEK_PROVIDER",
    "VAULT_ADDR",
    "VAULT_TOKEN",
    "LOCAL_MODEL_BASE_URL",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
)


async def test_demo_streams_tenant_and_platform_generations_then_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BYOK_STATE_DIR", str(tmp_path / "state"))
    for name in UNCONFIGURED:
        monkeypatch.delenv(name, raising=False)
    out = io.StringIO()

    assert await run_demo(out) == 0

    text = out.getvalue()
    summaries = re.findall(
        r"== (\d) completed, (\d) failed · provider (\w+) .* key (\w+)", text
    )
    assert summaries == [
        ("2", "0", "openai", "TENANT"),
        ("2", "0", "local", "PLATFORM"),
    ]
    saved = re.search(r"openai key \(…(\w{4})\)", text)
    assert saved is not None
    assert f"key TENANT …{saved.group(1)}" in text
    assert text.count("brand check:") == 4
    assert "embedded PostgreSQL" in text
    assert "Deleted acme-coffee's demo key" in text
    assert text.rstrip().endswith("Stack stopped.")
    assert (tmp_path / "state" / "keyring.json").stat().st_mode & 0o077 == 0
