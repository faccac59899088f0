"""Extended JSON in and out, with one set of options for the whole project.

Datetimes are tz-aware UTC everywhere (pymongo clients are built with ``tz_aware=True``),
so event times compare safely with ``datetime.now(timezone.utc)``.
https://www.mongodb.com/docs/manual/reference/mongodb-extended-json/
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

import orjson
from bson import json_util
from bson.json_util import JSONMode, JSONOptions

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
