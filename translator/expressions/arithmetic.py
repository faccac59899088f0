"""Arithmetic expression operators, with mongod's result types, overflow rules and error wording.

https://www.mongodb.com/docs/manual/reference/operator/aggregation/#arithmetic-expression-operators

Numbers come in four kinds, widened in this order: int (32-bit) < long (64-bit) < double <
decimal. A Python ``int`` is an int when it fits 32 bits and a long otherwise; a long *result*
is always returned as ``bson.Int64`` so its BSON type survives whatever value it has. A double
meeting a decimal is first rounded to 15 significant digits, as mongod's ``coerceToDecimal`` does
(``0.1`` becomes ``0.100000000000000``).
"""

from __future__ import annotations

import decimal
import math
import operator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable

from bson import Decimal128, Int64

from translator._bson_types import INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, bson_type_name
from translator._types import MISSING, is_nullish
from translator.errors import ExpressionError
from translator.expressions.compile import (
    at_compile_time,
    compile_expression,
    constant,
    expression_operator,
    fold,
    is_constant,
    named_arguments,
    operands,
)

INT, LONG, DOUBLE, DECIMAL = 1, 2, 3, 4  # numeric kinds; max() of two is their common kind
_KINDS = {float: DOUBLE, Int64: LONG, Decimal128: DECIMAL}

# IEEE 754 decimal128: 34 digits, half-even, no traps (an invalid operation gives NaN, as in mongod).
DECIMAL128 = decimal.Context(
    prec=34, Emin=-6143, Emax=6144, rounding=decimal.ROUND_HALF_EVEN, traps=[], clamp=1
)
# Remainders are exact however many digits the quotient has (mongod's decimal fmod).
_WIDE = decimal.Context(prec=13000, Emin=-6176, Emax=6144, traps=[])
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ONE_MS = timedelta(milliseconds=1)
_DECIMAL_ONE = Decimal(1)
_DECIMAL_ZERO = Decimal(0)


def number_kind(value: Any) -> int:
    """INT, LONG, DOUBLE or DECIMAL; 0 when ``value`` is not a number (bool is not)."""
    if type(value) is int:
        return INT if INT32_MIN <= value <= INT32_MAX else LONG
    return _KINDS.get(type(value), 0)


def is_positive(number: Decimal) -> bool:
    """``number > 0`` without the exception Python's decimal raises when comparing a NaN."""
    return not number.is_nan() and number > 0


def int_or_long(number: int) -> Any:
    """mongod's ``createIntOrLong``: an int when it fits 32 bits, else a long."""
    return number if INT32_MIN <= number <= INT32_MAX else Int64(number)


def decimal_from_double(number: float) -> Decimal:
    """A double as mongod turns it into a decimal: exactly 15 significant digits, zeros kept.

    Like mongod, the binary value is first rounded to 34 digits, then quantized to 15 (once
    more when rounding up adds a digit, as 9.999... does).
    """
    if not math.isfinite(number) or number == 0:
        return Decimal(number)
    wide = DECIMAL128.create_decimal(number)
    narrow = wide.quantize(Decimal(1).scaleb(wide.adjusted() - 14), context=DECIMAL128)
    if narrow.adjusted() != wide.adjusted():
        narrow = narrow.quantize(Decimal(1).scaleb(narrow.adjusted() - 14), context=DECIMAL128)
    return narrow


def to_decimal(value: Any, kind: int) -> Decimal:
    """mongod's ``coerceToDecimal`` of a number of the given kind."""
    if kind == DECIMAL:
        return value.to_decimal()
    if kind == DOUBLE:
        return decimal_from_double(value)
    return Decimal(int(value))


def to_double(value: Any, kind: int) -> float:
    """mongod's ``coerceToDouble`` (a decimal rounds half-even to the nearest double)."""
    return float(value.to_decimal()) if kind == DECIMAL else float(value)


def decimal128(number: Decimal) -> Decimal128:
    """Round to decimal128's 34 digits and exponent range, keeping the sign of zero."""
    return Decimal128(DECIMAL128.create_decimal(number))


def format_double(number: float) -> str:
    """A double the way mongod's error messages print one (C's ``%g``)."""
    return format(number, "g")


