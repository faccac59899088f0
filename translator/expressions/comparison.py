"""Comparison expression operators, over the BSON comparison order.

https://www.mongodb.com/docs/manual/reference/operator/aggregation/#comparison-expression-operators
"""

from __future__ import annotations

import operator
from typing import Any, Callable

from translator._bson_order import compare
from translator._types import MISSING
from translator.expressions.compile import binary, expression_operator, is_constant, operands

# Numbers and strings compare natively when both sides are of one kind and neither is
# NaN (NaN sorts below every number in BSON order, unlike Python's comparisons).
NATIVE = frozenset({int, float, str})


def _comparison(name: str, native: Callable[[Any, Any], Any], test: Callable[[int], Any]) -> None:
    """Register one operator: ``native`` for numbers or strings, ``test`` over compare()."""

    def bson(a: Any, b: Any) -> Any:
        return test(compare(a, b))  # missing sorts just below null, as in mongod

    def fast(a: Any, b: Any) -> Any:
        if (type(a) is str) is (type(b) is str) and a == a and b == b:
            return native(a, b)
        return bson(a, b)

    @expression_operator(name)
    def compile_comparison(args: Any, at: tuple, scope: Any):
        left, right = operands(name, args, at, scope, 2, 2)
        field = getattr(left, "field", None)
        if field is not None and is_constant(right) and type(right.constant) in (int, float) and right.constant == right.constant:
            # `{$gte: ["$amount", 500]}`: one closure, an int needs no NaN check.
            b = right.constant

            def field_against_number(doc: dict, vars: Any) -> Any:
                a = doc.get(field, MISSING)
                kind = type(a)
                if kind is int or (kind is float and a == a):
                    return native(a, b)
                return bson(a, b)

            field_against_number.inline = ("field_compare_number", field, native, b)  # type: ignore[attr-defined]
            return field_against_number
        return binary(left, right, NATIVE, fast, bson)


def _cmp(a: Any, b: Any) -> int:
    return (a > b) - (a < b)


_comparison("$eq", operator.eq, lambda c: c == 0)
_comparison("$ne", operator.ne, lambda c: c != 0)
_comparison("$gt", operator.gt, lambda c: c > 0)
_comparison("$gte", operator.ge, lambda c: c >= 0)
_comparison("$lt", operator.lt, lambda c: c < 0)
_comparison("$lte", operator.le, lambda c: c <= 0)
_comparison("$cmp", _cmp, operator.pos)
