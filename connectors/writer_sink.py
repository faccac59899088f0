"""Sinks whose every Bytewax worker builds its own writer (and with it its own client).

A writer takes whole batches of documents, so a sink costs one call per batch, not per
document; chunks of dead letters reaching a sink go to its DLQ.
"""

from __future__ import annotations

from typing import Callable, Protocol

from bytewax.outputs import DynamicSink, StatelessSinkPartition

from runtime.dead_letters import DeadLetters, DeadLetterWriter
from runtime.stats import active_worker, sampled_size


class DocumentWriter(Protocol):
    """What a sink of documents does per worker: write batches, pass on dead letters, close."""

    def write(self, docs: list[dict]) -> None: ...

    def dead_letters(self, records: list[dict]) -> None: ...

    def close(self) -> None: ...


class WriterPartition(StatelessSinkPartition):
    def __init__(self, writer: DocumentWriter) -> None:
        self._writer = writer
        self._stats = active_worker()

    def write_batch(self, chunks: list) -> None:
        docs: list = []
        for chunk in chunks:
            if isinstance(chunk, DeadLetters):
                self._writer.dead_letters(chunk)
            else:
                docs.extend(chunk)
        if docs:
            if self._stats is not None:  # before the write: writers may update what they are given
                self._stats.wrote(len(docs), sampled_size(docs))
            self._writer.write(docs)

    def close(self) -> None:
        self._writer.close()


class WriterSink(DynamicSink):
    """``make_writer(dead_letter_writer)`` runs once per worker, with that worker's DLQ writer."""

    def __init__(
        self,
        make_writer: Callable[..., DocumentWriter],
        dead_letter_writer_factory: Callable[[], DeadLetterWriter] | None = None,
    ) -> None:
        self._make_writer = make_writer
        self._dead_letter_writer_factory = dead_letter_writer_factory

    def build(self, step_id: str, worker_index: int, worker_count: int) -> WriterPartition:
        factory = self._dead_letter_writer_factory
        return WriterPartition(self._make_writer(dead_letter_writer=factory() if factory else None))