def not_numeric(name: str, value: Any) -> ExpressionError:
    return ExpressionError(f"{name} only supports numeric types, not {bson_type_name(value)}")


def numeric_function(name: str, arg: Callable, compute: Callable[[Any, int], Any]) -> Callable:
    """``compute(value, kind)`` over ``arg``'s value: null/missing give null, non-numbers fail."""

    def evaluate(doc: dict, vars: Any) -> Any:
        value = arg(doc, vars)
        if type(value) is float:
            return compute(value, DOUBLE)
        kind = number_kind(value)
        if kind:
            return compute(value, kind)
        if value is None or value is MISSING:
            return None
        raise not_numeric(name, value)

    return evaluate


def numeric_operator(name: str, compute: Callable[[Any, int], Any]) -> None:
    """Register a one-argument numeric operator built on :func:`numeric_function`."""

    def compile_numeric(args: Any, at: tuple, scope: Any) -> Callable:
        (arg,) = operands(name, args, at, scope, 1, 1)
        return fold(numeric_function(name, arg, compute), [arg], at)

    expression_operator(name)(compile_numeric)


# --- dates in $add and $subtract -----------------------------------------------------------


def millis(date: datetime) -> int:
    if date.tzinfo is None:
        date = date.replace(tzinfo=timezone.utc)
    return (date - EPOCH) // _ONE_MS


def in_date_range(ms: int) -> int:
    """Milliseconds since the epoch must fit a BSON date's 64 bits."""
    if not INT64_MIN <= ms <= INT64_MAX:
        msg = "date overflow"
        raise ExpressionError(msg)
    return ms


def date_from_millis(ms: int) -> datetime:
    try:
        return EPOCH + timedelta(milliseconds=in_date_range(ms))
    except OverflowError:
        msg = "date overflow: the result is outside the dates Python can represent (years 1 to 9999)"
        raise ExpressionError(msg) from None


def _round_half_away(number: float) -> int:
    """C's ``llround``: halves round away from zero."""
    whole = math.trunc(number)
    if abs(number - whole) >= 0.5:
        whole += 1 if number > 0 else -1
    return whole


def millis_offset(value: Any, kind: int) -> int:
    """A number added to or subtracted from a date, as whole milliseconds."""
    if kind <= LONG:
        return int(value)
    if kind == DOUBLE:
        if not -9.223372036854775808e18 <= value < 9.223372036854775808e18:
            msg = "date overflow"
            raise ExpressionError(msg)
        return _round_half_away(value)
    number = value.to_decimal()
    if not number.is_finite():
        msg = "date overflow"
        raise ExpressionError(msg)
    return in_date_range(int(number.to_integral_value(rounding=decimal.ROUND_HALF_EVEN)))


# --- two operands, the common case -----------------------------------------------------


def binary_fast_path(operation: Callable, general: Callable, left: Callable, right: Callable) -> Callable:
    """Two operands: doubles and 32-bit ints go straight to Python; anything else to ``general``.

    ``"$field" op constant``, the most common shape, reads the document directly.
    """
    field = getattr(left, "field", None)
    b = getattr(right, "constant", None)
    if field is not None and type(b) is float:

        def field_and_double(doc: dict, vars: Any) -> Any:
            a = doc.get(field, MISSING)
            ta = type(a)
            if ta is float or ta is int:
                return operation(a, b)
            return general(a, b)

        field_and_double.inline = ("field_number_op", field, operation, b)  # type: ignore[attr-defined]
        return field_and_double
    if field is not None and type(b) is int and INT32_MIN <= b <= INT32_MAX:

        def field_and_int(doc: dict, vars: Any) -> Any:
            a = doc.get(field, MISSING)
            ta = type(a)
            if ta is int and INT32_MIN <= a <= INT32_MAX:
                return int_or_long(operation(a, b))
            if ta is float:
                return operation(a, b)
            return general(a, b)

        field_and_int.inline = ("field_int_op", field, operation, b, INT32_MIN, INT32_MAX, int_or_long)  # type: ignore[attr-defined]
        return field_and_int

    def evaluate(doc: dict, vars: Any) -> Any:
        a = left(doc, vars)
        b = right(doc, vars)
        ta, tb = type(a), type(b)
        if ta is float:
            if tb is float or tb is int:
                return operation(a, b)
        elif ta is int:
            if tb is int:
                if INT32_MIN <= a <= INT32_MAX and INT32_MIN <= b <= INT32_MAX:
                    return int_or_long(operation(a, b))
            elif tb is float:
                return operation(a, b)
        return general(a, b)

    return evaluate



