"""Boolean expression operators and mongod's truthiness.

https://www.mongodb.com/docs/manual/reference/operator/aggregation/#boolean-expression-operators
"""

from __future__ import annotations

from typing import Any

from bson import Decimal128, Int64

from translator._types import MISSING
from translator.expressions.compile import expression_operator, operands


def truthy(value: Any) -> bool:
    """False for false, null, missing, undefined and any zero; true for everything else."""
    if value is None or value is MISSING or value is False:
        return False
    kind = type(value)
    if kind is int or kind is float or kind is Int64:
        return value != 0
    if kind is Decimal128:
        return not value.to_decimal().is_zero()
    return True


@expression_operator("$and")
def compile_and(args: Any, at: tuple, scope: Any):
    fns = operands("$and", args, at, scope)
    return lambda doc, vars: all(truthy(fn(doc, vars)) for fn in fns)


@expression_operator("$or")
def compile_or(args: Any, at: tuple, scope: Any):
    fns = operands("$or", args, at, scope)
    return lambda doc, vars: any(truthy(fn(doc, vars)) for fn in fns)


@expression_operator("$not")
def compile_not(args: Any, at: tuple, scope: Any):
    (fn,) = operands("$not", args, at, scope, 1, 1)
    return lambda doc, vars: not truthy(fn(doc, vars))
