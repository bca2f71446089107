"""The checked-in generated code matches what the protos produce."""

from __future__ import annotations

from pathlib import Path

from shared.protogen import GENERATED_SUFFIXES, PROTO_ROOT, generate


def test_generated_code_matches_the_protos(tmp_path: Path) -> None:
    fresh = {
        path.relative_to(tmp_path): path.read_bytes() for path in generate(tmp_path)
    }
    checked_in = {
        path.relative_to(PROTO_ROOT): path.read_bytes()
        for path in (PROTO_ROOT / "byok").rglob("*")
        if path.name.endswith(GENERATED_SUFFIXES)
    }

    assert sorted(fresh) == sorted(checked_in), "run: python -m shared.protogen"
    stale = [str(name) for name, data in fresh.items() if checked_in[name] != data]
    assert stale == [], f"stale generated code, run: python -m shared.protogen: {stale}"


def test_every_service_is_in_a_versioned_package() -> None:
    for proto in PROTO_ROOT.rglob("*.proto"):
        package_line = next(
            line
            for line in proto.read_text().splitlines()
            if line.startswith("package ")
        )
        package = package_line.removeprefix("package ").rstrip(";")
        assert package.split(".")[-1].startswith("v"), proto
        assert Path(*package.split(".")) == proto.parent.relative_to(PROTO_ROOT)
