"""Bitwise expression operators, on int and long.

https://www.mongodb.com/docs/manual/reference/operator/aggregation/#bitwise-operators
"""

from __future__ import annotations

import functools
import operator
from typing import Any, Callable

from bson import Int64

from translator._bson_types import bson_type_name
from translator._types import MISSING
from translator.errors import ExpressionError
from translator.expressions._numbers import integral
from translator.expressions.compile import expression_operator, operands

INTEGERS = (int, Int64)


def _integers(name: str, values: list) -> list | None:
    for value in values:
        if value is None or value is MISSING:
            return None
        if type(value) not in INTEGERS:
            msg = f"{name} only supports int and long operands, not {bson_type_name(value)}"
            raise ExpressionError(msg)
    return values


def _to_int64(result: int, values: list) -> Any:
    """Wrap to 64 bits like mongod; long if any operand was a long (or the result needs 64 bits)."""
    result = (result + 2**63) % 2**64 - 2**63
    return integral(result, *values)


def _fold(name: str, combine: Callable[[int, int], int], identity: int) -> None:
    @expression_operator(name)
    def compile_fold(args: Any, at: tuple, scope: Any):
        fns = operands(name, args, at, scope)

        def evaluate(doc: dict, vars: Any) -> Any:
            values = _integers(name, [fn(doc, vars) for fn in fns])
            if values is None:
                return None
            return _to_int64(functools.reduce(combine, (int(v) for v in values), identity), values)

        return evaluate


_fold("$bitAnd", operator.and_, -1)
_fold("$bitOr", operator.or_, 0)
_fold("$bitXor", operator.xor, 0)


@expression_operator("$bitNot")
def compile_bit_not(args: Any, at: tuple, scope: Any):
    (fn,) = operands("$bitNot", args, at, scope, 1, 1)

    def bit_not(doc: dict, vars: Any) -> Any:
        values = _integers("$bitNot", [fn(doc, vars)])
        return None if values is None else _to_int64(~int(values[0]), values)

    return bit_not
