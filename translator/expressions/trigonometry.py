"""Trigonometry expression operators: doubles through C's libm, decimals to 34 digits.

https://www.mongodb.com/docs/manual/reference/operator/aggregation/#trigonometry-expression-operators

Python's ``decimal`` has no trigonometry, so decimal results are computed here with series at a
higher working precision and rounded once to decimal128's 34 digits.
"""

from __future__ import annotations

import decimal
import math
from decimal import Decimal
from typing import Any, Callable

from bson import Decimal128

from translator._types import MISSING
from translator.errors import ExpressionError
from translator.expressions.arithmetic import (
    DECIMAL,
    DECIMAL128,
    format_double,
    not_numeric,
    number_kind,
    numeric_operator,
    to_decimal,
    to_double,
)
from translator.expressions.compile import expression_operator, fold, operands

_GUARD_DIGITS = 16  # working precision above the 34 kept digits
_PI_CACHE: dict[int, Decimal] = {}
_INFINITY = Decimal("Infinity")
_ONE, _ZERO = Decimal(1), Decimal(0)  # exact results keep exponent 0, as decimal128 operations do
_SMALL = Decimal("1E-5")  # below this, series replace exp/ln formulas that would cancel


def _context(digits: int) -> decimal.Context:
    return decimal.Context(prec=digits, Emin=-999999, Emax=999999, traps=[])


def _atan_small(x: Decimal) -> Decimal:
    """Taylor series of atan for |x| well below 1, in the current context."""
    power, square, total, k = x, x * x, x, 1
    epsilon = Decimal(1).scaleb(-decimal.getcontext().prec - 2)
    while True:
        power = -power * square
        term = power / (2 * k + 1)
        if abs(term) <= epsilon * abs(total):
            return total
        total += term
        k += 1


def pi(digits: int) -> Decimal:
    """π to ``digits`` significant digits (Machin's formula), cached per precision."""
    found = _PI_CACHE.get(digits)
    if found is None:
        with decimal.localcontext(_context(digits + 5)):
            value = 16 * _atan_small(Decimal(1) / 5) - 4 * _atan_small(Decimal(1) / 239)
        found = _PI_CACHE[digits] = _context(digits).plus(value)
    return found


def _pi() -> Decimal:
    return pi(decimal.getcontext().prec)


def _atan(x: Decimal) -> Decimal:
    if x.is_infinite():
        return _pi() / 2 if x > 0 else -_pi() / 2
    if x.is_signed():
        return -_atan(-x)
    if x > 1:
        return _pi() / 2 - _atan(1 / x)
    halvings = 0
    while x > Decimal("0.1"):  # atan(x) = 2·atan(x / (1 + √(1 + x²)))
        x = x / (1 + (1 + x * x).sqrt())
        halvings += 1
    return _atan_small(x) * (2**halvings)


def _sin_cos(x: Decimal) -> tuple[Decimal, Decimal]:
    """sin and cos of a finite x, reduced into [-π, π] with enough digits of π for large x."""
    digits = decimal.getcontext().prec
    work = _context(digits + max(0, x.adjusted()) + 5)
    reduced = +work.remainder_near(x, work.multiply(2, pi(work.prec)))
    square = reduced * reduced
    epsilon = Decimal(1).scaleb(-digits - 2)
    sine, cosine = reduced, Decimal(1)
    sine_term, cosine_term, n = reduced, Decimal(1), 1
    while abs(sine_term) > epsilon or abs(cosine_term) > epsilon:
        sine_term = -sine_term * square / ((2 * n) * (2 * n + 1))
        cosine_term = -cosine_term * square / ((2 * n - 1) * (2 * n))
        sine += sine_term
        cosine += cosine_term
        n += 1
    return sine, cosine


def _sin(x: Decimal) -> Decimal:
    return x if x.is_zero() else _sin_cos(x)[0]


def _cos(x: Decimal) -> Decimal:
    return _ONE if x.is_zero() else _sin_cos(x)[1]


def _tan(x: Decimal) -> Decimal:
    if x.is_zero():
        return x
    sine, cosine = _sin_cos(x)
    return sine / cosine


def _asin(x: Decimal) -> Decimal:
    if abs(x) == 1:
        return _pi() / 2 if x > 0 else -_pi() / 2
    return _atan(x / (1 - x * x).sqrt()) if not x.is_zero() else x


def _acos(x: Decimal) -> Decimal:
    return _ZERO if x == 1 else _pi() / 2 - _asin(x)


