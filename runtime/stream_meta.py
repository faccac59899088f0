"""What every source adds to a document: ``_ts`` (event time) and ``_stream_meta.source``.

Sinks read it back: the source position behind a document makes ``$merge`` skip replayed
events and gives each ``$emit`` message its deterministic ``sluice-id`` header.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-source/
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Callable

from runtime.dead_letters import DeadLetters, dead_letter
from runtime.ejson import encode_relaxed

TimeField = Callable[[dict], datetime]
STREAM_META = "_stream_meta"


def stamp(
    docs: list,
    source_meta: dict,
    default_ts: datetime,
    time_field: TimeField | None = None,
    ts_field_name: str = "_ts",
) -> tuple[list, DeadLetters]:
    """Stamp fresh documents in place; one whose ``timeField`` fails goes to the DLQ."""
    dead = DeadLetters()
    # One metadata object per chunk: stages never mutate their input, so sharing is safe.
    meta = {"source": source_meta}
    if time_field is None:
        for doc in docs:
            doc[ts_field_name] = default_ts
            doc[STREAM_META] = meta
        return docs, dead
    kept = []
    for doc in docs:
        doc[STREAM_META] = meta
        try:
            doc[ts_field_name] = time_field(doc)
        except Exception as exc:  # the expression's error is the reason the DLQ shows
            dead.append(dead_letter(doc, f"timeField: {exc}"))
            continue
        kept.append(doc)
    return kept, dead


def stamped_copies_reference(docs: list, ts_field: str, ts: datetime, meta_field: str, meta: dict) -> list:
    """A copy of each document with ``ts_field`` then ``meta_field`` set: the reference
    ``runtime._native.stamped_copies`` is held to, and what runs when it is not built."""
    copies = list(map(dict, docs))
    for doc in copies:
        doc[ts_field] = ts
        doc[meta_field] = meta
    return copies


try:
    from runtime._native import stamped_copies
except ImportError:  # built at install by setup.py; without a compiler, the reference runs
    stamped_copies = stamped_copies_reference


def stamp_copies(
    docs: list,
    source_meta: dict,
    default_ts: datetime,
    time_field: TimeField | None = None,
    ts_field_name: str = "_ts",
) -> tuple[list, DeadLetters]:
    """:func:`stamp` on copies, leaving ``docs`` as they are; without ``timeField``, one native
    call per chunk."""
    if time_field is None:
        return stamped_copies(docs, ts_field_name, default_ts, STREAM_META, {"source": source_meta}), DeadLetters()
    return stamp(list(map(dict, docs)), source_meta, default_ts, time_field, ts_field_name)


def chunks(docs: list, dead: DeadLetters) -> list[Any]:
    """The items one ``next_batch`` returns: the documents, then the dead letters, if any."""
    out: list[Any] = [docs] if docs else []
    if dead:
        out.append(dead)
    return out


def source_position(doc: dict) -> tuple[str, Any] | None:
    """``(source partition, position)`` of the event behind ``doc``, from its ``_stream_meta``.

    A Kafka message's position is its offset, a change event's its cluster time
    (``position``), a window's ``$group`` result's (whose source names only its type) the
    window's start. Partition names never hold a dot: they are field names under
    ``$merge``'s ``_sluicePositions``.
    """
    meta = doc.get(STREAM_META)
    if type(meta) is not dict:
        return None
    position = _event_position(meta.get("source"))
    window = meta.get("window")
    if position is None and type(window) is dict and "start" in window:
        return "window", window["start"]
    return position


def _event_position(source: Any) -> tuple[str, Any] | None:
    if type(source) is not dict:
        return None
    if source.get("type") == "kafka" and "offset" in source:
        return f"kafka:{str(source.get('topic')).replace('.', '~')}:{source.get('partition')}", source["offset"]
    if "position" in source:
        return "changeStream", source["position"]
    return None


def message_id(doc: dict) -> str | None:
    """The same text for a document and for its replay, None without ``_stream_meta``.

    A window's ``$group`` result's is the window's start and the group key (``_id``; when a
    later stage removed it, a digest of the result), anything else's the source position of
    the event behind it.
    """
    position = source_position(doc)
    if position is None:
        return None
    if position[0] != "window":
        return f"{position[0]}:{position[1]}"
    if "_id" in doc:
        key = encode_relaxed(doc["_id"]).decode()
    else:
        key = hashlib.sha1(encode_relaxed({k: v for k, v in doc.items() if k != STREAM_META})).hexdigest()
    return f"window:{position[1].isoformat()}:{key}"