def add_values(values: Any) -> Any:
    """mongod's ``$add``: running total widened as operands arrive; a long overflow turns double."""
    widest = INT
    long_total = 0
    double_total = 0.0
    decimal_total = _DECIMAL_ZERO
    date_ms = None
    for value in values:
        kind = number_kind(value)
        if not kind:
            if value is None or value is MISSING:
                return None
            if type(value) is not datetime:
                msg = f"$add only supports numeric or date types, not {bson_type_name(value)}"
                raise ExpressionError(msg)
            if date_ms is not None:
                msg = "only one date allowed in an $add expression"
                raise ExpressionError(msg)
            if widest <= LONG:
                date_ms = long_total
            elif widest == DOUBLE:
                date_ms = millis_offset(double_total, DOUBLE)
            else:
                date_ms = millis_offset(Decimal128(decimal_total), DECIMAL)
            date_ms += millis(value)
        elif date_ms is not None:
            date_ms = in_date_range(date_ms + millis_offset(value, kind))
        else:
            if kind > widest:
                if kind == DOUBLE and widest <= LONG:
                    double_total = float(long_total)
                elif kind == DECIMAL:
                    decimal_total = Decimal(long_total) if widest <= LONG else decimal_from_double(double_total)
                widest = kind
            if widest <= LONG:
                total = long_total + int(value)
                if INT64_MIN <= total <= INT64_MAX:
                    long_total = total
                else:
                    widest = DOUBLE
                    double_total = float(long_total) + float(value)
            elif widest == DOUBLE:
                double_total += float(value)
            else:
                decimal_total = DECIMAL128.add(decimal_total, to_decimal(value, kind))
    if date_ms is not None:
        return date_from_millis(date_ms)
    return typed_result(widest, long_total, double_total, decimal_total)


def typed_result(widest: int, as_long: int, as_double: float, as_decimal: Any) -> Any:
    """The running result in the widest type its operands reached, as mongod types it."""
    if widest == INT:
        return int_or_long(as_long)
    if widest == LONG:
        return Int64(as_long)
    if widest == DOUBLE:
        return as_double
    return Decimal128(as_decimal)


def _variadic(name: str, combine: Callable[[Any], Any], operation: Callable) -> None:
    """``$add``/``$multiply``: any number of operands, with a fast path for two."""

    @expression_operator(name)
    def compile_variadic(args: Any, at: tuple, scope: Any) -> Callable:
        fns = operands(name, args, at, scope)
        if len(fns) != 2:
            return fold(lambda doc, vars: combine([fn(doc, vars) for fn in fns]), fns, at)
        return fold(binary_fast_path(operation, lambda a, b: combine((a, b)), *fns), fns, at)


_variadic("$add", add_values, operator.add)


# --- $subtract --------------------------------------------------------------------------------


def subtract_values(a: Any, b: Any) -> Any:
    kind_a, kind_b = number_kind(a), number_kind(b)
    if kind_a and kind_b:
        kind = max(kind_a, kind_b)
        if kind == DECIMAL:
            return Decimal128(DECIMAL128.subtract(to_decimal(a, kind_a), to_decimal(b, kind_b)))
        if kind == DOUBLE:
            return float(a) - float(b)
        difference = int(a) - int(b)
        if kind == INT:
            return int_or_long(difference)
        return Int64(difference) if INT64_MIN <= difference <= INT64_MAX else float(a) - float(b)
    if is_nullish(a) or is_nullish(b):
        return None
    if type(a) is datetime:
        if type(b) is datetime:
            return Int64(millis(a) - millis(b))
        if kind_b:
            return date_from_millis(millis(a) - millis_offset(b, kind_b))
        msg = f"can't $subtract {bson_type_name(b)} from Date"
        raise ExpressionError(msg)
    msg = f"can't $subtract {bson_type_name(b)} from {bson_type_name(a)}"
    raise ExpressionError(msg)


