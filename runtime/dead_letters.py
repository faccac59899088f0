"""Dead-letter records in Atlas Stream Processing's DLQ shape.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/overview/#dead-letter-queue
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Callable, Protocol

from runtime.ejson import MAX_DEPTH, encode_relaxed
from runtime.redaction import redact

# What a reduced record keeps of its document's text, and of a reason.
PREFIX_CHARS = 64 * 1024


class DeadLetters(list):
    """A chunk of DLQ records; its type tells it apart from a chunk of documents."""


def dead_letter(doc: Any, reason: str, **extra: Any) -> dict:
    """One DLQ record: ``{doc, errInfo: {reason}, dlqTime, ...extra}``.

    ``extra`` carries what locates the failure, e.g. ``missedWindowStartTimes`` or the
    Kafka topic/partition/offset of a message that could not be parsed.
    """
    record = {"doc": doc, "errInfo": {"reason": redact(reason)}, "dlqTime": datetime.now(timezone.utc)}
    record.update(extra)
    return record


def _clipped(value: Any, depth: int) -> Any:
    """``value`` with whatever lies deeper than ``depth`` levels replaced by ``"..."``."""
    if not isinstance(value, (dict, list)):
        return value
    if depth <= 0:
        return "..."
    if isinstance(value, dict):
        return {key: _clipped(item, depth - 1) for key, item in value.items()}
    return [_clipped(item, depth - 1) for item in value]


def payload_text(doc: Any) -> str:
    """A DLQ record's document as text, whatever its depth (levels past mongod's 100 become ``"..."``)."""
    if type(doc) is str:
        return doc
    try:
        return encode_relaxed(_clipped(doc, MAX_DEPTH)).decode()
    except Exception:  # a value no encoder takes: its repr still says what it was
        return repr(_clipped(doc, 8))[:PREFIX_CHARS]


def reduced_record(record: dict, why: str, prefix_chars: int = PREFIX_CHARS) -> dict:
    """``record`` in a form every DLQ target takes: flat, small, and saying what was cut.

    ``doc`` becomes ``{reduced: why, originalSize, prefix}``: the size of the document's
    text and its first ``prefix_chars`` characters; ``errInfo.reason`` is bounded too.
    """
    text = payload_text(record.get("doc"))
    reduced = {key: value for key, value in record.items() if key not in ("doc", "_id", "errInfo")}
    reason = str(record.get("errInfo", {}).get("reason", ""))
    reduced["errInfo"] = {"reason": reason[:prefix_chars]}
    reduced["doc"] = {"reduced": why, "originalSize": len(text), "prefix": text[:prefix_chars]}
    return reduced


def encode_within(record: dict, encode: Callable[[dict], Any], limit: int) -> Any:
    """``encode(record)``, or the encoding of its reduced form when that fails or exceeds ``limit``."""
    try:
        data = encode(record)
    except Exception as exc:  # too deep or not encodable: the reduced form always is
        return encode(reduced_record(record, f"the record cannot be encoded: {exc}"))
    if len(data) <= limit:
        return data
    why = f"the record is {len(data)} bytes; its target takes at most {limit}"
    return encode(reduced_record(record, why, min(PREFIX_CHARS, limit // 4)))


def stamp_processor(records: list[dict], processor_name: str) -> list[dict]:
    """Add ``processorName`` as Atlas does, just before the records are written."""
    for record in records:
        record.setdefault("processorName", processor_name)
    return records


class DeadLetterWriter(Protocol):
    """Where DLQ records go: stderr, a MongoDB collection or a Kafka topic."""

    def write(self, records: list[dict]) -> None: ...

    def close(self) -> None: ...


def hand_over(records: list[dict], writer: DeadLetterWriter | None, processor_name: str, logger: logging.Logger) -> None:
    """A sink's failed documents to its DLQ writer; without a DLQ they are logged and dropped, as in Atlas."""
    if not records:
        return
    if writer is not None:
        writer.write(stamp_processor(records, processor_name))
    else:
        logger.warning(
            "%d document(s) failed and no DLQ is configured; first reason: %s", len(records), records[0]["errInfo"]["reason"]
        )
