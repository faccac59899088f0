"""``sample_stream_solar``: an endless stream of solar-panel readings, like Atlas's sample.

Each reading is a pure function of (seed, sequence number), so runs are reproducible and a
restart under Bytewax recovery continues the same sequence.
https://www.mongodb.com/docs/atlas/atlas-stream-processing/tutorial/
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from runtime.stop import end_partition_if_stopping
from runtime.stream_meta import TimeField, chunks, stamp
from runtime.stats import active_worker, sampled_size

__all__ = ["SolarSource"]
SOURCE_META = {"type": "generated"}
DEVICES = 20
MAX_CHUNK = 10_000


def solar_reading(seed: int, sequence: int, now: datetime) -> dict:
    """One reading; device ``device_N`` belongs to group N % 10 and has a 250 or 450 W panel."""
    rng = random.Random(seed * 1_000_003 + sequence)
    device = rng.randrange(DEVICES)
    max_watts = 450 if device % 2 else 250
    faulty = rng.random() < 0.02
    return {
        "device_id": f"device_{device}",
        "group_id": device % 10,
        "timestamp": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "max_watts": max_watts,
        "event_type": 1 if faulty else 0,
        "obs": {"watts": 0 if faulty else rng.randint(max_watts // 3, max_watts), "temp": rng.randint(5, 35)},
    }


class _SolarPartition(StatefulSourcePartition):
    def __init__(self, source: SolarSource, emitted: int):
        self._source = source
        self._emitted = emitted
        self._stats = active_worker()
        self._started = time.monotonic()
        self._start_count = emitted

    def next_batch(self) -> list:
        end_partition_if_stopping()
        source = self._source
        if source.limit is not None and self._emitted >= source.limit:
            raise StopIteration
        due = self._start_count + int((time.monotonic() - self._started) * source.rate) - self._emitted
        if source.limit is not None:
            due = min(due, source.limit - self._emitted)
        due = min(due, MAX_CHUNK)
        if due <= 0:
            return []
        now = datetime.now(timezone.utc)
        readings = [solar_reading(source.seed, n, now) for n in range(self._emitted, self._emitted + due)]
        self._emitted += due
        if self._stats is not None:
            self._stats.input_bytes += sampled_size(readings)
        docs, dead = stamp(readings, SOURCE_META, now, source.time_field, source.ts_field_name)
        return chunks(docs, dead)

    def next_awake(self) -> datetime:
        wait = (self._emitted + 1 - self._start_count) / self._source.rate - (time.monotonic() - self._started)
        return datetime.now(timezone.utc) + timedelta(seconds=max(wait, 0))

    def snapshot(self) -> int:
        return self._emitted


class SolarSource(FixedPartitionedSource):
    """Readings at ``rate`` per second, forever or until ``limit``; exactly-once on recovery."""

    def __init__(
        self,
        rate: float = 10,
        seed: int = 42,
        limit: int | None = None,
        time_field: TimeField | None = None,
        ts_field_name: str = "_ts",
    ):
        if rate <= 0:
            msg = f"rate must be positive; got {rate}"
            raise ValueError(msg)
        self.rate = rate
        self.seed = seed
        self.limit = limit
        self.time_field = time_field
        self.ts_field_name = ts_field_name

    def list_parts(self) -> list[str]:
        return ["solar"]

    def build_part(self, step_id: str, for_part: str, resume_state: Any) -> _SolarPartition:
        return _SolarPartition(self, resume_state or 0)
