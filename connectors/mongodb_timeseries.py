"""``$emit`` into a MongoDB time-series collection: unordered bulk inserts, one per batch.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-emit/
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from typing import Any, Callable

import bson
from bson.errors import InvalidDocument
from bson.raw_bson import RawBSONDocument
from pymongo.errors import BulkWriteError, CollectionInvalid, OperationFailure

from runtime.dead_letters import DeadLetterWriter, dead_letter, hand_over
from connectors.mongodb_support import connect, redact, retry_transient
from connectors.writer_sink import WriterSink

__all__ = ["TimeSeriesSink", "TimeSeriesWriter"]

logger = logging.getLogger(__name__)

# Atlas's limit for a document emitted to a time-series collection.
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024
_NAMESPACE_EXISTS = 48


class TimeSeriesSink(WriterSink):
    """Insert chunks of documents into ``db.coll``, created as a time-series collection if missing.

    At-least-once, as in Atlas: a replay after recovery inserts the same measurements again
    (time-series collections have no unique index to catch them). A document without a date
    in ``timeField``, over 4 MB, or refused by the server goes to the DLQ; a lost connection
    retries with backoff.
    """

    def __init__(
        self,
        uri: str,
        *,
        dead_letter_writer_factory: Callable[[], DeadLetterWriter] | None = None,
        **writer_args: Any,
    ) -> None:
        """``writer_args`` as :class:`TimeSeriesWriter` takes them; each worker connects when
        Bytewax builds its part, with its own DLQ writer from ``dead_letter_writer_factory``."""
        super().__init__(partial(TimeSeriesWriter, uri, **writer_args), dead_letter_writer_factory)


class TimeSeriesWriter:
    """The time-series ``$emit`` without Bytewax: ``write(docs)`` inserts one batch."""

    def __init__(
        self,
        uri: str,
        *,
        db: str,
        coll: str,
        timeseries: dict,
        dead_letter_writer: DeadLetterWriter | None = None,
        processor_name: str = "sluice",
        retry_timeout: float = 300.0,
        client_options: dict | None = None,
    ) -> None:
        """Connect now; the collection is created (when missing) by the first write.

        Args:
            uri: MongoDB connection string.
            db: target database.
            coll: target collection.
            timeseries: ``createCollection``'s time-series options; ``timeField`` is required.
            dead_letter_writer: where refused documents go; None logs and drops them.
            processor_name: the ``processorName`` of DLQ records.
            retry_timeout: seconds a lost connection is retried before the sink fails.
            client_options: extra ``MongoClient`` keyword arguments.
        """
        if type(timeseries.get("timeField")) is not str:
            msg = f"timeseries needs timeField, the name of a top-level field; got {timeseries!r}"
            raise ValueError(msg)
        self._timeseries = dict(timeseries)
        self._time_field = timeseries["timeField"]
        self._where = f"$emit into time-series {db}.{coll} at {redact(uri)}"
        self._client = connect(uri, **(client_options or {}))
        self._db, self._coll = db, coll
        self._dead_letter_writer = dead_letter_writer
        self._processor_name = processor_name
        self._retry_timeout = retry_timeout
        self._created = False

    def write(self, docs: list[dict]) -> None:
        """Encode each document once (checking its time and size), then one unordered insert."""
        dead: list[dict] = []
        encoded: list[RawBSONDocument] = []
        sources: list[dict] = []  # the document behind each encoded one
        for doc in docs:
            if type(doc.get(self._time_field)) is not datetime:
                reason = f"'{self._time_field}' must be present and contain a valid BSON UTC datetime value"
            else:
                try:
                    raw = bson.encode(doc)
                except (InvalidDocument, TypeError, OverflowError, RecursionError) as exc:
                    reason = f"cannot encode the document as BSON: {exc}"
                else:
                    if len(raw) <= MAX_DOCUMENT_BYTES:
                        encoded.append(RawBSONDocument(raw))
                        sources.append(doc)
                        continue
                    reason = f"the document is {len(raw)} bytes; the limit is {MAX_DOCUMENT_BYTES}"
            dead.append(dead_letter(doc, f"{self._where}: {reason}"))
        if encoded:
            dead += retry_transient(lambda: self._insert(encoded, sources), self._where, self._retry_timeout)
        self.dead_letters(dead)

    def _insert(self, encoded: list[RawBSONDocument], sources: list[dict]) -> list[dict]:
        collection = self._client[self._db][self._coll]
        if not self._created:
            try:
                self._client[self._db].create_collection(self._coll, timeseries=self._timeseries)
            except CollectionInvalid:
                pass  # it exists: written as it is
            except OperationFailure as exc:
                if exc.code != _NAMESPACE_EXISTS:  # another worker created it first
                    raise
            self._created = True
        try:
            collection.insert_many(encoded, ordered=False)
        except BulkWriteError as exc:
            return [
                dead_letter(sources[error["index"]], f"{self._where}: {error['errmsg']}")
                for error in exc.details["writeErrors"]
            ]
        return []

    def dead_letters(self, records: list[dict]) -> None:
        """Hand DLQ records to the writer, or log them when there is no DLQ."""
        hand_over(records, self._dead_letter_writer, self._processor_name, logger)

    def close(self) -> None:
        self._client.close()
        if self._dead_letter_writer is not None:
            self._dead_letter_writer.close()
