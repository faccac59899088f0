"""Accumulators used as expressions ($sum $avg $min $max $stdDevPop $stdDevSamp $median $percentile).

https://www.mongodb.com/docs/manual/reference/operator/aggregation/#accumulators---project-and-addfields-

One argument that evaluates to an array feeds each element; otherwise every argument's value is
fed. Non-numeric values are ignored by the numeric accumulators, as mongod does.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from typing import Any, Callable

from bson import Decimal128, Int64

from translator._bson_order import compare
from translator._bson_types import INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, bson_type_name
from translator._types import MISSING
from translator.errors import SpecError
from translator.expressions.arithmetic import (
    DECIMAL,
    DECIMAL128,
    DOUBLE,
    INT,
    LONG,
    format_double,
    int_or_long,
    number_kind,
    to_double,
)
from translator.expressions.compile import (
    compile_expression,
    expression_operator,
    fold,
    is_constant,
    named_arguments,
    operands,
)

PERCENTILE_METHODS = ("approximate", "discrete", "continuous")
_DOUBLES, _INTS, _PLAIN = frozenset({float}), frozenset({int}), frozenset({int, float})


def _accumulator_operator(name: str, finish: Callable[[Any], Any]) -> None:
    """Register ``name``: ``finish(values)`` receives the values the accumulator would see."""

    def compile_accumulator(args: Any, at: tuple, scope: Any) -> Callable:
        fns = operands(name, args, at, scope)
        if len(fns) == 1:
            (arg,) = fns

            def over_one(doc: dict, vars: Any) -> Any:
                value = arg(doc, vars)
                return finish(value if type(value) is list else (value,))

            return fold(over_one, fns, at)
        return fold(lambda doc, vars: finish([fn(doc, vars) for fn in fns]), fns, at)

    expression_operator(name)(compile_accumulator)


# --- $sum and $avg --------------------------------------------------------------------------


def _numeric_totals(values: Any) -> tuple[int, int, list, list, int]:
    """(widest kind, exact integer total, doubles, decimals, count) over the numeric values."""
    widest, integers, doubles, decimals, count = INT, 0, [], [], 0
    for value in values:
        kind = number_kind(value)
        if not kind:
            continue
        count += 1
        if kind > widest:
            widest = kind
        if kind <= LONG:
            integers += int(value)
        elif kind == DOUBLE:
            doubles.append(value)
        else:
            decimals.append(value.to_decimal())
    return widest, integers, doubles, decimals, count


def _rounded(exact: Fraction) -> float:
    try:
        return float(exact)
    except OverflowError:
        return math.copysign(math.inf, exact)


def _special_total(doubles: list) -> float:
    """The sum of the infinities and NaNs alone, which is what decides the total once any appears."""
    return sum(x for x in doubles if not math.isfinite(x))


def _double_total(integers: int, doubles: list) -> float:
    """The sum of doubles and integers rounded once, as mongod's double-double summation gives."""
    if not all(math.isfinite(x) for x in doubles):
        return _special_total(doubles)
    high = float(integers)
    try:
        return math.fsum([*doubles, high, float(integers - int(high))])
    except OverflowError:
        return _rounded(sum((Fraction(x) for x in doubles), Fraction(integers)))


def _decimal_total(integers: int, doubles: list, decimals: list) -> Decimal:
    """mongod's decimal sum: the decimals, plus the non-decimal total as two doubles in 34 digits."""
    total = Decimal(0)
    for number in decimals:
        total = DECIMAL128.add(total, number)
    if not all(math.isfinite(x) for x in doubles):
        return DECIMAL128.add(total, Decimal(_special_total(doubles)))
    exact = sum((Fraction(x) for x in doubles), Fraction(integers))
    high = _rounded(exact)
    low = _rounded(exact - Fraction(high)) if math.isfinite(high) else 0.0
    rest = DECIMAL128.add(DECIMAL128.create_decimal(high), DECIMAL128.create_decimal(low))
    return DECIMAL128.add(total, rest)


def _plain_total(values: Any) -> Any:
    """The common case in C: a list of only doubles, or only 32-bit ints; ``None`` otherwise."""
    if type(values) is not list or not values:
        return None
    kinds = set(map(type, values))
    if kinds == _DOUBLES:
        try:
            return math.fsum(values)
        except (ValueError, OverflowError):  # inf - inf, or an overflow: the general path decides
            return None
    if kinds == _INTS and min(values) >= INT32_MIN and max(values) <= INT32_MAX:
        return sum(values)
    return None


def sum_of(values: Any) -> Any:
    total = _plain_total(values)
    if total is not None:
        return int_or_long(total) if type(total) is int else total
    widest, integers, doubles, decimals, _ = _numeric_totals(values)
    if widest <= LONG:
        if INT64_MIN <= integers <= INT64_MAX:
            return int_or_long(integers) if widest == INT else Int64(integers)
        return float(integers)
    if widest == DOUBLE:
        return _double_total(integers, doubles)
    return Decimal128(_decimal_total(integers, doubles, decimals))


def average_of(values: Any) -> Any:
    total = _plain_total(values)
    if total is not None:
        return float(total) / len(values)
    widest, integers, doubles, decimals, count = _numeric_totals(values)
    if not count:
        return None
    if widest == DECIMAL:
        return Decimal128(DECIMAL128.divide(_decimal_total(integers, doubles, decimals), count))
    if widest <= LONG:
        return float(integers) / count
    return _double_total(integers, doubles) / count


