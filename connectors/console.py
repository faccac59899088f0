"""Output for ``sluice process``: documents to stdout, dead letters to stderr, one EJSON line each.

Mirrors ``sp.process()``, which prints output and DLQ documents instead of writing them.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Callable, TextIO

from bytewax.outputs import DynamicSink, StatelessSinkPartition

from runtime import ejson
from runtime.dead_letters import DeadLetterWriter, dead_letter, encode_within, hand_over
from runtime.stats import active_worker

__all__ = ["ConsoleSink", "ConsoleDeadLetterWriter"]
log = logging.getLogger(__name__)
_LOCK = threading.Lock()  # workers are threads: one line must never interleave with another


class _ConsolePartition(StatelessSinkPartition):
    def __init__(self, stream: TextIO, dead_letter_writer: DeadLetterWriter | None, processor_name: str):
        self._stream = stream
        self._stats = active_worker()
        self._dead_letter_writer = dead_letter_writer
        self._processor_name = processor_name

    def write_batch(self, chunks: list) -> None:
        lines, dead = [], []
        for chunk in chunks:
            for doc in chunk:
                try:
                    line = ejson.encode_relaxed(doc)
                except Exception as exc:  # too deep for JSON, or a value with no JSON form
                    dead.append(dead_letter(doc, f"output: cannot encode the document: {exc}"))
                    continue
                if len(line) > ejson.MAX_DOCUMENT_BYTES:
                    dead.append(dead_letter(doc, f"output: {ejson.size_error(len(line))}"))
                    continue
                lines.append(line)
        if lines:
            data = b"\n".join(lines)
            if self._stats is not None:
                self._stats.wrote(len(lines), len(data) + 1)
            text = data.decode() + "\n"
            with _LOCK:
                self._stream.write(text)
                self._stream.flush()
        hand_over(dead, self._dead_letter_writer, self._processor_name, log)

    def close(self) -> None:
        if self._dead_letter_writer is not None:
            self._dead_letter_writer.close()


class ConsoleSink(DynamicSink):
    """Each document as one line of relaxed Extended JSON (stdout unless told otherwise).

    A document with no such line (too deep, over 16 MiB) goes to the DLQ writer that
    ``dead_letter_writer_factory`` makes, or is logged when there is none.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        dead_letter_writer_factory: Callable[[], DeadLetterWriter] | None = None,
        processor_name: str = "sluice",
    ):
        self._stream = stream
        self._dead_letter_writer_factory = dead_letter_writer_factory
        self._processor_name = processor_name

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _ConsolePartition:
        factory = self._dead_letter_writer_factory
        writer = factory() if factory is not None else None
        return _ConsolePartition(self._stream or sys.stdout, writer, self._processor_name)


class ConsoleDeadLetterWriter:
    """Writes DLQ records as EJSON lines (stderr unless told otherwise) and never fails."""

    def __init__(self, stream: TextIO | None = None):
        self._stream = stream

    def write(self, records: list[dict]) -> None:
        stream = self._stream or sys.stderr
        lines = [encode_within(record, ejson.dumps, ejson.MAX_DOCUMENT_BYTES) for record in records]
        with _LOCK:
            stream.write("\n".join(lines) + "\n")
            stream.flush()

    def close(self) -> None:
        """Nothing to release: the stream belongs to the caller."""
