"""Arithmetic expression operators.

https://www.mongodb.com/docs/manual/reference/operator/aggregation/#arithmetic-expression-operators
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bson import Decimal128

from translator._bson_types import bson_type_name
from translator._types import MISSING
from translator.errors import ExpressionError
from translator.expressions._numbers import (
    FAST_NUMBERS,
    from_decimal,
    integral,
    is_number,
    to_decimal,
    widest,
)
from translator.expressions.compile import expression_operator, operands


def _nullish(value: Any) -> bool:
    return value is None or value is MISSING


def _sum(values: list, name: str) -> Any:
    """``$add``'s rule: numbers add with promotion; at most one date, which takes ms offsets."""
    date = None
    numbers = []
    for value in values:
        if _nullish(value):
            return None
        if type(value) is datetime:
            if date is not None:
                msg = f"only one date allowed in an {name} expression"
                raise ExpressionError(msg)
            date = value
        elif is_number(value):
            numbers.append(value)
        else:
            msg = f"{name} only supports numeric or date types, not {bson_type_name(value)}"
            raise ExpressionError(msg)
    kind = widest(*numbers)
    if kind is int:
        total: Any = integral(sum(numbers), *numbers)
    elif kind is float:
        total = float(sum(float(n) if type(n) is not float else n for n in numbers))
    else:
        total = from_decimal(sum(to_decimal(n) for n in numbers))
    if date is None:
        return total
    return date + timedelta(milliseconds=round(float(str(total)) if kind is not float else total))


@expression_operator("$add")
def compile_add(args: Any, at: tuple, scope: Any):
    fns = operands("$add", args, at, scope)
    if len(fns) == 2:
        left, right = fns

        def add_two(doc: dict, vars: Any) -> Any:
            a = left(doc, vars)
            b = right(doc, vars)
            if type(a) in FAST_NUMBERS and type(b) in FAST_NUMBERS:
                result = a + b
                return result if type(result) is float else integral(result)
            return _sum([a, b], "$add")

        return add_two
    return lambda doc, vars: _sum([fn(doc, vars) for fn in fns], "$add")


def _subtract(a: Any, b: Any) -> Any:
    if _nullish(a) or _nullish(b):
        return None
    if type(a) is datetime:
        if type(b) is datetime:
            return int((a - b) / timedelta(milliseconds=1))
        if is_number(b):
            return a - timedelta(milliseconds=round(float(str(b))))
    elif is_number(a) and is_number(b):
        kind = widest(a, b)
        if kind is int:
            return integral(a - b, a, b)
        if kind is float:
            return float(a) - float(b)
        return from_decimal(to_decimal(a) - to_decimal(b))
    msg = f"cant $subtract a {bson_type_name(b)} from a {bson_type_name(a)}"
    raise ExpressionError(msg)


@expression_operator("$subtract")
def compile_subtract(args: Any, at: tuple, scope: Any):
    left, right = operands("$subtract", args, at, scope, 2, 2)

    def subtract(doc: dict, vars: Any) -> Any:
        a = left(doc, vars)
        b = right(doc, vars)
        if type(a) in FAST_NUMBERS and type(b) in FAST_NUMBERS:
            result = a - b
            return result if type(result) is float else integral(result)
        return _subtract(a, b)

    return subtract


def _product(values: list) -> Any:
    for value in values:
        if _nullish(value):
            return None
        if not is_number(value):
            msg = f"$multiply only supports numeric types, not {bson_type_name(value)}"
            raise ExpressionError(msg)
    kind = widest(*values)
    if kind is Decimal128:
        result = to_decimal(1)
        for value in values:
            result *= to_decimal(value)
        return from_decimal(result)
    result: Any = 1
    for value in values:
        result *= float(value) if kind is float else int(value)
    return result if kind is float else integral(result, *values)



@expression_operator("$multiply")
def compile_multiply(args: Any, at: tuple, scope: Any):
    fns = operands("$multiply", args, at, scope)
    return lambda doc, vars: _product([fn(doc, vars) for fn in fns])


def _divide(a: Any, b: Any) -> Any:
    if _nullish(a) or _nullish(b):
        return None
    if not (is_number(a) and is_number(b)):
        msg = f"$divide only supports numeric types, not {bson_type_name(a)} and {bson_type_name(b)}"
        raise ExpressionError(msg)
    if widest(a, b) is Decimal128:
        if to_decimal(b) == 0:
            msg = "can't $divide by zero"
            raise ExpressionError(msg)
        return from_decimal(to_decimal(a) / to_decimal(b))
    if b == 0:
        msg = "can't $divide by zero"
        raise ExpressionError(msg)
    return float(a) / float(b)


@expression_operator("$divide")
def compile_divide(args: Any, at: tuple, scope: Any):
    left, right = operands("$divide", args, at, scope, 2, 2)
    return lambda doc, vars: _divide(left(doc, vars), right(doc, vars))
