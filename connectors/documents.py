"""The ``documents`` source: a finite array of documents given in the pipeline.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-source/#document-array
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from runtime.stop import end_partition_if_stopping
from runtime.stream_meta import TimeField, chunks, stamp_copies
from runtime.stats import active_worker, sampled_size

__all__ = ["DocumentsSource"]
SOURCE_META = {"type": "generated"}


class _DocumentsPartition(StatefulSourcePartition):
    def __init__(self, docs: list, position: int, batch_size: int, time_field: TimeField | None, ts_field_name: str):
        self._docs = docs
        self._position = position
        self._batch_size = batch_size
        self._time_field = time_field
        self._ts_field_name = ts_field_name
        self._stats = active_worker()

    def next_batch(self) -> list:
        end_partition_if_stopping()
        if self._position >= len(self._docs):
            raise StopIteration
        end = self._position + self._batch_size
        batch = self._docs[self._position : end]
        self._position = min(end, len(self._docs))
        if self._stats is not None:
            self._stats.input_bytes += sampled_size(batch)
        # Copies: stages update the documents they are given, and the pipeline's own must
        # stay as written (a replay, or a second run of the same pipeline, reads them again).
        now = datetime.now(timezone.utc)
        docs, dead = stamp_copies(batch, SOURCE_META, now, self._time_field, self._ts_field_name)
        return chunks(docs, dead)

    def snapshot(self) -> int:
        return self._position


class DocumentsSource(FixedPartitionedSource):
    """Emits the given documents once, in chunks, then ends; resumes at the position reached.

    Exactly-once under Bytewax recovery (the snapshot is the index of the next document).
    """

    def __init__(self, docs: list, batch_size: int = 1000, time_field: TimeField | None = None, ts_field_name: str = "_ts"):
        if not isinstance(docs, list) or not all(isinstance(doc, dict) for doc in docs):
            msg = "documents must be a list of documents"
            raise TypeError(msg)
        self._docs = docs
        self._batch_size = batch_size
        self._time_field = time_field
        self._ts_field_name = ts_field_name

    def list_parts(self) -> list[str]:
        return ["documents"]

    def build_part(self, step_id: str, for_part: str, resume_state: Any) -> _DocumentsPartition:
        return _DocumentsPartition(self._docs, resume_state or 0, self._batch_size, self._time_field, self._ts_field_name)
