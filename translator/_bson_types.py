"""BSON type names and numbers, as ``$type`` (query and expression) spells them.

https://www.mongodb.com/docs/manual/reference/bson-types/
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from bson import Binary, Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp

from translator._types import MISSING

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

TYPE_NUMBERS = {
    "double": 1, "string": 2, "object": 3, "array": 4, "binData": 5, "undefined": 6,
    "objectId": 7, "bool": 8, "date": 9, "null": 10, "regex": 11, "dbPointer": 12,
    "javascript": 13, "symbol": 14, "javascriptWithScope": 15, "int": 16, "timestamp": 17,
    "long": 18, "decimal": 19, "minKey": -1, "maxKey": 127,
}  # fmt: skip
TYPE_NAMES = {number: name for name, number in TYPE_NUMBERS.items()}

_NAMES_BY_TYPE = {
    float: "double",
    str: "string",
    dict: "object",
    list: "array",
    bytes: "binData",
    Binary: "binData",
    ObjectId: "objectId",
    bool: "bool",
    datetime.datetime: "date",
    type(None): "null",
    Regex: "regex",
    re.Pattern: "regex",
    Code: "javascript",
    Int64: "long",
    Timestamp: "timestamp",
    Decimal128: "decimal",
    MinKey: "minKey",
    MaxKey: "maxKey",
    type(MISSING): "missing",
}


def bson_type_name(value: Any) -> str:
    """``$type``'s answer for a value: a Python int is "int" when it fits 32 bits, else "long"."""
    if type(value) is int:
        return "int" if INT32_MIN <= value <= INT32_MAX else "long"
    name = _NAMES_BY_TYPE.get(type(value))
    if name is not None:
        return name
    for kind, kind_name in _NAMES_BY_TYPE.items():
        if isinstance(value, kind):
            return kind_name
    return "object"
