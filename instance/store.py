"""Processor definitions and states, kept in ``DATA/instance.sqlite3`` so they outlive the instance.

A record changes only through :meth:`Store.save`, one transaction each: after a SIGKILL the
instance finds every processor as last saved. Pipelines are stored as BSON, so every value
keeps its type. Checkpoints live next to it, one Bytewax recovery store per processor
(``DATA/processors/ID/recovery``).
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

import bson
from bson.codec_options import CodecOptions

CREATED, STARTED, STOPPED, FAILED = "CREATED", "STARTED", "STOPPED", "FAILED"
_CODEC = CodecOptions(tz_aware=True, tzinfo=timezone.utc)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS processors (
    id TEXT PRIMARY KEY,
    name TEXT UNIQUE NOT NULL,
    state TEXT NOT NULL,
    definition BLOB NOT NULL,
    tier TEXT NOT NULL,
    error_msg TEXT NOT NULL,
    last_modified REAL NOT NULL,
    last_state_change REAL NOT NULL
)
"""


def now() -> datetime:
    """Milliseconds, as BSON dates hold them."""
    moment = datetime.now(timezone.utc)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class ProcessorRecord:
    id: str
    name: str
    pipeline: list
    options: dict
    tier: str
    state: str = CREATED
    error_msg: str = ""
    last_modified: datetime = field(default_factory=now)
    last_state_change: datetime = field(default_factory=now)
    started_at: datetime | None = None  # the first start (or the last start afresh): where a change stream without a checkpoint begins

    def with_state(self, state: str, error_msg: str = "") -> ProcessorRecord:
        return replace(self, state=state, error_msg=error_msg, last_state_change=now())

    def entry(self) -> dict:
        """The ``listStreamProcessors`` entry, which filters match against."""
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "pipeline": self.pipeline,
            "options": self.options,
            "tier": self.tier,
            "errorMsg": self.error_msg,
            "lastModified": self.last_modified,
            "lastStateChange": self.last_state_change,
        }


class Store:
    """The instance's SQLite file; used from the event loop's thread only."""

    def __init__(self, data_dir: str) -> None:
        os.makedirs(data_dir, exist_ok=True)
        self._db = sqlite3.connect(os.path.join(data_dir, "instance.sqlite3"), isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(_SCHEMA)

    def load(self) -> list[ProcessorRecord]:
        rows = self._db.execute(
            "SELECT id, name, state, definition, tier, error_msg, last_modified, last_state_change FROM processors ORDER BY rowid"
        )
        records = []
        for pid, name, state, definition, tier, error_msg, modified, changed in rows:
            body = bson.decode(definition, codec_options=_CODEC)
            records.append(
                ProcessorRecord(
                    pid, name, body["pipeline"], body["options"], tier, state, error_msg,
                    datetime.fromtimestamp(modified, timezone.utc), datetime.fromtimestamp(changed, timezone.utc),
                    body.get("startedAt"),
                )
            )
        return records

    def save(self, record: ProcessorRecord) -> None:
        body = {"pipeline": record.pipeline, "options": record.options}
        if record.started_at is not None:
            body["startedAt"] = record.started_at
        definition = bson.encode(body, codec_options=_CODEC)
        self._db.execute(
            "INSERT OR REPLACE INTO processors VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.id, record.name, record.state, definition, record.tier, record.error_msg,
                record.last_modified.timestamp(), record.last_state_change.timestamp(),
            ),
        )

    def delete(self, processor_id: str) -> None:
        self._db.execute("DELETE FROM processors WHERE id = ?", (processor_id,))

    def close(self) -> None:
        self._db.close()