def _series(first: Decimal, ratio: Callable[[int], Decimal], divisor: Callable[[int], int]) -> Decimal:
    """Σ a_k / divisor(k) with a_0 = ``first`` and a_k = a_(k-1) · ratio(k), to the current precision."""
    epsilon = Decimal(1).scaleb(-decimal.getcontext().prec - 2)
    power, total, k = first, first / divisor(0), 1
    while True:
        power *= ratio(k)
        term = power / divisor(k)
        total += term
        if abs(term) <= epsilon * abs(total):
            return total
        k += 1


def _small_sinh(x: Decimal) -> Decimal:
    square = x * x
    return _series(x, lambda k: square / ((2 * k) * (2 * k + 1)), lambda k: 1)


def _sinh(x: Decimal) -> Decimal:
    if x.is_infinite() or x.is_zero():
        return x
    if abs(x) < _SMALL:
        return _small_sinh(x)
    grown = x.exp()
    return (grown - 1 / grown) / 2


def _cosh(x: Decimal) -> Decimal:
    if x.is_infinite():
        return _INFINITY
    if x.is_zero():
        return _ONE
    grown = x.exp()
    return (grown + 1 / grown) / 2


def _tanh(x: Decimal) -> Decimal:
    if x.is_zero():
        return x
    if abs(x) < _SMALL:
        sinh = _small_sinh(x)
        return sinh / (1 + sinh * sinh).sqrt()
    if abs(x) > 100:  # tanh is 1 to far more than 34 digits
        return Decimal(1).copy_sign(x)
    grown = (2 * x).exp()
    return (grown - 1) / (grown + 1)


def _asinh(x: Decimal) -> Decimal:
    if x.is_infinite() or x.is_zero():
        return x
    if abs(x) < _SMALL:
        square = x * x
        return _series(x, lambda k: -square * (2 * k - 1) / (2 * k), lambda k: 2 * k + 1)
    magnitude = abs(x)
    return (magnitude + (magnitude * magnitude + 1).sqrt()).ln().copy_sign(x)


def _acosh(x: Decimal) -> Decimal:
    if x.is_infinite():
        return x
    if x == 1:
        return _ZERO
    return (x + (x * x - 1).sqrt()).ln()


def _atanh(x: Decimal) -> Decimal:
    if abs(x) == 1:
        return _INFINITY.copy_sign(x)
    if x.is_zero():
        return x
    if abs(x) < _SMALL:
        square = x * x
        return _series(x, lambda k: square, lambda k: 2 * k + 1)
    return ((1 + x) / (1 - x)).ln() / 2


def _in_decimal(compute: Callable[[Decimal], Decimal]) -> Callable[[Decimal], Decimal]:
    """Run ``compute`` with guard digits, a few more for small x where exp/ln formulas cancel."""

    def evaluate(x: Decimal) -> Decimal:
        small = x.is_finite() and not x.is_zero() and x.adjusted() < 0
        digits = 34 + _GUARD_DIGITS + (min(-x.adjusted(), 8) if small else 0)
        with decimal.localcontext(_context(digits)):
            result = DECIMAL128.create_decimal(compute(x))
        return _full_precision(result)

    return evaluate


def _full_precision(result: Decimal) -> Decimal:
    """An inexact result carries all 34 digits, as decimal128 arithmetic gives it.

    Past the exact cases (0, 1, infinities), these functions' values are irrational, so a result
    with fewer digits (sin x = x for a tiny x) is padded with zeros rather than left short.
    """
    if not result.is_finite() or result == result.to_integral_value():
        return result
    exponent = result.adjusted() - 33
    if exponent < DECIMAL128.Etiny():
        return result
    return result.quantize(Decimal(1).scaleb(exponent), context=DECIMAL128)


DECIMAL_FUNCTIONS = {
    "$sin": _sin, "$cos": _cos, "$tan": _tan, "$asin": _asin, "$acos": _acos, "$atan": _atan,
    "$sinh": _sinh, "$cosh": _cosh, "$tanh": _tanh, "$asinh": _asinh, "$acosh": _acosh, "$atanh": _atanh,
}  # fmt: skip


def _c_atanh(x: float) -> float:
    if abs(x) == 1:
        return math.copysign(math.inf, x)
    return math.atanh(x)


def _no_overflow(function: Callable[[float], float]) -> Callable[[float], float]:
    """libm returns ±inf where Python's math raises OverflowError."""

    def evaluate(x: float) -> float:
        try:
            return function(x)
        except OverflowError:
            return math.copysign(math.inf, x) if function is not math.cosh else math.inf

    return evaluate


DOUBLE_FUNCTIONS = {
    "$sin": math.sin, "$cos": math.cos, "$tan": math.tan, "$asin": math.asin, "$acos": math.acos,
    "$atan": math.atan, "$sinh": _no_overflow(math.sinh), "$cosh": _no_overflow(math.cosh),
    "$tanh": math.tanh, "$asinh": math.asinh, "$acosh": math.acosh, "$atanh": _c_atanh,
}  # fmt: skip

