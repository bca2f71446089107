"""The reference X counter, twitter-text-parser, importable on new setuptools.

Its release reads a bundled data file through ``pkg_resources``, which
setuptools no longer ships; a two-line stand-in reads it through
``importlib.resources`` instead. Used only to cross-check our counts.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import sys
import types
from collections.abc import Callable
from typing import Any

import pytest


def _stand_in() -> types.ModuleType:
    stand_in = types.ModuleType("pkg_resources")

    def resource_string(module: str, name: str) -> bytes:
        package = module.rpartition(".")[0]
        return importlib.resources.files(package).joinpath(name).read_bytes()

    stand_in.resource_string = resource_string  # type: ignore[attr-defined]
    return stand_in


def parse_tweet() -> Callable[[str], Any]:
    if importlib.util.find_spec("twitter_text") is None:
        pytest.skip("twitter-text-parser is not installed")

    # Only for the duration of the import: nothing else should see it.
    missing = importlib.util.find_spec("pkg_resources") is None
    if missing:
        sys.modules["pkg_resources"] = _stand_in()
    try:
        from twitter_text import parse_tweet as reference
    finally:
        if missing:
            del sys.modules["pkg_resources"]
    return reference


def emoji_test_sequences() -> list[str]:
    """Every sequence in the reference's bundled Unicode emoji-test.txt."""
    parse_tweet()
    data = importlib.resources.files("twitter_text.regexp").joinpath("emoji-test.txt")
    sequences = []
    for line in data.read_text("utf-8").splitlines():
        if line and not line.startswith("#") and ";" in line:
            points = line.split(";", 1)[0].split()
            sequences.append("".join(chr(int(p, 16)) for p in points))
    return sequences
