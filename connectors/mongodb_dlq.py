"""Dead-letter records written in bulk to a MongoDB collection, as Atlas's ``options.dlq``.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/overview/#dead-letter-queue
"""

from __future__ import annotations

import bson
from bson.errors import InvalidDocument
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError

from connectors.ejson import dumps
from connectors.mongodb_support import DUPLICATE_KEY, connect, redact, retry_transient

__all__ = ["MongoDeadLetterWriter"]

# A record that cannot be stored as it is keeps this much of its document as text.
_TEXT_LIMIT = 1024 * 1024


class MongoDeadLetterWriter:
    """Inserts DLQ records (``{doc, errInfo, dlqTime, processorName, ...}``) into ``db.coll``.

    A :class:`connectors.dead_letters.DeadLetterWriter`: one unordered bulk insert per
    call, retried with backoff while the server is unreachable. At-least-once: a replay
    after recovery can store a record twice. A record whose document cannot be stored
    (too large once nested, not encodable) is kept with the document as truncated text.
    """

    def __init__(self, uri: str, db: str, coll: str, *, retry_timeout: float = 300.0, client_options: dict | None = None):
        """Connect lazily: Bytewax builds writers in workers that may never fail a document.

        Args:
            uri: MongoDB connection string.
            db: DLQ database.
            coll: DLQ collection.
            retry_timeout: seconds a lost connection is retried before failing.
            client_options: extra ``MongoClient`` keyword arguments.
        """
        self._uri = uri
        self._db = db
        self._coll = coll
        self._retry_timeout = retry_timeout
        self._client_options = client_options or {}
        self._client = None

    def write(self, records: list[dict]) -> None:
        """Insert the records with one unordered bulk write."""
        if not records:
            return
        if self._client is None:
            self._client = connect(self._uri, **self._client_options)
        collection = self._client[self._db][self._coll]
        # Copies: the driver adds an _id to what it inserts, and the caller keeps its records.
        records = [dict(record) for record in records]
        where = f"DLQ {self._db}.{self._coll} at {redact(self._uri)}"
        retry_transient(lambda: _insert(collection, records), where, self._retry_timeout)

    def close(self) -> None:
        """Release the connections."""
        if self._client is not None:
            self._client.close()
            self._client = None


def _insert(collection: Collection, records: list[dict]) -> None:
    try:
        collection.insert_many(records, ordered=False)
        return
    except BulkWriteError as exc:
        # Stored by an earlier attempt (same _id) is fine; anything else is kept as text.
        failed = [records[error["index"]] for error in exc.details["writeErrors"] if error["code"] != DUPLICATE_KEY]
    except InvalidDocument:
        failed, rest = [], []
        for record in records:
            (rest if _encodable(record) else failed).append(record)
        if rest:
            _insert(collection, rest)
    if failed:
        collection.insert_many([_as_text(record) for record in failed], ordered=False)


def _encodable(record: dict) -> bool:
    try:
        bson.encode(record)
    except (InvalidDocument, TypeError, OverflowError):
        return False
    return True


def _as_text(record: dict) -> dict:
    try:
        text = dumps(record["doc"])
    except (TypeError, ValueError, InvalidDocument):
        text = repr(record["doc"])
    kept = {key: value for key, value in record.items() if key not in ("doc", "_id")}
    kept["doc"] = {"text": text[:_TEXT_LIMIT], "truncated": len(text) > _TEXT_LIMIT}
    return kept
