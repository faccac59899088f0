"""Array query operators.

https://www.mongodb.com/docs/manual/reference/operator/query-array/
"""

from __future__ import annotations

from typing import Any

from translator.errors import SpecError
from translator.query._values import equality_test
from translator.query.compile import (
    TOP_LEVEL_OPERATORS,
    all_of,
    any_value,
    compile_field_test,
    compile_query,
    field_operator,
)


def _is_operator_object(spec: Any) -> bool:
    """``{$gte: 80, $lt: 85}`` tests values; ``{score: ...}`` or ``{$and: [...]}`` is a query."""
    return type(spec) is dict and bool(spec) and all(k.startswith("$") and k not in TOP_LEVEL_OPERATORS for k in spec)


def element_test(spec: Any, at: tuple):
    """What one array element must satisfy for ``$elemMatch``."""
    if type(spec) is not dict:
        msg = "$elemMatch needs an object"
        raise SpecError(msg, at)
    if _is_operator_object(spec):
        matches = compile_field_test(spec, at)
        return lambda element: matches([element])
    query = compile_query(spec, at)
    return lambda element: type(element) is dict and query(element)


@field_operator("$elemMatch")
def compile_elem_match(operand: Any, at: tuple):
    test = element_test(operand, at)
    return lambda values: any(type(value) is list and any(test(e) for e in value) for value in values)


@field_operator("$size")
def compile_size(operand: Any, at: tuple):
    if type(operand) is bool or not isinstance(operand, (int, float)) or operand != int(operand) or operand < 0:
        msg = f"$size needs a whole, non-negative number; got {operand!r}"
        raise SpecError(msg, at)
    size = int(operand)
    return lambda values: any(type(value) is list and len(value) == size for value in values)


@field_operator("$all")
def compile_all(operand: Any, at: tuple):
    if type(operand) is not list:
        msg = "$all needs an array"
        raise SpecError(msg, at)
    tests = []
    for i, item in enumerate(operand):
        if type(item) is dict and set(item) == {"$elemMatch"}:
            tests.append(compile_elem_match(item["$elemMatch"], (*at, str(i), "$elemMatch")))
        else:
            tests.append(any_value(equality_test(item)))
    if not tests:
        return lambda values: False  # $all: [] matches nothing, as in mongod
    return all_of(tests)
