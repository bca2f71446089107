"""The word lists in ``wordlists.toml``, loaded once."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class WordLists:
    stopwords: frozenset[str]
    doubled_ok: frozenset[str]
    not_acronyms: frozenset[str]
    claim_phrases: tuple[str, ...]
    particles: frozenset[str]
    # base -> (past, past participle)
    verbs: MappingProxyType[str, tuple[str, str]]
    # singular -> plural
    plurals: MappingProxyType[str, str]
    clause_starts: frozenset[str]
    intro_words: frozenset[str]
    intro_openers: frozenset[str]


@cache
def load() -> WordLists:
    raw = tomllib.loads(
        resources.files(__package__).joinpath("wordlists.toml").read_text("utf-8")
    )
    return WordLists(
        stopwords=frozenset(w.casefold() for w in raw["stopwords"]),
        doubled_ok=frozenset(w.casefold() for w in raw["doubled_ok"]),
        not_acronyms=frozenset(raw["not_acronyms"]),
        claim_phrases=tuple(raw["claim_phrases"]),
        particles=frozenset(raw["particles"]),
        verbs=MappingProxyType({b: (p, pp) for b, (p, pp) in raw["verbs"].items()}),
        plurals=MappingProxyType(dict(raw["plurals"])),
        clause_starts=frozenset(raw["lists"]["clause_starts"]),
        intro_words=frozenset(raw["lists"]["intro_words"]),
        intro_openers=frozenset(raw["lists"]["intro_openers"]),
    )