@expression_operator("$subtract")
def compile_subtract(args: Any, at: tuple, scope: Any) -> Callable:
    fns = operands("$subtract", args, at, scope, 2, 2)
    return fold(binary_fast_path(operator.sub, subtract_values, *fns), fns, at)


# --- $multiply --------------------------------------------------------------------------------


def multiply_values(values: Any) -> Any:
    """mongod's ``$multiply``: a double product runs alongside the integer one for overflow."""
    widest = INT
    double_product = 1.0
    long_product = 1
    decimal_product = _DECIMAL_ONE
    for value in values:
        kind = number_kind(value)
        if not kind:
            if value is None or value is MISSING:
                return None
            raise not_numeric("$multiply", value)
        previous = widest
        widest = max(widest, kind)
        if widest == DECIMAL:
            if previous != DECIMAL:
                decimal_product = decimal_from_double(double_product) if previous == DOUBLE else Decimal(long_product)
            decimal_product = DECIMAL128.multiply(decimal_product, to_decimal(value, kind))
        else:
            double_product *= float(value)
            if widest != DOUBLE:
                product = long_product * int(value)
                if INT64_MIN <= product <= INT64_MAX:
                    long_product = product
                else:
                    widest = DOUBLE
    return typed_result(widest, long_product, double_product, decimal_product)


_variadic("$multiply", multiply_values, operator.mul)


# --- $divide and $mod ------------------------------------------------------------------------


def divide_values(a: Any, b: Any) -> Any:
    kind_a, kind_b = number_kind(a), number_kind(b)
    if kind_a and kind_b:
        if kind_a == DECIMAL or kind_b == DECIMAL:
            denominator = to_decimal(b, kind_b)
            if denominator.is_zero():
                msg = "can't $divide by zero"
                raise ExpressionError(msg)
            return Decimal128(DECIMAL128.divide(to_decimal(a, kind_a), denominator))
        denominator = float(b)
        if denominator == 0:
            msg = "can't $divide by zero"
            raise ExpressionError(msg)
        return float(a) / denominator
    if is_nullish(a) or is_nullish(b):
        return None
    msg = f"$divide only supports numeric types, not {bson_type_name(a)} and {bson_type_name(b)}"
    raise ExpressionError(msg)


@expression_operator("$divide")
def compile_divide(args: Any, at: tuple, scope: Any) -> Callable:
    fns = operands("$divide", args, at, scope, 2, 2)
    left, right = fns

    def divide(doc: dict, vars: Any) -> Any:
        a = left(doc, vars)
        b = right(doc, vars)
        ta, tb = type(a), type(b)
        if (ta is float or ta is int) and (tb is float or tb is int) and b != 0:
            return float(a) / float(b)
        return divide_values(a, b)

    return fold(divide, fns, at)


def _truncated_remainder(a: int, b: int) -> int:
    """C's ``%``: the remainder takes the dividend's sign."""
    remainder = abs(a) % abs(b)
    return -remainder if a < 0 else remainder


def mod_values(a: Any, b: Any) -> Any:
    kind_a, kind_b = number_kind(a), number_kind(b)
    if kind_a and kind_b:
        if kind_a == DECIMAL or kind_b == DECIMAL:
            divisor = to_decimal(b, kind_b)
            if divisor.is_zero():
                msg = "can't $mod by zero"
                raise ExpressionError(msg)
            return decimal128(_WIDE.remainder(to_decimal(a, kind_a), divisor))
        if float(b) == 0:
            msg = "can't $mod by zero"
            raise ExpressionError(msg)
        if kind_a == DOUBLE or kind_b == DOUBLE:
            try:
                return math.fmod(float(a), float(b))
            except ValueError:  # an infinite dividend
                return math.nan
        remainder = _truncated_remainder(int(a), int(b))
        return Int64(remainder) if kind_a == LONG or kind_b == LONG else remainder
    if is_nullish(a) or is_nullish(b):
        return None
    msg = f"$mod only supports numeric types, not {bson_type_name(a)} and {bson_type_name(b)}"
    raise ExpressionError(msg)


