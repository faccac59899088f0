"""BSON comparison and sort order across types.

https://www.mongodb.com/docs/manual/reference/bson-type-comparison-order/
"""

from __future__ import annotations

import datetime
import functools
import re
from decimal import Decimal
from typing import Any

from bson import Binary, Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.dbref import DBRef

from translator._types import MISSING

# Ranks of BSON types in comparison order; numbers share one rank, as do strings and symbols.
# A missing value sorts just below null, as in mongod's expression comparisons (queries,
# where null also matches missing, handle that case themselves).
MIN_KEY, MISSING_RANK, NULL, NUMBER, STRING, OBJECT, ARRAY, BINARY, OBJECT_ID, BOOL, DATE, TIMESTAMP, REGEX, MAX_KEY = range(14)

_RANKS = {
    type(None): NULL,
    type(MISSING): MISSING_RANK,
    int: NUMBER,
    Int64: NUMBER,
    float: NUMBER,
    Decimal128: NUMBER,
    str: STRING,
    dict: OBJECT,
    list: ARRAY,
    tuple: ARRAY,
    bytes: BINARY,
    Binary: BINARY,
    ObjectId: OBJECT_ID,
    bool: BOOL,
    datetime.datetime: DATE,
    Timestamp: TIMESTAMP,
    Regex: REGEX,
    re.Pattern: REGEX,
    MinKey: MIN_KEY,
    MaxKey: MAX_KEY,
    Code: STRING,
    DBRef: OBJECT,
}



def rank(value: Any) -> int:
    """The BSON type rank of a Python value."""
    found = _RANKS.get(type(value))
    if found is not None:
        return found
    for kind, kind_rank in _RANKS.items():
        if isinstance(value, kind):
            return kind_rank
    return OBJECT


def to_decimal(number: Any) -> Decimal:
    """An exact Decimal for any BSON number, so int/float/Decimal128 compare exactly."""
    if type(number) is Decimal128:
        return number.to_decimal()
    return Decimal(number)


def _cmp_numbers(a: Any, b: Any) -> int:
    if type(a) is Decimal128 or type(b) is Decimal128:
        a, b = to_decimal(a), to_decimal(b)
        a_nan, b_nan = a.is_nan(), b.is_nan()
    else:
        a_nan = a != a
        b_nan = b != b
    if a_nan or b_nan:  # NaN sorts below every other number and equals itself
        return (not a_nan) - (not b_nan)
    return (a > b) - (a < b)


def _cmp_sequences(a: Any, b: Any) -> int:
    for x, y in zip(a, b):
        found = compare(x, y)
        if found:
            return found
    return (len(a) > len(b)) - (len(a) < len(b))


def _cmp_objects(a: dict, b: dict) -> int:
    for (ka, va), (kb, vb) in zip(a.items(), b.items()):
        ra, rb = rank(va), rank(vb)
        found = (ra > rb) - (ra < rb)
        if found:
            return found
        found = (ka > kb) - (ka < kb)
        if found:
            return found
        found = compare(va, vb)
        if found:
            return found
    return (len(a) > len(b)) - (len(a) < len(b))


def _binary_key(value: Any) -> tuple:
    subtype = value.subtype if isinstance(value, Binary) else 0
    return (len(value), subtype, bytes(value))


def _regex_key(value: Any) -> tuple:
    return (value.pattern, str(value.flags))


def compare(a: Any, b: Any) -> int:
    """-1, 0 or 1 as ``a`` sorts before, with or after ``b`` in BSON order."""
    ra, rb = rank(a), rank(b)
    if ra != rb:
        return (ra > rb) - (ra < rb)
    if ra == NUMBER:
        return _cmp_numbers(a, b)
    if ra in (NULL, MISSING_RANK, MIN_KEY, MAX_KEY):
        return 0
    if ra == OBJECT:
        return _cmp_objects(a if type(a) is dict else dict(a), b if type(b) is dict else dict(b))
    if ra == ARRAY:
        return _cmp_sequences(a, b)
    if ra == BINARY:
        a, b = _binary_key(a), _binary_key(b)
    elif ra == REGEX:
        a, b = _regex_key(a), _regex_key(b)
    elif ra == STRING:
        a, b = str(a), str(b)
    elif ra == TIMESTAMP:
        a, b = (a.time, a.inc), (b.time, b.inc)
    return (a > b) - (a < b)


sort_key = functools.cmp_to_key(compare)


_NAN_KEY = ("nan",)


def bson_key(value: Any) -> Any:
    """A hashable key, equal for exactly the values BSON equality calls equal.

    Numbers stay themselves: Python compares and hashes int, float and Decimal exactly
    alike (``1 == 1.0 == Decimal("1.00")``), which is BSON's rule; every NaN is one key, as
    NaN equals NaN in BSON; booleans are wrapped, since ``True == 1`` in Python only.
    Documents keep their field order, as BSON equality does. Cheap for the common keys.
    """
    kind = type(value)
    if kind is str or kind is int:
        return value
    if kind is float:
        return value if value == value else _NAN_KEY
    if value is None or value is MISSING:
        return None
    if kind is bool:
        return ("bool", value)
    if kind is dict:
        return ("object", tuple((k, bson_key(v)) for k, v in value.items()))
    if kind is list or kind is tuple:
        return ("array", tuple(bson_key(v) for v in value))
    if kind is Int64:
        return int(value)
    if kind is Decimal128:
        exact = value.to_decimal()
        return _NAN_KEY if exact.is_nan() else exact
    if kind is datetime.datetime:
        return ("date", value)
    if isinstance(value, (bytes, Binary)):
        return ("binData", getattr(value, "subtype", 0), bytes(value))
    if isinstance(value, (Regex, re.Pattern)):
        return ("regex", value.pattern, str(value.flags))
    if kind is MinKey or kind is MaxKey:
        return (kind.__name__,)
    try:
        hash(value)
    except TypeError:
        return (kind.__name__, repr(value))
    return (kind.__name__, value)


def natively_ordered(values: Any) -> bool:
    """True when Python's own order is BSON's: all plain numbers without NaN, or all strings."""
    kinds = {type(v) for v in values}
    if kinds == {str}:
        return True
    return kinds <= {int, float} and all(v == v for v in values)


def bson_sorted(values: Any, reverse: bool = False) -> list:
    """``values`` in BSON order, natively when that order is Python's (much faster)."""
    values = list(values)
    if natively_ordered(values):
        return sorted(values, reverse=reverse)
    return sorted(values, key=sort_key, reverse=reverse)
