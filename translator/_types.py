"""Aliases and sentinels shared by every part of the translator (``MISSING`` lives in ``runtime``)."""

from __future__ import annotations

from typing import Any, Callable

from runtime.missing import MISSING

Doc = dict
Path = tuple  # field path inside a stage spec, e.g. ("amount", "$gt"), for error messages
Vars = dict  # runtime variables: $let names, "this", "value", "ROOT" overrides
Compiled = Callable[[Doc, Vars], Any]  # a compiled aggregation expression
Predicate = Callable[[Doc], bool]  # a compiled query


def is_nullish(value: Any) -> bool:
    """Null or missing: what most operators answer with null."""
    return value is None or value is MISSING


NO_VARS: Vars = {}  # shared, never mutated: top-level evaluations bind no variables
