"""Extended JSON in and out, with one set of options for the whole project.

Datetimes are tz-aware UTC everywhere (pymongo clients are built with ``tz_aware=True``),
so event times compare safely with ``datetime.now(timezone.utc)``.
https://www.mongodb.com/docs/manual/reference/mongodb-extended-json/
"""

from __future__ import annotations

import math
from decimal import InvalidOperation
from datetime import datetime, timezone
from typing import Any

import orjson
from bson import json_util
from bson.json_util import JSONMode, JSONOptions

# mongod's limits on one document: its BSON size and the levels of nesting it may hold.
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 100
RELAXED = JSONOptions(json_mode=JSONMode.RELAXED, tz_aware=True, tzinfo=timezone.utc)
CANONICAL = JSONOptions(json_mode=JSONMode.CANONICAL, tz_aware=True, tzinfo=timezone.utc)


def loads(text: str | bytes) -> Any:
    """Parse relaxed or canonical Extended JSON."""
    return json_util.loads(text, json_options=RELAXED)


def loads_fast(data: bytes | str) -> Any:
    """Parse JSON with orjson; only text with ``"$`` keys pays for Extended JSON."""
    if (b'"$' if isinstance(data, bytes) else '"$') in data:
        return json_util.loads(data, json_options=RELAXED)
    return orjson.loads(data)


def size_error(size: int) -> str:
    """mongod's wording for a document (or a value built for one) over 16 MiB."""
    return f"BSONObj size: {size} (0x{size:X}) is invalid. Size must be between 0 and {MAX_DOCUMENT_BYTES}(16MB)"


DEPTH_ERROR = f"BSONObj exceeds maximum nested object depth of {MAX_DEPTH}"


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """More than ``limit`` levels of objects and arrays; iterative, so any depth is safe to ask."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def may_nest_past(data: bytes, limit: int = MAX_DEPTH) -> bool:
    """Cheap filter before :func:`too_deep`: text with at most ``limit`` brackets cannot nest deeper
    (nor can text too short to open and close more than ``limit`` of them)."""
    return len(data) > 2 * limit and data.count(b"{") + data.count(b"[") > limit


def decode_document(data: bytes) -> dict:
    """One message as a document within mongod's limits; anything else is a ``ValueError`` saying why.

    Whatever the bytes hold (invalid UTF-8, malformed Extended JSON such as ``{"$oid": "zz"}``,
    a non-object, more than 16 MiB, nesting past 100 levels), only ``ValueError`` comes out.
    """
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ValueError(size_error(len(data)))
    try:
        doc = loads_fast(data)
    except RecursionError:
        raise ValueError(DEPTH_ERROR) from None
    except Exception as exc:  # bson, decimal, datetime and json each raise their own kinds
        if may_nest_past(data) and ("recursion" in str(exc) or "depth" in str(exc)):
            raise ValueError(DEPTH_ERROR) from None
        detail = "a $numberDecimal that is not a decimal number" if isinstance(exc, InvalidOperation) else exc
        raise ValueError(f"not JSON or Extended JSON: {detail}") from None
    if type(doc) is not dict:
        raise ValueError(f"expected a JSON object; found {type(doc).__name__}")
    if may_nest_past(data) and too_deep(doc):
        raise ValueError(DEPTH_ERROR)
    return doc


def dumps(doc: Any, options: JSONOptions = RELAXED) -> str:
    """One document as one line of Extended JSON (relaxed unless told otherwise)."""
    return json_util.dumps(doc, json_options=options, separators=(",", ":"))


def _relaxed_default(value: Any) -> Any:
    # Dates in 1970..9999 are ISO strings in relaxed mode; bson handles the rest
    # (ObjectId, Binary, Decimal128, dates outside that range, ...).
    if type(value) is datetime and 1970 <= value.year <= 9999 and not value.utcoffset():
        millis = value.microsecond // 1000
        return {"$date": value.strftime("%Y-%m-%dT%H:%M:%S") + (f".{millis:03d}Z" if millis else "Z")}
    return json_util.default(value, json_options=RELAXED)


def _has_non_finite(value: Any) -> bool:
    if type(value) is float:
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_non_finite(v) for v in value)
    return False


def encode_relaxed(doc: Any) -> bytes:
    """Relaxed Extended JSON through orjson, identical to ``bson.json_util`` in relaxed mode.

    orjson writes NaN and infinities as ``null``; only documents whose output contains
    ``null`` are checked for them, and those take the ``bson.json_util`` path.
    """
    out = orjson.dumps(doc, default=_relaxed_default, option=orjson.OPT_PASSTHROUGH_DATETIME)
    if b"null" in out and _has_non_finite(doc):
        return dumps(doc, RELAXED).encode()
    return out
