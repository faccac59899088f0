"""Element query operators.

https://www.mongodb.com/docs/manual/reference/operator/query-element/
"""

from __future__ import annotations

from typing import Any

from translator._bson_types import TYPE_NAMES, TYPE_NUMBERS, bson_type_name
from translator._types import MISSING
from translator.errors import SpecError
from translator.query.compile import field_operator, value_operator

NUMBER_NAMES = frozenset({"double", "int", "long", "decimal"})


@field_operator("$exists")
def compile_exists(operand: Any, at: tuple):
    wanted = bool(operand) if not isinstance(operand, (int, float)) else operand != 0
    return lambda values: any(value is not MISSING for value in values) is wanted


def _type_names(operand: Any, at: tuple) -> frozenset:
    names = set()
    for item in operand if type(operand) is list else [operand]:
        if item == "number":
            names |= NUMBER_NAMES
        elif type(item) is str and item in TYPE_NUMBERS:
            names.add(item)
        elif isinstance(item, (int, float)) and not isinstance(item, bool) and int(item) in TYPE_NAMES:
            names.add(TYPE_NAMES[int(item)])
        else:
            msg = f"unknown type name alias: {item}"
            raise SpecError(msg, at)
    return frozenset(names)


@value_operator("$type")
def compile_type(operand: Any, at: tuple):
    names = _type_names(operand, at)
    return lambda value: value is not MISSING and bson_type_name(value) in names