@expression_operator("$mod")
def compile_mod(args: Any, at: tuple, scope: Any) -> Callable:
    fns = operands("$mod", args, at, scope, 2, 2)
    left, right = fns
    return fold(lambda doc, vars: mod_values(left(doc, vars), right(doc, vars)), fns, at)


# --- $abs, $ceil, $floor, $exp, $ln, $log10, $sqrt -----------------------------------------


def _abs(value: Any, kind: int) -> Any:
    if kind == DOUBLE:
        return abs(value)
    if kind == DECIMAL:
        return Decimal128(value.to_decimal().copy_abs())
    if value == INT64_MIN:
        msg = "can't take $abs of long long min"
        raise ExpressionError(msg)
    return Int64(abs(value)) if kind == LONG else int_or_long(abs(value))


def _rounder(double_op: Callable[[float], int], rounding: str) -> Callable[[Any, int], Any]:
    """``$ceil``/``$floor``: doubles keep the sign of a zero result; decimals go to exponent 0."""

    def round_number(value: Any, kind: int) -> Any:
        if kind == DOUBLE:
            if not math.isfinite(value):
                return value
            result = float(double_op(value))
            return math.copysign(0.0, value) if result == 0 else result
        if kind == DECIMAL:
            return Decimal128(value.to_decimal().quantize(_DECIMAL_ONE, rounding=rounding, context=DECIMAL128))
        return value

    return round_number


def _exp(value: Any, kind: int) -> Any:
    if kind == DECIMAL:
        return Decimal128(value.to_decimal().exp(DECIMAL128))
    try:
        return math.exp(float(value))
    except OverflowError:
        return math.inf


def _logarithm(name: str, double_log: Callable[[float], float], decimal_log: str) -> Callable[[Any, int], Any]:
    def logarithm(value: Any, kind: int) -> Any:
        if kind == DECIMAL:
            number = value.to_decimal()
            if is_positive(number):
                return Decimal128(getattr(number, decimal_log)(DECIMAL128))
        number = to_double(value, kind)
        if not number > 0:
            if number != number:
                return number
            msg = f"{name}'s argument must be a positive number, but is {format_double(number)}"
            raise ExpressionError(msg)
        return double_log(number)

    return logarithm


def _sqrt(value: Any, kind: int) -> Any:
    if kind == DECIMAL:
        number = value.to_decimal()
        if not number.is_nan() and number < 0:
            msg = "$sqrt's argument must be greater than or equal to 0"
            raise ExpressionError(msg)
        return Decimal128(number.sqrt(DECIMAL128))
    number = float(value)
    if number < 0:
        msg = "$sqrt's argument must be greater than or equal to 0"
        raise ExpressionError(msg)
    return math.sqrt(number)


numeric_operator("$abs", _abs)
numeric_operator("$ceil", _rounder(math.ceil, decimal.ROUND_CEILING))
numeric_operator("$floor", _rounder(math.floor, decimal.ROUND_FLOOR))
numeric_operator("$exp", _exp)
numeric_operator("$ln", _logarithm("$ln", math.log, "ln"))
numeric_operator("$log10", _logarithm("$log10", math.log10, "log10"))
numeric_operator("$sqrt", _sqrt)


# --- $log and $pow ----------------------------------------------------------------------------


def log_values(number: Any, base: Any) -> Any:
    if is_nullish(number) or is_nullish(base):
        return None
    kind_n, kind_b = number_kind(number), number_kind(base)
    if not kind_n:
        msg = f"$log's argument must be numeric, not {bson_type_name(number)}"
        raise ExpressionError(msg)
    if not kind_b:
        msg = f"$log's base must be numeric, not {bson_type_name(base)}"
        raise ExpressionError(msg)
    if kind_n == DECIMAL or kind_b == DECIMAL:
        n, b = to_decimal(number, kind_n), to_decimal(base, kind_b)
        if is_positive(n) and is_positive(b) and b != 1:
            return Decimal128(DECIMAL128.divide(n.ln(DECIMAL128), b.ln(DECIMAL128)))
    n, b = to_double(number, kind_n), to_double(base, kind_b)
    if not (n > 0 or n != n):
        msg = f"$log's argument must be a positive number, but is {format_double(n)}"
        raise ExpressionError(msg)
    if not ((b > 0 and b != 1) or b != b):
        msg = f"$log's base must be a positive number not equal to 1, but is {format_double(b)}"
        raise ExpressionError(msg)
    return _c_log(n) / _c_log(b)


