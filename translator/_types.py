"""Aliases and sentinels shared by every part of the translator."""

from __future__ import annotations

from typing import Any, Callable

Doc = dict
Path = tuple  # field path inside a stage spec, e.g. ("amount", "$gt"), for error messages
Vars = dict  # runtime variables: $let names, "this", "value", "ROOT" overrides
Compiled = Callable[[Doc, Vars], Any]  # a compiled aggregation expression
Predicate = Callable[[Doc], bool]  # a compiled query


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


def is_nullish(value: Any) -> bool:
    """Null or missing: what most operators answer with null."""
    return value is None or value is MISSING


NO_VARS: Vars = {}  # shared, never mutated: top-level evaluations bind no variables
