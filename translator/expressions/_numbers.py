"""Number handling shared by arithmetic operators: mongod's type promotion and overflow.

int (32-bit) → long (64-bit) → double on overflow; any double makes a double; any
Decimal128 makes a Decimal128. https://www.mongodb.com/docs/manual/reference/operator/aggregation/add/
"""

from __future__ import annotations

import decimal
from typing import Any

from bson import Decimal128, Int64

from translator._bson_types import INT64_MAX, INT64_MIN

DECIMAL_CONTEXT = decimal.Context(prec=34, Emin=-6143, Emax=6144, rounding=decimal.ROUND_HALF_EVEN)
NUMBER_TYPES = frozenset({int, float, Int64, Decimal128})


def is_number(value: Any) -> bool:
    return type(value) in NUMBER_TYPES


def to_decimal(value: Any) -> decimal.Decimal:
    return value.to_decimal() if type(value) is Decimal128 else DECIMAL_CONTEXT.create_decimal(value)


def from_decimal(value: decimal.Decimal) -> Decimal128:
    return Decimal128(DECIMAL_CONTEXT.create_decimal(value))


def integral(result: int, *operands: Any) -> Any:
    """An integer result typed as mongod would: long if an operand was, double past 64 bits."""
    if result < INT64_MIN or result > INT64_MAX:
        return float(result)
    if any(type(x) is Int64 for x in operands):
        return Int64(result)
    return result
