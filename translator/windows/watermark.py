"""Atlas's watermark: the latest event time, held back by the slowest live source partition.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/windows/#watermarks
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

from runtime.dead_letters import dead_letter


class Watermark:
    """Per source partition ``[latest event time, last arrival]``; the watermark is their minimum.

    Atlas keeps the watermark per source partition, not per key: one slow partition holds
    every window back until the source's idle timeout (Kafka's ``partitionIdleTimeout``)
    declares it idle. Partitions are the ids the source gives (None: a source without
    partitions). The watermark never moves backwards.
    """

    def __init__(self, partition_idle_timeout: timedelta | None, expected: Callable[[], Iterable] | None = None) -> None:
        self.partition_idle_timeout = partition_idle_timeout
        self.expected = expected  # the source's partition ids, so a silent one holds the watermark too
        self.partitions: dict[Any, list] = {}
        self.value: datetime | None = None
        self.now: datetime | None = None

    def observe(self, partition: Any, now: datetime) -> list:
        """A chunk arrived from ``partition``; returns its mutable ``[max_ts, last_arrival]``."""
        self.now = now
        if self.expected is not None:
            for known in self.expected():
                self.partitions.setdefault(known, [None, now])
        entry = self.partitions.get(partition)
        if entry is None:
            entry = self.partitions[partition] = [None, now]
        else:
            entry[1] = now
        return entry

    def advance(self) -> datetime | None:
        """Recompute after a partition's latest event time rose (or a partition went idle)."""
        partitions = self.partitions
        if len(partitions) == 1:
            (found,) = (entry[0] for entry in partitions.values())
        else:
            idle = self.partition_idle_timeout
            now = self.now
            live = [e[0] for e in partitions.values() if idle is None or now - e[1] < idle]
            if any(ts is None for ts in live):
                return self.value  # a live partition that has shown no event time yet holds everything
            found = min(live) if live else max((e[0] for e in partitions.values() if e[0] is not None), default=None)
        if found is not None and (self.value is None or found > self.value):
            self.value = found
        return self.value

    def next_idle_time(self) -> datetime | None:
        """When a partition that holds the watermark back would turn idle, if one does."""
        idle = self.partition_idle_timeout
        if idle is None or len(self.partitions) < 2 or self.now is None:
            return None
        now = self.now
        live = [e for e in self.partitions.values() if now - e[1] < idle]
        latest = self._latest() if live else None
        return min((e[1] + idle for e in live if e[0] != latest), default=None)

    def _latest(self) -> datetime | None:
        return max((e[0] for e in self.partitions.values() if e[0] is not None), default=None)

    def tick(self, now: datetime) -> datetime | None:
        """Processing time moved on: partitions may have gone idle."""
        self.now = now
        return self.advance() if len(self.partitions) > 1 else self.value

    def snapshot(self) -> tuple:
        return (self.partitions, self.value)

    def restore(self, state: tuple, now: datetime) -> None:
        """Arrivals restart counting from ``now``: being down is not a partition being idle."""
        self.partitions, self.value = state
        for entry in self.partitions.values():
            entry[1] = now
        self.now = now


def late_letter(doc: dict, ts: datetime, watermark: datetime | None, lateness: timedelta, missed: list) -> dict:
    """The DLQ record of a document whose every window had closed."""
    reason = (
        f"late document: expected an event time within allowedLateness ({lateness}) of a window"
        f" still open; found {ts.isoformat()} with the watermark at {watermark.isoformat() if watermark else None}"
    )
    return dead_letter(doc, reason, missedWindowStartTimes=missed)
