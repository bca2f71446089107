"""A string type for key material whose every printed form is masked."""

from __future__ import annotations

MASK = "**********"


class SecretStr:
    """Holds a secret; ``str``, ``repr`` and formatting never show it.

    Code that needs the value calls :meth:`reveal`, which makes every use of
    key material easy to find by search.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    @property
    def fingerprint(self) -> str:
        """The last four characters, as provider consoles show keys."""
        return fingerprint_of(self._value)

    def __repr__(self) -> str:
        return f"SecretStr({MASK})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretStr) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("SecretStr", self._value))

    def __reduce__(self) -> str:
        raise TypeError("SecretStr cannot be pickled")


def fingerprint_of(key: str) -> str:
    """Last four characters; keys shorter than twelve characters show none."""
    return key[-4:] if len(key) >= 12 else ""
