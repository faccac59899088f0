"""The value of a field that is absent, shared by the translator and the connectors."""

from __future__ import annotations


class _Missing:
    """A field that is absent, which MongoDB tells apart from one that is null."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "MISSING"  # pickles (Bytewax snapshots) back to the singleton


MISSING = _Missing()
