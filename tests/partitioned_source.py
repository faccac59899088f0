"""A partitioned in-memory source, Kinesis-like (shards by id), and flows reading it through sluice.

Not Kafka on purpose: a window must get Atlas's watermark from any source that implements
``runtime.source_partitions.SourcePartitions``. Used by the scale-out tests and
``bench/bench_scaleout.py``.
"""

from __future__ import annotations

import io
import socket
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.outputs import DynamicSink

from runtime.stream_meta import STREAM_META
from translator import plan
from translator.build import BuildContext, build_dataflow
from translator.builders._registry import builds
from translator.builders.dead_letters import dlq_writer_factory
from translator.parse import parse_pipeline
from translator.plan import SOURCE, SourceTime, StagePlan

SOURCE_TYPE = "memory"


class _Shard(StatefulSourcePartition):
    def __init__(self, shard_id: str, docs: Callable[[int], Iterator[dict]], batch_size: int, position: int | None) -> None:
        self._meta = {"source": {"type": SOURCE_TYPE, "shardId": shard_id}}
        self._position = position or 0
        self._docs = docs(self._position)
        self._batch_size = batch_size

    def next_batch(self) -> list:
        chunk = []
        for doc in self._docs:
            doc[STREAM_META] = self._meta
            chunk.append(doc)
            if len(chunk) == self._batch_size:
                break
        if not chunk:
            raise StopIteration
        self._position += len(chunk)
        return [chunk]

    def snapshot(self) -> int:
        return self._position


class ShardedDocuments(FixedPartitionedSource):
    """Shards of generated documents; ``docs[shard_id](start)`` yields a shard's documents from
    position ``start`` on (fresh dicts each time: stages own the documents they receive)."""

    def __init__(self, docs: dict[str, Callable[[int], Iterator[dict]]], batch_size: int = 1000) -> None:
        self._docs = docs
        self._batch_size = batch_size

    def list_parts(self) -> list[str]:
        return list(self._docs)

    def build_part(self, step_id: str, for_part: str, resume_state: Any) -> _Shard:
        return _Shard(for_part, self._docs[for_part], self._batch_size, resume_state)

    # runtime.source_partitions.SourcePartitions
    def partition_ids(self) -> list[str]:
        return list(self._docs)

    def partition_of(self, doc: dict) -> str | None:
        meta = doc.get(STREAM_META)
        source = meta.get("source") if type(meta) is dict else None
        return source.get("shardId") if type(source) is dict else None


@dataclass(frozen=True)
class ShardedSourceSpec:
    """The plan of a ``$source`` reading a :class:`ShardedDocuments`."""

    source: ShardedDocuments
    time: SourceTime


@builds(ShardedSourceSpec)
def _build_sharded(plan: StagePlan, flow: Dataflow, bctx: BuildContext) -> Any:
    bctx.source_partitions = plan.spec.source
    return op.input(plan.stage.step_id, flow, plan.spec.source)


def sharded_flow(stages: list, source: ShardedDocuments, sink: DynamicSink, dlq: Any = None, flow_id: str = "sharded") -> Dataflow:
    """sluice's dataflow for ``stages`` after a ``$source`` that reads ``source``.

    The pipeline is planned as if its source were inline documents (finite), then the
    source plan is swapped for one reading the shards.
    """
    pipeline = parse_pipeline({"name": flow_id, "pipeline": [{"$source": {"documents": []}}, *stages]})
    plans = plan(pipeline)
    head = plans[0]
    plans[0] = StagePlan(head.stage, SOURCE, "sharded in-memory documents", spec=ShardedSourceSpec(source, head.spec.time))
    writers = dlq_writer_factory({}, None, dlq if dlq is not None else io.StringIO())
    return build_dataflow(plans, BuildContext(Dataflow(flow_id), flow_id, writers, sink))


def free_ports(count: int) -> list[int]:
    """Loopback ports free a moment ago, for the addresses of a local cluster."""
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports
