"""Dead-letter records written in bulk to a MongoDB collection, as Atlas's ``options.dlq``.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/overview/#dead-letter-queue
"""

from __future__ import annotations

import bson
from bson.errors import InvalidDocument
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError

from runtime.dead_letters import reduced_record
from runtime.ejson import MAX_DOCUMENT_BYTES
from connectors.mongodb_support import DUPLICATE_KEY, connect, redact, retry_transient

__all__ = ["MongoDeadLetterWriter"]


class MongoDeadLetterWriter:
    """Inserts DLQ records (``{doc, errInfo, dlqTime, processorName, ...}``) into ``db.coll``.

    A :class:`runtime.dead_letters.DeadLetterWriter`: one unordered bulk insert per
    call, retried with backoff while the server is unreachable. At-least-once: a replay
    after recovery can store a record twice. A record whose document cannot be stored
    (over 16 MiB, too deep, not encodable, refused by the server) is stored in reduced form:
    its reason, the size of its document's text and a bounded prefix of it.
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


# What the driver raises for a record it cannot encode: not BSON, over 16 MiB, or too deep to walk.
_UNENCODABLE = (InvalidDocument, RecursionError, TypeError, OverflowError, ValueError)


def _insert(collection: Collection, records: list[dict]) -> None:
    try:
        collection.insert_many(records, ordered=False)
        return
    except BulkWriteError as exc:
        # Stored by an earlier attempt (same _id) is fine; anything the server refused is reduced.
        failed = [
            (records[error["index"]], f"the DLQ collection refused the record: {error['errmsg']}")
            for error in exc.details["writeErrors"]
            if error["code"] != DUPLICATE_KEY
        ]
    except _UNENCODABLE:
        failed, rest = [], []
        for record in records:
            why = _unencodable(record)
            if why is None:
                rest.append(record)
            else:
                failed.append((record, why))
        if not failed:
            raise  # no single record is to blame
        if rest:
            _insert(collection, rest)
    if failed:
        collection.insert_many([reduced_record(record, why) for record, why in failed], ordered=False)


def _unencodable(record: dict) -> str | None:
    """Why the record cannot be stored as BSON, or None when it can."""
    try:
        size = len(bson.encode(record))
    except _UNENCODABLE as exc:
        return f"the record cannot be encoded as BSON: {exc}"
    return None if size <= MAX_DOCUMENT_BYTES else f"the record is {size} bytes; BSON takes at most {MAX_DOCUMENT_BYTES}"
