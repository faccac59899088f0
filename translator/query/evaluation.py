"""Evaluation query operators.

https://www.mongodb.com/docs/manual/reference/operator/query-evaluation/
"""

from __future__ import annotations

import math
import random
import re
from typing import Any

from bson import Decimal128, Int64, Regex

from translator._types import NO_VARS
from translator.errors import SpecError
from translator.expressions import compile_expression
from translator.expressions.boolean import truthy
from translator.query._values import compile_pcre, regex_test
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
        return regex_test(compile_pcre(pattern, options))
    except SpecError as exc:
        raise SpecError(exc.message, at) from None


@top_level_operator("$expr")
def compile_expr(operand: Any, at: tuple):
    fn = compile_expression(operand, at)
    return lambda doc: truthy(fn(doc, NO_VARS))


@value_operator("$mod")
def compile_mod(operand: Any, at: tuple):
    if type(operand) is not list or len(operand) != 2:
        msg = "$mod needs an array of two numbers: [divisor, remainder]"
        raise SpecError(msg, at)
    divisor, remainder = operand
    if any(type(x) is bool or not isinstance(x, (int, float)) or x != x or x in (math.inf, -math.inf) for x in operand):
        msg = "$mod's divisor and remainder must be finite numbers"
        raise SpecError(msg, at)
    divisor, remainder = int(divisor), int(remainder)  # mongod truncates both toward zero
    if divisor == 0:
        msg = "$mod's divisor cannot be 0"
        raise SpecError(msg, at)

    def test(value: Any) -> bool:
        kind = type(value)
        if kind is Decimal128:
            value = float(value.to_decimal())
        elif kind not in (int, Int64, float):
            return False
        if value != value or value in (math.inf, -math.inf):
            return False
        number = int(value)
        # The sign of the result follows the dividend, as with C's %.
        return math.copysign(abs(number) % abs(divisor), number) == remainder if number else remainder == 0

    return test


@top_level_operator("$sampleRate")
def compile_sample_rate(operand: Any, at: tuple):
    if type(operand) is bool or not isinstance(operand, (int, float)) or not 0 <= operand <= 1:
        msg = "$sampleRate needs a number between 0 and 1"
        raise SpecError(msg, at)
    rate = float(operand)
    return lambda doc: random.random() < rate