# --- $min and $max --------------------------------------------------------------------------


def _extreme(sign: int) -> Callable[[Any], Any]:
    pick = max if sign > 0 else min

    def extreme_of(values: Any) -> Any:
        if type(values) is list and values:
            kinds = set(map(type, values))
            # Python's max/min keep the first of equals, as mongod does; NaN needs BSON order.
            if kinds == _INTS or (kinds <= _PLAIN and not any(map(math.isnan, values))):
                return pick(values)
        best = MISSING
        for value in values:
            if value is None or value is MISSING:
                continue
            if best is MISSING or compare(value, best) == sign:
                best = value
        return None if best is MISSING else best

    return extreme_of


# --- $stdDevPop and $stdDevSamp ---------------------------------------------------------------


def _standard_deviation(sample: bool) -> Callable[[Any], Any]:
    """Welford's online algorithm, step for step as mongod runs it, so doubles round alike."""

    def deviation_of(values: Any) -> Any:
        count, mean, m2 = 0, 0.0, 0.0
        for value in values:
            kind = number_kind(value)
            if not kind:
                continue
            x = to_double(value, kind)
            count += 1
            delta = x - mean
            if delta != 0.0:
                mean += delta / count
                m2 += delta * (x - mean)
        divisor = count - 1 if sample else count
        if divisor <= 0:
            return None
        return math.sqrt(m2 / divisor)

    return deviation_of


_accumulator_operator("$sum", sum_of)
_accumulator_operator("$avg", average_of)
_accumulator_operator("$max", _extreme(1))
_accumulator_operator("$min", _extreme(-1))
_accumulator_operator("$stdDevPop", _standard_deviation(sample=False))
_accumulator_operator("$stdDevSamp", _standard_deviation(sample=True))


# --- $median and $percentile ----------------------------------------------------------------


def percentiles_of(value: Any, ps: list, method: str) -> list:
    """mongod's accurate percentiles; ``None`` for each p when there is no number.

    A single number is every percentile. "discrete" (and "approximate", which mongod computes
    exactly for expressions) returns the value at rank ceil(p*n) - 1 of the sorted numbers,
    NaN left out; "continuous" interpolates between the two nearest ranks.
    """
    kind = number_kind(value)
    if kind:
        return [to_double(value, kind)] * len(ps)
    if type(value) is not list:
        return [None] * len(ps)
    ordered = sorted(x for item in value if (kind := number_kind(item)) and (x := to_double(item, kind)) == x)
    n = len(ordered)
    if not n:
        return [None] * len(ps)
    if method != "continuous":
        return [ordered[n - 1 if p >= 1 else max(0, math.ceil(n * p) - 1)] for p in ps]
    return [_interpolated(ordered, p * (n - 1)) for p in ps]


def _interpolated(ordered: list, rank: float) -> float:
    low, high = math.floor(rank), math.ceil(rank)
    below, above = ordered[low], ordered[high]
    if low == high or below == -math.inf:
        return below
    if above == math.inf:
        return above
    return (high - rank) * below + (rank - low) * above


def _method(name: str, args: dict, at: tuple) -> str:
    method = args["method"]
    if method not in PERCENTILE_METHODS:
        msg = f"{name}'s method must be one of {', '.join(PERCENTILE_METHODS)}; got {method!r}"
        raise SpecError(msg, (*at, "method"))
    return method


def constant_percentiles(spec: Any, at: tuple, scope: Any) -> list:
    """The ``p`` field: a constant, non-empty array of numbers in [0.0, 1.0]."""
    compiled = compile_expression(spec, at, scope)
    if not is_constant(compiled):
        msg = f"the $percentile 'p' field must be an array of constant values, but found value: {spec!r}"
        raise SpecError(msg, at)
    ps = compiled.constant
    prefix = "the $percentile 'p' field must be an array of numbers from [0.0, 1.0], but found: "
    if type(ps) is not list or not ps:
        msg = prefix + repr(ps)
        raise SpecError(msg, at)
    out = []
    for p in ps:
        kind = number_kind(p)
        if not kind:
            msg = f"{prefix}{p!r} ({bson_type_name(p)})"
            raise SpecError(msg, at)
        number = to_double(p, kind)
        if not 0 <= number <= 1:
            msg = prefix + format_double(number)
            raise SpecError(msg, at)
        out.append(number)
    return out


@expression_operator("$percentile")
def compile_percentile(args: Any, at: tuple, scope: Any) -> Callable:
    named_arguments("$percentile", args, at, required=("input", "p", "method"))
    ps = constant_percentiles(args["p"], (*at, "p"), scope)
    method = _method("$percentile", args, at)
    arg = compile_expression(args["input"], (*at, "input"), scope)
    return fold(lambda doc, vars: percentiles_of(arg(doc, vars), ps, method), [arg], at)


@expression_operator("$median")
def compile_median(args: Any, at: tuple, scope: Any) -> Callable:
    named_arguments("$median", args, at, required=("input", "method"))
    method = _method("$median", args, at)
    arg = compile_expression(args["input"], (*at, "input"), scope)
    return fold(lambda doc, vars: percentiles_of(arg(doc, vars), [0.5], method)[0], [arg], at)
