"""Generate the Python gRPC code and type stubs from ``protos/``.

The generated modules are checked in beside their ``.proto`` files, under the
``byok`` package, so that an install needs no code generator. A test runs
:func:`generate` into a scratch folder and compares, so the two never drift.
"""

from __future__ import annotations

import sys
from pathlib import Path

PROTO_ROOT = Path(__file__).resolve().parent.parent / "protos"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")


def proto_files(root: Path = PROTO_ROOT) -> list[Path]:
    return sorted(root.rglob("*.proto"))


def generate(out_dir: Path, root: Path = PROTO_ROOT) -> list[Path]:
    """Write generated modules for every proto under ``root`` into ``out_dir``."""
    import grpc_tools
    from grpc_tools import protoc

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    sources = [str(path.relative_to(root)) for path in proto_files(root)]
    out_dir.mkdir(parents=True, exist_ok=True)
    # The mypy plugins are scripts beside the interpreter, which need not be
    # on PATH (for example when the tests run as .venv/bin/pytest).
    bin_dir = Path(sys.executable).parent
    args = [
        "grpc_tools.protoc",
        f"--plugin=protoc-gen-mypy={bin_dir / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={bin_dir / 'protoc-gen-mypy_grpc'}",
        f"-I{root}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--mypy_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
        *sources,
    ]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed; see the messages above")

    _add_package_markers(out_dir)
    return sorted(p for p in out_dir.rglob("*") if p.name.endswith(GENERATED_SUFFIXES))


def _add_package_markers(out_dir: Path) -> None:
    for folder in [out_dir / "byok", *(out_dir / "byok").rglob("*")]:
        if folder.is_dir():
            (folder / "__init__.py").touch()
            (folder / "py.typed").touch()


def main() -> int:
    """Regenerate the checked-in code in place."""
    for stale in (PROTO_ROOT / "byok").rglob("*"):
        if stale.name.endswith(GENERATED_SUFFIXES):
            stale.unlink()
    written = generate(PROTO_ROOT)
    for path in written:
        print(path.relative_to(PROTO_ROOT.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
