"""What every source adds to a document: ``_ts`` (event time) and ``_stream_meta.source``.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-source/
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from connectors.dead_letters import DeadLetters, dead_letter

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


def chunks(docs: list, dead: DeadLetters) -> list[Any]:
    """The items one ``next_batch`` returns: the documents, then the dead letters, if any."""
    out: list[Any] = [docs] if docs else []
    if dead:
        out.append(dead)
    return out
