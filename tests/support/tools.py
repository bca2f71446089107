"""Find command-line tools that Python packages install beside the interpreter.

The tests may run as ``.venv/bin/pytest`` without the virtualenv on ``PATH``,
so the interpreter's own ``bin`` folder is searched first.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def installed_tool(name: str, package: str) -> str:
    beside_python = Path(sys.executable).parent / name
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is missing: pip install {package}")
    return found