def _c_log(number: float) -> float:
    return number if number != number else math.log(number)


@expression_operator("$log")
def compile_log(args: Any, at: tuple, scope: Any) -> Callable:
    fns = operands("$log", args, at, scope, 2, 2)
    number, base = fns
    return fold(lambda doc, vars: log_values(number(doc, vars), base(doc, vars)), fns, at)


def c_pow(base: float, exponent: float) -> float:
    """C's ``pow``: overflow gives an infinity and a negative base with a fraction gives NaN."""
    try:
        return math.pow(base, exponent)
    except OverflowError:
        odd = exponent == math.floor(exponent) and exponent % 2 == 1
        return -math.inf if base < 0 and odd else math.inf
    except ValueError:
        return math.nan


def pow_values(base: Any, exponent: Any) -> Any:
    if is_nullish(base) or is_nullish(exponent):
        return None
    kind_b, kind_e = number_kind(base), number_kind(exponent)
    if not kind_b:
        msg = f"$pow's base must be numeric, not {bson_type_name(base)}"
        raise ExpressionError(msg)
    if not kind_e:
        msg = f"$pow's exponent must be numeric, not {bson_type_name(exponent)}"
        raise ExpressionError(msg)
    if kind_b == DECIMAL or kind_e == DECIMAL:
        b, e = to_decimal(base, kind_b), to_decimal(exponent, kind_e)
        if b.is_zero() and e.is_signed():
            msg = "$pow cannot take a base of 0 and a negative exponent"
            raise ExpressionError(msg)
        if e.is_zero():
            return Decimal128(_DECIMAL_ONE)
        return Decimal128(DECIMAL128.power(b, e))
    b, e = float(base), float(exponent)
    if b == 0 and e < 0:
        msg = "$pow cannot take a base of 0 and a negative exponent"
        raise ExpressionError(msg)
    if kind_b == DOUBLE or kind_e == DOUBLE:
        return c_pow(b, e)
    whole_base, whole_exponent = int(base), int(exponent)
    if whole_base in (1, -1):
        result = -1 if whole_base == -1 and whole_exponent % 2 else 1
    elif whole_base == 0:
        result = 0 if whole_exponent else 1
    elif 0 <= whole_exponent <= 63:
        result = whole_base**whole_exponent
        if not INT64_MIN <= result <= INT64_MAX:
            return c_pow(b, e)
    else:
        return c_pow(b, e)
    return Int64(result) if kind_b == LONG or kind_e == LONG else int_or_long(result)


@expression_operator("$pow")
def compile_pow(args: Any, at: tuple, scope: Any) -> Callable:
    fns = operands("$pow", args, at, scope, 2, 2)
    base, exponent = fns
    return fold(lambda doc, vars: pow_values(base(doc, vars), exponent(doc, vars)), fns, at)


# --- $round and $trunc ------------------------------------------------------------------------

_PLACE_RANGE = (-20, 100)


def _place(name: str, value: Any) -> int:
    """The ``place`` argument: an integral number in [-20, 100]."""
    kind = number_kind(value)
    if not kind:
        msg = f"can't convert from BSON type {bson_type_name(value)} to long"
        raise ExpressionError(msg)
    if kind >= DOUBLE:
        number = value.to_decimal() if kind == DECIMAL else Decimal(value)
        if not (number.is_finite() and INT64_MIN <= number <= INT64_MAX):
            shown = str(number) if kind == DECIMAL else format_double(value)
            msg = f"Can't coerce out of range value {shown} to long"
            raise ExpressionError(msg)
        if number != number.to_integral_value():
            msg = f"precision argument to  {name} must be a integral value"
            raise ExpressionError(msg)
    place = int(value.to_decimal()) if kind == DECIMAL else int(value)
    if not INT32_MIN <= place <= INT32_MAX:
        msg = f"precision argument to  {name} must be a integral value"
        raise ExpressionError(msg)
    if not _PLACE_RANGE[0] <= place <= _PLACE_RANGE[1]:
        msg = f"cannot apply {name} with precision value {place} value must be in [-20, 100]"
        raise ExpressionError(msg)
    return place


