"""Evaluation query operators.

https://www.mongodb.com/docs/manual/reference/operator/query-evaluation/
"""

from __future__ import annotations

import re
from typing import Any

from bson import Regex

from translator._types import NO_VARS
from translator.errors import SpecError
from translator.expressions import compile_expression
from translator.expressions.boolean import truthy
from translator.query._values import regex_test
from translator.query.compile import top_level_operator, value_operator

REGEX_OPTIONS = frozenset("imsxu")


@value_operator("$regex")
def compile_regex(operand: Any, at: tuple):
    pattern, options = operand["$regex"], operand["$options"]
    if isinstance(pattern, (Regex, re.Pattern)):
        return regex_test(pattern)
    if type(pattern) is not str or type(options) is not str:
        msg = "$regex and $options need strings"
        raise SpecError(msg, at)
    if not set(options) <= REGEX_OPTIONS:
        msg = f"invalid regex options {options!r}: expected letters from 'imsxu'"
        raise SpecError(msg, at)
    try:
        return regex_test(Regex(pattern, options.replace("u", "")).try_compile())
    except re.error as exc:
        msg = f"invalid regular expression {pattern!r}: {exc}"
        raise SpecError(msg, at) from None


@top_level_operator("$expr")
def compile_expr(operand: Any, at: tuple):
    fn = compile_expression(operand, at)
    return lambda doc: truthy(fn(doc, NO_VARS))
