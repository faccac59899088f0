"""The Bytewax output every DeadLetters chunk of a dataflow ends in, one DLQ writer per worker.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/overview/#dead-letter-queue
"""

from __future__ import annotations

from typing import Callable

from bytewax.outputs import DynamicSink, StatelessSinkPartition

from runtime.dead_letters import DeadLetterWriter, stamp_processor


class _DeadLetterPartition(StatelessSinkPartition):
    def __init__(self, writer: DeadLetterWriter, processor_name: str):
        self._writer = writer
        self._processor_name = processor_name

    def write_batch(self, chunks: list) -> None:
        records = [record for chunk in chunks for record in chunk]
        if records:
            self._writer.write(stamp_processor(records, self._processor_name))

    def close(self) -> None:
        self._writer.close()


class DeadLetterSink(DynamicSink):
    """The Bytewax output every DeadLetters chunk of a dataflow ends in; at-least-once."""

    def __init__(self, writer_factory: Callable[[], DeadLetterWriter], processor_name: str):
        self._writer_factory = writer_factory
        self._processor_name = processor_name

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _DeadLetterPartition:
        return _DeadLetterPartition(self._writer_factory(), self._processor_name)
