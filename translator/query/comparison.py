"""Comparison query operators.

https://www.mongodb.com/docs/manual/reference/operator/query-comparison/
"""

from __future__ import annotations

from typing import Any


from translator.errors import SpecError
from translator.query._values import equality_test, ordering_test
from translator.query.compile import any_value, field_operator, value_operator


@value_operator("$eq")
def compile_eq(operand: Any, at: tuple):
    return equality_test(operand)


@field_operator("$ne")
def compile_ne(operand: Any, at: tuple):
    matches = any_value(equality_test(operand))
    return lambda values: not matches(values)


def _ordering(name: str) -> None:
    value_operator(name)(lambda operand, at: ordering_test(name, operand))


for _name in ("$gt", "$gte", "$lt", "$lte"):
    _ordering(_name)


def _membership(operand: Any, at: tuple, name: str):
    if type(operand) is not list:
        msg = f"{name} needs an array"
        raise SpecError(msg, at)
    for i, item in enumerate(operand):
        if type(item) is dict and item and next(iter(item)).startswith("$"):
            msg = f"cannot use an operator expression inside {name}"
            raise SpecError(msg, (*at, str(i)))
    tests = [equality_test(item) for item in operand]
    hashable = [item for item in operand if type(item) is str]
    if len(hashable) == len(operand):  # all strings: a set lookup
        members = frozenset(hashable)
        return lambda value: type(value) is str and value in members
    return lambda value: any(test(value) for test in tests)


@value_operator("$in")
def compile_in(operand: Any, at: tuple):
    return _membership(operand, at, "$in")


@field_operator("$nin")
def compile_nin(operand: Any, at: tuple):
    matches = any_value(_membership(operand, at, "$nin"))
    return lambda values: not matches(values)