# (lower, upper, inclusive) for the operators with a domain; printed as mongod prints them.
BOUNDS = {
    "$sin": (-math.inf, math.inf, False),
    "$cos": (-math.inf, math.inf, False),
    "$tan": (-math.inf, math.inf, False),
    "$asin": (-1.0, 1.0, True),
    "$acos": (-1.0, 1.0, True),
    "$atanh": (-1.0, 1.0, True),
    "$acosh": (1.0, math.inf, True),
}


def _within(x: Any, bounds: tuple) -> bool:
    lower, upper, inclusive = bounds
    if inclusive:
        return lower <= x <= upper
    return lower < x < upper


def _trigonometric(name: str) -> Callable[[Any, int], Any]:
    double_function = DOUBLE_FUNCTIONS[name]
    decimal_function = _in_decimal(DECIMAL_FUNCTIONS[name])
    bounds = BOUNDS.get(name)

    def out_of_bounds(shown: str) -> ExpressionError:
        lower, upper, inclusive = bounds
        left, right = ("[", "]") if inclusive else ("(", ")")
        interval = f"{left}{format_double(lower)},{format_double(upper)}{right}"
        msg = f"cannot apply {name} to {shown}, value must in {interval}"
        return ExpressionError(msg)

    def evaluate(value: Any, kind: int) -> Any:
        if kind == DECIMAL:
            x = value.to_decimal()
            if x.is_nan():
                return value
            if bounds is not None and not _within(x, bounds):
                raise out_of_bounds(str(x))
            return Decimal128(decimal_function(x))
        x = float(value)
        if bounds is not None and not _within(x, bounds):
            if x != x:
                return value
            raise out_of_bounds(format_double(x))
        return double_function(x)

    return evaluate


for _name in DOUBLE_FUNCTIONS:
    numeric_operator(_name, _trigonometric(_name))


def atan2_values(y: Any, x: Any) -> Any:
    if y is None or y is MISSING:
        return None
    kind_y = number_kind(y)
    if not kind_y:
        raise not_numeric("$atan2", y)
    if x is None or x is MISSING:
        return None
    kind_x = number_kind(x)
    if not kind_x:
        raise not_numeric("$atan2", x)
    if kind_y == DECIMAL or kind_x == DECIMAL:
        return Decimal128(_decimal_atan2(to_decimal(y, kind_y), to_decimal(x, kind_x)))
    return math.atan2(to_double(y, kind_y), to_double(x, kind_x))


def _decimal_atan2(y: Decimal, x: Decimal) -> Decimal:
    """C's atan2 quadrant rules (signed zeros and infinities), in decimal."""
    if y.is_nan() or x.is_nan():
        return Decimal("NaN")
    with decimal.localcontext(_context(34 + _GUARD_DIGITS)):
        half_pi = _pi() / 2
        if y.is_zero() or (x.is_infinite() and not y.is_infinite()):
            angle = 2 * half_pi if x.is_signed() else Decimal(0)
        elif x.is_zero() or (y.is_infinite() and not x.is_infinite()):
            angle = half_pi
        elif x.is_infinite():
            angle = 3 * half_pi / 2 if x.is_signed() else half_pi / 2
        else:
            digits = 34 + _GUARD_DIGITS + max(0, x.adjusted() - y.adjusted())
            with decimal.localcontext(_context(digits)):
                angle = _atan(abs(y) / abs(x))
                if x.is_signed():
                    angle = _pi() - angle
    angle = _full_precision(DECIMAL128.create_decimal(angle))
    return angle.copy_negate() if y.is_signed() else angle


@expression_operator("$atan2")
def compile_atan2(args: Any, at: tuple, scope: Any) -> Callable:
    fns = operands("$atan2", args, at, scope, 2, 2)
    y, x = fns
    return fold(lambda doc, vars: atan2_values(y(doc, vars), x(doc, vars)), fns, at)


PI_OVER_180 = DECIMAL128.divide(pi(50), 180)
ONE_EIGHTY_OVER_PI = DECIMAL128.divide(180, pi(50))


def _angle_converter(double_factor: float, decimal_factor: Decimal) -> Callable[[Any, int], Any]:
    def convert(value: Any, kind: int) -> Any:
        if kind == DECIMAL:
            return Decimal128(DECIMAL128.multiply(value.to_decimal(), decimal_factor))
        return to_double(value, kind) * double_factor

    return convert


numeric_operator("$degreesToRadians", _angle_converter(math.pi / 180.0, PI_OVER_180))
numeric_operator("$radiansToDegrees", _angle_converter(180.0 / math.pi, ONE_EIGHTY_OVER_PI))
