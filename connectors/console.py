"""Output for ``sluice process``: documents to stdout, dead letters to stderr, one EJSON line each.

Mirrors ``sp.process()``, which prints output and DLQ documents instead of writing them.
"""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from bytewax.outputs import DynamicSink, StatelessSinkPartition

from connectors import ejson
from runtime.stats import active_worker

__all__ = ["ConsoleSink", "ConsoleDeadLetterWriter"]
_LOCK = threading.Lock()  # workers are threads: one line must never interleave with another


class _ConsolePartition(StatelessSinkPartition):
    def __init__(self, stream: TextIO):
        self._stream = stream
        self._stats = active_worker()

    def write_batch(self, chunks: list) -> None:
        lines = [ejson.encode_relaxed(doc) for chunk in chunks for doc in chunk]
        if lines:
            data = b"\n".join(lines)
            if self._stats is not None:
                self._stats.wrote(len(lines), len(data) + 1)
            text = data.decode() + "\n"
            with _LOCK:
                self._stream.write(text)
                self._stream.flush()


class ConsoleSink(DynamicSink):
    """Each document as one line of relaxed Extended JSON (stdout unless told otherwise)."""

    def __init__(self, stream: TextIO | None = None):
        self._stream = stream

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _ConsolePartition:
        return _ConsolePartition(self._stream or sys.stdout)


class ConsoleDeadLetterWriter:
    """Writes DLQ records as EJSON lines (stderr unless told otherwise) and never fails."""

    def __init__(self, stream: TextIO | None = None):
        self._stream = stream

    def write(self, records: list[dict]) -> None:
        stream = self._stream or sys.stderr
        lines = [ejson.dumps(record) for record in records]
        with _LOCK:
            stream.write("\n".join(lines) + "\n")
            stream.flush()

    def close(self) -> None:
        """Nothing to release: the stream belongs to the caller."""
