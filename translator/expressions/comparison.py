"""Comparison expression operators, over the BSON comparison order.

https://www.mongodb.com/docs/manual/reference/operator/aggregation/#comparison-expression-operators
"""

from __future__ import annotations

import operator
from typing import Any, Callable

from translator._bson_order import compare
from translator._types import MISSING
from translator.expressions.compile import expression_operator, operands


def _comparison(name: str, test: Callable[[int], bool]) -> None:
    """Register one operator: ``test`` turns compare()'s -1/0/1 into the answer."""

    @expression_operator(name)
    def compile_comparison(args: Any, at: tuple, scope: Any):
        left, right = operands(name, args, at, scope, 2, 2)

        def evaluate(doc: dict, vars: Any) -> bool:
            a = left(doc, vars)
            b = right(doc, vars)
            # Missing compares as null here, as mongod's expression evaluation does.
            return test(compare(None if a is MISSING else a, None if b is MISSING else b))

        return evaluate


_comparison("$eq", lambda c: c == 0)
_comparison("$ne", lambda c: c != 0)
_comparison("$gt", lambda c: c > 0)
_comparison("$gte", lambda c: c >= 0)
_comparison("$lt", lambda c: c < 0)
_comparison("$lte", lambda c: c <= 0)
_comparison("$cmp", operator.pos)