def _round_to_place(name: str, rounding: str, value: Any, kind: int, place: int) -> Any:
    if kind == DOUBLE:
        if -15 <= place <= 15 and -1e15 < value < 1e15 and rounding == decimal.ROUND_HALF_EVEN:
            # Python rounds the exact binary value half to even; at these sizes mongod's detour
            # through 34 decimal digits can neither create nor break a tie, so both agree.
            return round(value, place)
        if math.isinf(value):
            return value
        quantum = Decimal((0, (1,), -place))
        return float(DECIMAL128.create_decimal(value).quantize(quantum, rounding=rounding, context=DECIMAL128))
    quantum = Decimal((0, (1,), -place))
    if kind == DECIMAL:
        number = value.to_decimal()
        if number.is_infinite():
            return value
        return Decimal128(number.quantize(quantum, rounding=rounding, context=DECIMAL128))
    if place >= 0:
        return value
    rounded = int(Decimal(int(value)).quantize(quantum, rounding=rounding, context=DECIMAL128))
    if not INT64_MIN <= rounded <= INT64_MAX:
        msg = f"invalid conversion from Decimal128 result in {name} resulting from arguments: [{int(value)}, {place}]"
        raise ExpressionError(msg)
    return Int64(rounded) if kind == LONG else int_or_long(rounded)


def _round_operator(name: str, rounding: str) -> None:
    def compile_round(args: Any, at: tuple, scope: Any) -> Callable:
        fns = operands(name, args, at, scope, 1, 2)
        number = fns[0]
        place_fn = fns[1] if len(fns) == 2 else constant(0)
        if is_constant(place_fn) and not is_nullish(place_fn.constant):
            place = at_compile_time(_place, (*at, "1"), name, place_fn.constant)

            def round_number_at(value: Any, kind: int) -> Any:
                return _round_to_place(name, rounding, value, kind, place)

            return fold(numeric_function(name, number, round_number_at), fns, at)

        def round_number(doc: dict, vars: Any) -> Any:
            value = number(doc, vars)
            kind = number_kind(value)
            if not kind:
                if value is None or value is MISSING:
                    return None
                raise not_numeric(name, value)
            place = place_fn(doc, vars)
            if is_nullish(place):
                return None
            return _round_to_place(name, rounding, value, kind, _place(name, place))

        return fold(round_number, fns, at)

    expression_operator(name)(compile_round)


_round_operator("$round", decimal.ROUND_HALF_EVEN)
_round_operator("$trunc", decimal.ROUND_DOWN)


# --- $sigmoid -------------------------------------------------------------------------------


def sigmoid(value: Any) -> Any:
    """mongod's rewrite, ``1 / (1 + e^(-x))``, with each step's own type rules and errors."""
    negated = multiply_values((-1, value))
    return divide_values(1, add_values((1, _exp(negated, number_kind(negated)))))


@expression_operator("$sigmoid")
def compile_sigmoid(args: Any, at: tuple, scope: Any) -> Callable:
    if type(args) is dict and "input" in args:
        named_arguments("$sigmoid", args, at, required=("input",), optional=("onNull",))
        value = compile_expression(args["input"], (*at, "input"), scope)
        on_null = compile_expression(args.get("onNull"), (*at, "onNull"), scope)
    else:
        value = compile_expression(args, at, scope)
        on_null = constant(None)

    def evaluate(doc: dict, vars: Any) -> Any:
        x = value(doc, vars)
        if x is None or x is MISSING:
            return on_null(doc, vars)
        return sigmoid(x)

    return fold(evaluate, [value, on_null], at)
