"""Extended JSON in and out, with one set of options for the whole project.

Datetimes are tz-aware UTC everywhere (pymongo clients are built with ``tz_aware=True``),
so event times compare safely with ``datetime.now(timezone.utc)``.
https://www.mongodb.com/docs/manual/reference/mongodb-extended-json/
"""

from __future__ import annotations

from datetime import timezone
from typing import Any

import orjson
from bson import json_util
from bson.json_util import JSONMode, JSONOptions

RELAXED = JSONOptions(json_mode=JSONMode.RELAXED, tz_aware=True, tzinfo=timezone.utc)
CANONICAL = JSONOptions(json_mode=JSONMode.CANONICAL, tz_aware=True, tzinfo=timezone.utc)
OUTPUT_MODES = {"relaxedJson": RELAXED, "canonicalJson": CANONICAL}


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
