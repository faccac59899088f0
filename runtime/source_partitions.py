"""What a partitioned source tells the stateful stages after it: its partitions, in ids it gives.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/windows/#watermarks

Atlas keeps one watermark per window stage: the smallest, over the source's partitions, of
the latest event time each has delivered, a partition silent for the idle timeout aside. A
window keeps that watermark per partition id; the source says which ids exist (a partition
that has sent nothing yet holds the watermark too) and which partition a document came from.
A source without partitions implements nothing: its documents are one partition.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class SourcePartitions(Protocol):
    """Implemented by a source connector whose stream is the union of several partitions."""

    def partition_ids(self) -> list[str]:
        """Every partition the source reads, on every worker, known before any message arrives."""
        ...

    def partition_of(self, doc: dict) -> str | None:
        """The partition a document the source emitted came from; None if it cannot tell
        (a stage before the window removed what says so)."""
        ...
