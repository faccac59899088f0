"""Helpers for table-driven expression tests: evaluate a compiled expression, compare exactly."""

from __future__ import annotations

import math
from typing import Any

from translator._types import MISSING, NO_VARS
from translator.expressions import compile_expression
from translator.query import compile_query


def evaluate(expr: Any, doc: dict | None = None) -> Any:
    """Compile ``expr`` once and evaluate it against ``doc`` (default: an empty document)."""
    return compile_expression(expr)({} if doc is None else doc, NO_VARS)


def matches(query: dict, doc: dict) -> bool:
    return compile_query(query)(doc)


def same(actual: Any, expected: Any) -> bool:
    """Equal in value *and* BSON type (1 is not 1.0, Int64(1) is not 1), NaN equal to NaN."""
    if type(actual) is not type(expected):
        return False
    if type(actual) is float and math.isnan(actual):
        return math.isnan(expected)
    if type(actual) is dict:
        return list(actual) == list(expected) and all(same(actual[k], expected[k]) for k in actual)
    if type(actual) is list:
        return len(actual) == len(expected) and all(same(a, e) for a, e in zip(actual, expected))
    return actual == expected


def assert_same(actual: Any, expected: Any) -> None:
    assert same(actual, expected), f"got {actual!r} ({type(actual).__name__}), expected {expected!r} ({type(expected).__name__})"


__all__ = ["MISSING", "assert_same", "evaluate", "matches", "same"]
