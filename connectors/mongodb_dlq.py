"""Dead-letter records written in bulk to a MongoDB collection, as Atlas's ``options.dlq``.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/overview/#dead-letter-queue
"""

from __future__ import annotations

import logging

from bson.errors import InvalidDocument
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from pymongo.errors import BulkWriteError

from connectors.dead_letters import stamp_processor
from connectors.ejson import dumps
from connectors.mongodb_support import connect, redact, retry_transient

__all__ = ["DeadLetterCollection", "DeadLetterSink"]

logger = logging.getLogger(__name__)

# A record that cannot be stored as it is keeps this much of its document as text.
_TEXT_LIMIT = 1024 * 1024


class DeadLetterCollection:
    """Writes lists of DLQ records (``{doc, errInfo, dlqTime, ...}``) into ``db.coll``.

    An instance is the ``dead_letter_writer`` of :class:`connectors.mongodb_merge.MergeSink`
    and the writer behind :class:`DeadLetterSink`. Writes are at-least-once: a replay
    after recovery can store a record twice.
    """

    def __init__(
        self,
        uri: str,
        db: str,
        coll: str,
        processor_name: str,
        *,
        retry_timeout: float = 300.0,
        client_options: dict | None = None,
    ) -> None:
        """Connect lazily: Bytewax may build this in a process that never writes.

        Args:
            uri: MongoDB connection string.
            db: DLQ database.
            coll: DLQ collection.
            processor_name: stored as ``processorName`` in each record, as Atlas does.
            retry_timeout: seconds a lost connection is retried before failing.
            client_options: extra ``MongoClient`` keyword arguments.
        """
        self._uri = uri
        self._db = db
        self._coll = coll
        self._processor_name = processor_name
        self._retry_timeout = retry_timeout
        self._client_options = client_options or {}
        self._client = None

    def __call__(self, records: list[dict]) -> None:
        """Insert the records with one unordered bulk write."""
        if not records:
            return
        if self._client is None:
            self._client = connect(self._uri, **self._client_options)
        collection = self._client[self._db][self._coll]
        records = stamp_processor([dict(record) for record in records], self._processor_name)
        where = f"{self._db}.{self._coll} at {redact(self._uri)}"
        retry_transient(lambda: self._insert(collection, records), f"DLQ {where}", self._retry_timeout)

    def close(self) -> None:
        """Release the connections."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _insert(self, collection, records: list[dict]) -> None:
        try:
            collection.insert_many(records, ordered=False)
            return
        except BulkWriteError as exc:
            # A record stored before (same _id) is fine; one whose document cannot be
            # nested (too large) is stored with its document as truncated text.
            failed = [
                records[error["index"]] for error in exc.details["writeErrors"] if error["code"] != 11000
            ]
        except InvalidDocument:
            failed = records
        if failed:
            collection.insert_many([_as_text(record) for record in failed], ordered=False)


def _as_text(record: dict) -> dict:
    text = _ejson_or_repr(record["doc"])
    copy = {key: value for key, value in record.items() if key not in ("doc", "_id")}
    copy["doc"] = {"text": text[:_TEXT_LIMIT], "truncated": len(text) > _TEXT_LIMIT}
    return copy


def _ejson_or_repr(doc: object) -> str:
    try:
        return dumps(doc)
    except (TypeError, ValueError, InvalidDocument):
        return repr(doc)


class DeadLetterSink(DynamicSink[list]):
    """A Bytewax sink for chunks of DLQ records (``DeadLetters``), one writer per worker."""

    def __init__(self, uri: str, db: str, coll: str, processor_name: str, **options) -> None:
        """Same arguments as :class:`DeadLetterCollection`."""
        self._args = (uri, db, coll, processor_name)
        self._options = options

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _DeadLetterPartition:
        """Each worker writes its own records."""
        return _DeadLetterPartition(DeadLetterCollection(*self._args, **self._options))


class _DeadLetterPartition(StatelessSinkPartition[list]):
    def __init__(self, writer: DeadLetterCollection) -> None:
        self._writer = writer

    def write_batch(self, items: list[list]) -> None:
        self._writer([record for chunk in items for record in chunk])

    def close(self) -> None:
        self._writer.close()
