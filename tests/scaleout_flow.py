"""Flows for the scale-out tests, run as ``python -m bytewax.run "scaleout_flow:get_flow(...)"``.

Random but reproducible documents in 4 shards of a partitioned in-memory source; each
shard's event times rise with a jitter below allowedLateness (3 s), so no document is late
and a window's result cannot depend on how chunks interleave across workers.
"""

from __future__ import annotations

import os
import random
import time
from datetime import datetime, timedelta, timezone

from bytewax.outputs import DynamicSink, StatelessSinkPartition
from partitioned_source import ShardedDocuments, sharded_flow

from runtime import ejson
from runtime.dead_letters import DeadLetters

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
SHARDS = ("shard-a", "shard-b", "shard-c", "shard-d")
GROUP = {"$group": {"_id": "$k", "total": {"$sum": "$v"}, "n": {"$count": {}}, "top": {"$max": "$v"}}}
CASES = {
    "tumbling": [{"$tumblingWindow": {"interval": {"size": 10, "unit": "second"}, "pipeline": [{"$match": {"v": {"$gte": 5}}}, GROUP]}}],
    "hopping": [{"$hoppingWindow": {"interval": {"size": 10, "unit": "second"}, "hopSize": {"size": 5, "unit": "second"}, "pipeline": [GROUP]}}],
    "session": [{"$sessionWindow": {"partitionBy": "$k", "gap": {"size": 4, "unit": "second"}, "pipeline": [GROUP]}}],
    "sorted": [{"$tumblingWindow": {"interval": {"size": 10, "unit": "second"}, "pipeline": [GROUP, {"$sort": {"total": -1, "_id": 1}}, {"$limit": 3}]}}],
    "setWindowFields": [{"$setWindowFields": {
        "partitionBy": "$owner", "sortBy": {"_ts": 1},
        "output": {"running": {"$sum": "$v", "window": {"documents": ["unbounded", "current"]}}, "seq": {"$documentNumber": {}}},
    }}],
}  # fmt: skip


def shard_documents(seed: int, shard: str, count: int) -> list[dict]:
    """One shard's documents: keys shared by every shard, ``owner`` keys of this shard only."""
    rng = random.Random(f"{seed}-{shard}")
    docs = []
    for i in range(count):
        jitter = timedelta(milliseconds=rng.randrange(0, 2000))
        docs.append({
            "_id": f"{shard}-{i}", "k": f"k{rng.randrange(12)}", "owner": f"{shard}:{rng.randrange(3)}",
            "v": rng.randrange(20), "_ts": T0 + timedelta(milliseconds=150 * i) + jitter,
        })  # fmt: skip
    return docs


class _FilePartition(StatelessSinkPartition):
    def __init__(self, path: str) -> None:
        self._path = path

    def write_batch(self, chunks: list) -> None:
        with open(self._path, "a") as out:
            for chunk in chunks:
                if not isinstance(chunk, DeadLetters):
                    out.writelines(ejson.dumps(doc) + "\n" for doc in chunk)


class FileSink(DynamicSink):
    """Each worker appends its output documents to its own file in ``directory``."""

    def __init__(self, directory: str) -> None:
        self._directory = directory

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _FilePartition:
        return _FilePartition(os.path.join(self._directory, f"out-{os.getpid()}-{worker_index}.jsonl"))


def get_flow(case: str, out_dir: str, seed: int = 1, count: int = 400, pause: float = 0.0):
    """The case's pipeline over the 4 shards; ``pause`` slows each batch (to kill a run mid-stream)."""
    every = {shard: shard_documents(seed, shard, count) for shard in SHARDS}

    def reader(shard: str):
        def docs(start: int):
            for i, doc in enumerate(every[shard][start:]):
                if pause and i % 20 == 0:
                    time.sleep(pause)
                yield dict(doc)

        return docs

    source = ShardedDocuments({shard: reader(shard) for shard in SHARDS}, batch_size=20)
    return sharded_flow(CASES[case], source, FileSink(out_dir), flow_id=f"scaleout_{case}")
