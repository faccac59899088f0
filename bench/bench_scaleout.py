"""One process vs a two-process cluster: a stateless pipeline and a tumbling ``$group`` over 10k keys.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-tumbling/

The source is the partitioned in-memory source of the tests (4 partitions of generated
documents, built in every process before the clock starts). Each run is timed from the first batch any
source partition emits to the last sink partition closing, so process start-up is left out.
Prints each layout's throughput and the ratio cluster / one process, per pipeline.
Run: ``python bench/bench_scaleout.py [--docs N]``; goal: ratio ≥ 1.6 on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bytewax.outputs import DynamicSink, StatelessSinkPartition  # noqa: E402
from partitioned_source import ShardedDocuments, free_ports, sharded_flow  # noqa: E402

START = datetime(2024, 1, 1, tzinfo=timezone.utc)
PARTITIONS = ("p0", "p1", "p2", "p3")
KEYS = 10_000
PIPELINES = {
    "stateless": [
        {"$match": {"amount": {"$gte": 10}}},
        {"$addFields": {"total": {"$multiply": ["$amount", "$price"]}, "tag": {"$concat": ["$key", "-x"]}}},
        {"$project": {"key": 1, "total": 1, "tag": 1}},
    ],
    "tumbling $group": [
        {"$tumblingWindow": {
            "interval": {"size": 1, "unit": "minute"},
            "pipeline": [{"$group": {"_id": "$key", "total": {"$sum": "$amount"}, "n": {"$count": {}}}}],
        }},
    ],
}  # fmt: skip


def _documents(partition: str, count: int) -> list[dict]:
    rng = random.Random(partition)
    step = timedelta(milliseconds=2)
    return [
        {"_ts": START + i * step, "key": f"k{rng.randrange(KEYS)}", "amount": rng.randrange(100), "price": 1.5}
        for i in range(count)
    ]


class _Timed:
    """Writes one line ``start end count`` per source partition or sink partition into ``directory``."""

    def __init__(self, directory: str, name: str) -> None:
        self.path = os.path.join(directory, f"{name}-{os.getpid()}-{id(self)}")

    def write(self, start: float, end: float, count: int) -> None:
        with open(self.path, "w") as out:
            out.write(f"{start} {end} {count}\n")


class _CountingPartition(StatelessSinkPartition):
    def __init__(self, timed: _Timed) -> None:
        self.timed = timed
        self.count = 0

    def write_batch(self, chunks: list) -> None:
        self.count += sum(len(chunk) for chunk in chunks)

    def close(self) -> None:
        self.timed.write(0.0, time.time(), self.count)


class CountingSink(DynamicSink):
    def __init__(self, directory: str) -> None:
        self.directory = directory

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _CountingPartition:
        return _CountingPartition(_Timed(self.directory, "sink"))


def get_flow(pipeline: str, directory: str, per_partition: int):
    """The bench's dataflow: ``python -m bytewax.run "bench_scaleout:get_flow(...)"``."""

    made = {p: _documents(p, per_partition) for p in PARTITIONS}  # before the clock starts

    def reader(partition: str):
        def docs(start: int):
            _Timed(directory, "source").write(time.time(), 0.0, per_partition - start)
            yield from made[partition][start:]

        return docs

    source = ShardedDocuments({p: reader(p) for p in PARTITIONS}, batch_size=1000)
    return sharded_flow(PIPELINES[pipeline], source, CountingSink(directory), flow_id="bench_scaleout")


def run(pipeline: str, processes: int, per_partition: int) -> tuple[float, int]:
    """Seconds from the first source batch to the last sink close, and documents out."""
    with tempfile.TemporaryDirectory() as directory:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")])}
        command = [sys.executable, "-m", "bytewax.run", f"bench_scaleout:get_flow({pipeline!r}, {directory!r}, {per_partition})"]
        if processes == 1:
            children = [subprocess.Popen(command, env=env)]
        else:
            addresses = ";".join(f"127.0.0.1:{port}" for port in free_ports(processes))
            children = [subprocess.Popen([*command, "-i", str(i), "-a", addresses], env=env) for i in range(processes)]
        for child in children:
            if child.wait(timeout=600) != 0:
                msg = f"{pipeline} on {processes} process(es) failed"
                raise RuntimeError(msg)
        starts, ends, out = [], [], 0
        for path in Path(directory).iterdir():
            start, end, count = path.read_text().split()
            if path.name.startswith("source"):
                starts.append(float(start))
            else:
                ends.append(float(end))
                out += int(count)
        return max(ends) - min(starts), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=400_000, help="documents in all (4 partitions)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per layout; the best counts")
    args = parser.parse_args()
    per_partition = args.docs // len(PARTITIONS)
    total = per_partition * len(PARTITIONS)
    print(f"{total:,} documents in {len(PARTITIONS)} partitions; {KEYS:,} keys; best of {args.repeat}")
    for pipeline in PIPELINES:
        results = {}
        for processes in (1, 2):
            best = min(run(pipeline, processes, per_partition) for _ in range(args.repeat))
            results[processes] = best
            seconds, out = best
            print(f"  {pipeline:16} {processes} process(es): {seconds:6.2f} s  {total / seconds / 1e3:8.0f}k docs/s  ({out:,} out)")
        if results[1][1] != results[2][1]:
            msg = f"{pipeline}: {results[1][1]} documents out on one process, {results[2][1]} on two"
            raise RuntimeError(msg)
        print(f"  {pipeline:16} ratio two processes / one: {results[1][0] / results[2][0]:.2f}x")


if __name__ == "__main__":
    main()
