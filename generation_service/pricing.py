"""What a call costs: the price table (``prices.toml``) and its lookups.

Prices are data, not code: the bundled table, or the file named by
``GENERATION_PRICE_TABLE``, is read once at start-up, and a malformed one
stops the start. Money is :class:`~decimal.Decimal` throughout, so sums of
many small costs stay exact.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path

from shared.settings import SettingsError

PER_TOKENS = Decimal(1_000_000)
PROVIDER_DEFAULT = "*"


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens."""

    input: Decimal
    output: Decimal
    cached_input: Decimal
    # True for the table's [default]: the model has no price of its own.
    fallback: bool = False

    def cost(self, input_tokens: int, output_tokens: int, cached: int = 0) -> Decimal:
        cached = min(cached, input_tokens)
        total = (
            (input_tokens - cached) * self.input
            + cached * self.cached_input
            + output_tokens * self.output
        )
        return total / PER_TOKENS


class PriceTable:
    def __init__(
        self, default: Price, models: Mapping[str, Mapping[str, Price]]
    ) -> None:
        self._default = default
        self._models = models

    @classmethod
    def load(cls, path: Path | None = None) -> PriceTable:
        """The table at ``path``, or the bundled one."""
        if path is None:
            text = resources.files(__package__).joinpath("prices.toml").read_text()
            where = "the bundled price table"
        else:
            try:
                text = path.read_text()
            except OSError as error:
                raise SettingsError(
                    f"GENERATION_PRICE_TABLE cannot be read ({error.strerror})"
                ) from None
            where = str(path)
        try:
            return cls._parse(tomllib.loads(text))
        except (
            tomllib.TOMLDecodeError,
            InvalidOperation,
            KeyError,
            TypeError,
            ValueError,
        ) as error:
            raise SettingsError(f"{where} is malformed: {error!r}") from None

    @classmethod
    def _parse(cls, raw: Mapping[str, object]) -> PriceTable:
        default = _price(raw["default"], fallback=True)
        models = {
            provider: {name: _price(entry) for name, entry in entries.items()}
            for provider, entries in raw.items()
            if provider != "default" and isinstance(entries, dict)
        }
        return cls(default, models)

    def price(self, provider: str, model: str) -> Price:
        known = self._models.get(provider, {})
        if model in known:
            return known[model]
        family = [name for name in known if name != "*" and model.startswith(name)]
        if family:
            return known[max(family, key=len)]
        return known.get(PROVIDER_DEFAULT, self._default)


def _price(entry: object, fallback: bool = False) -> Price:
    if not isinstance(entry, dict):
        raise TypeError("each price must be a table with input and output")
    values = {
        name: Decimal(str(entry[name]))
        for name in ("input", "output", "cached_input")
        if name in entry
    }
    if any(value < 0 for value in values.values()):
        raise ValueError("prices must not be negative")
    return Price(
        input=values["input"],
        output=values["output"],
        cached_input=values.get("cached_input", values["input"]),
        fallback=fallback,
    )
