"""Run a pipeline through the same path as ``sluice process`` and collect what it printed."""

from __future__ import annotations

import io
from dataclasses import dataclass

from bytewax.outputs import DynamicSink, StatelessSinkPartition

from runtime import ejson
from connectors.mongodb_merge import POSITIONS
from translator import process
from translator.connections import Registry
from translator.parse import parse_pipeline

STREAM_FIELDS = ("_ts", "_stream_meta", POSITIONS)


@dataclass
class Result:
    docs: list  # output documents, in order
    dead: list  # DLQ records


class _ListPartition(StatelessSinkPartition):
    def __init__(self, docs: list):
        self._docs = docs

    def write_batch(self, chunks: list) -> None:
        for chunk in chunks:
            self._docs.extend(chunk)


class CollectSink(DynamicSink):
    """Keeps output documents with their exact BSON types (stdout would print relaxed JSON)."""

    def __init__(self, docs: list):
        self._docs = docs

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _ListPartition:
        return _ListPartition(self._docs)


def run_pipeline(pipeline: list | dict, registry: Registry | None = None, keep_stream_fields: bool = False) -> Result:
    """Process a pipeline (a list of stages or {name, pipeline, options}) to its end."""
    docs: list = []
    dlq_output = io.StringIO()
    process(parse_pipeline(pipeline), registry, CollectSink(docs), dlq_output)
    if not keep_stream_fields:
        docs = [without_stream_fields(doc) for doc in docs]
    return Result(docs, [ejson.loads(line) for line in dlq_output.getvalue().splitlines()])


def without_stream_fields(doc: dict) -> dict:
    """The document without what sources and ``$merge`` add (``_ts``, ``_stream_meta``, positions), for comparisons."""
    return {key: value for key, value in doc.items() if key not in STREAM_FIELDS}


def with_documents(docs: list, stages: list) -> list:
    """A pipeline reading ``docs`` from a documents source, then ``stages``."""
    return [{"$source": {"documents": docs}}, *stages]
