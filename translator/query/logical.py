"""Logical query operators.

https://www.mongodb.com/docs/manual/reference/operator/query-logical/
"""

from __future__ import annotations

import re
from typing import Any

from bson import Regex

from translator.errors import SpecError
from translator.query._values import regex_test
from translator.query.compile import all_of, any_value, compile_field_test, compile_query, field_operator, top_level_operator


def _clauses(name: str, operand: Any, at: tuple) -> list:
    if type(operand) is not list or not operand:
        msg = f"{name} needs a nonempty array of filters"
        raise SpecError(msg, at)
    return [compile_query(clause, (*at, str(i))) for i, clause in enumerate(operand)]


@top_level_operator("$and")
def compile_and(operand: Any, at: tuple):
    return all_of(_clauses("$and", operand, at))


@top_level_operator("$or")
def compile_or(operand: Any, at: tuple):
    clauses = _clauses("$or", operand, at)
    return lambda doc: any(clause(doc) for clause in clauses)


@top_level_operator("$nor")
def compile_nor(operand: Any, at: tuple):
    clauses = _clauses("$nor", operand, at)
    return lambda doc: not any(clause(doc) for clause in clauses)


@field_operator("$not")
def compile_not(operand: Any, at: tuple):
    if isinstance(operand, (Regex, re.Pattern)):
        matches = any_value(regex_test(operand))
    elif type(operand) is dict and operand and next(iter(operand)).startswith("$"):
        matches = compile_field_test(operand, at)
    else:
        msg = "$not needs an operator object or a regex"
        raise SpecError(msg, at)
    return lambda values: not matches(values)
