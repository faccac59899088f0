"""Numbers in stage specs, of any BSON numeric type, checked: shared by the field table and the stages.

Kept apart from ``translator.stages`` so modules below the stage planners (the window
specs) can check numbers without loading every planner.
"""

from __future__ import annotations

import math
from typing import Any

from bson.decimal128 import Decimal128

from translator.errors import SpecError


def value_kind(value: Any) -> str:
    """The JSON kind of a spec value, as messages name it."""
    if value is None:
        return "null"
    if type(value) is bool:
        return "bool"
    if isinstance(value, (int, float, Decimal128)):
        return "number"
    return {str: "string", dict: "object", list: "array"}.get(type(value), type(value).__name__)


def number_value(value: Any, at: tuple) -> int | float:
    """A finite number of any BSON type (``$numberLong``, ``$numberDecimal``, ...) as an int or float."""
    if type(value) is Decimal128:
        exact = value.to_decimal()
        value = int(exact) if exact.is_finite() and exact == exact.to_integral_value() else float(exact)
    if type(value) is bool or not isinstance(value, (int, float)):
        msg = f"expected number; got {value_kind(value)}"
        raise SpecError(msg, at)
    if isinstance(value, float) and not math.isfinite(value):
        msg = f"expected a finite number; got {value}"
        raise SpecError(msg, at)
    return int(value) if isinstance(value, int) else value


def integer_value(value: Any, at: tuple, low: int, high: int, what: str) -> int:
    """A whole number from ``low`` to ``high`` in any numeric type (``10.0`` counts, as in mongod)."""
    number = number_value(value, at)
    if number != int(number) or not low <= number <= high:
        msg = f"{what} must be an integer from {low} to {high}; got {number!r}"
        raise SpecError(msg, at)
    return int(number)
