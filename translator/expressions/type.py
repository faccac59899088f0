"""Type expression operators.

https://www.mongodb.com/docs/manual/reference/operator/aggregation/#type-expression-operators
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from bson import Decimal128, Int64, ObjectId, Timestamp

from translator._bson_types import bson_type_name
from translator._types import MISSING
from translator.errors import ExpressionError
from translator.expressions.compile import expression_operator, operands

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def parse_date_string(text: str) -> datetime:
    """An ISO 8601 date string as a UTC datetime; naive strings are taken as UTC."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        msg = f"Error parsing date string '{text}'"
        raise ExpressionError(msg) from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def to_date(value: Any) -> Any:
    """``$toDate``'s conversion rules."""
    kind = type(value)
    if kind is datetime:
        return value
    if value is None or value is MISSING:
        return None
    if kind is str:
        return parse_date_string(value)
    if kind in (int, Int64, float, Decimal128):
        millis = value.to_decimal() if kind is Decimal128 else value
        return EPOCH + timedelta(milliseconds=int(millis))
    if kind is ObjectId:
        return value.generation_time
    if kind is Timestamp:
        return value.as_datetime()
    msg = f"Unsupported conversion from {bson_type_name(value)} to date in $convert with no onError value"
    raise ExpressionError(msg)


@expression_operator("$toDate")
def compile_to_date(args: Any, at: tuple, scope: Any):
    (fn,) = operands("$toDate", args, at, scope, 1, 1)
    return lambda doc, vars: to_date(fn(doc, vars))
