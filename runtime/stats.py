"""Processor stats counted inside the dataflow, shaped as Atlas's ``sp.<name>.stats()``.

Every Bytewax worker thread counts into its own :class:`WorkerStats`, bumped once per chunk
and never locked; a process's stats document sums its workers (:meth:`FlowStats.document`),
and :func:`merge_stats` sums the documents of a cluster's processes.
https://www.mongodb.com/docs/atlas/atlas-stream-processing/manage-stream-processor/#view-statistics-of-a-stream-processor
"""

from __future__ import annotations

import threading
from threading import get_ident
from dataclasses import dataclass
from datetime import timezone
from typing import Any, Callable

import bson
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from bson import json_util
from bson.json_util import JSONMode, JSONOptions

SOURCE, STATELESS, SINK = "source", "stateless", "sink"  # the roles of translator.plan that matter here
COUNT_FIELDS = ("inputMessageCount", "outputMessageCount", "dlqMessageCount")
SIZE_FIELDS = ("inputMessageSize", "outputMessageSize", "dlqMessageSize", "stateSize")
OPERATOR_SUMS = (
    "inputMessageCount",
    "inputMessageSize",
    "outputMessageCount",
    "outputMessageSize",
    "dlqMessageCount",
    "dlqMessageSize",
    "stateSize",
    "maxMemoryUsage",
    "executionTime",
)
# What accumulates over the runs of a processor; the rest (stateSize, watermark, offsets, lag) are gauges.
CUMULATIVE_FIELDS = ("inputMessageCount", "inputMessageSize", "outputMessageCount", "outputMessageSize", "dlqMessageCount", "dlqMessageSize")
OPERATOR_CUMULATIVE = (*CUMULATIVE_FIELDS, "executionTime")
OPERATOR_SIZES = ("inputMessageSize", "outputMessageSize", "dlqMessageSize", "stateSize", "maxMemoryUsage")
STATUS_ORDER = ("error", "running", "starting", "stopping", "stopped")  # what a cluster shows when its processes differ
RELAXED = JSONOptions(json_mode=JSONMode.RELAXED, tz_aware=True, tzinfo=timezone.utc)


def record_size(record: dict) -> int:
    """Bytes of one DLQ record as BSON (what a MongoDB DLQ stores); 0 if it cannot be encoded."""
    try:
        return len(bson.encode(record))
    except Exception:  # a value BSON cannot hold: the writer will say so, the stats just skip it
        return 0


def sampled_size(docs: list) -> int:
    """Estimated BSON bytes of a batch: its first document's size times its length."""
    return record_size(docs[0]) * len(docs) if docs else 0


@dataclass(frozen=True)
class StageInfo:
    """One pipeline stage as the stats show it."""

    index: int
    name: str  # "$match"
    role: str  # translator.plan role: source, stateless, operator, sink
    step_id: str

    @property
    def label(self) -> str:
        """``2:$tumblingWindow``: stable across runs and readable, for metric labels."""
        return f"{self.index}:{self.name}"


class WorkerStats:
    """One worker thread's counters, indexed by stage; only that thread writes them."""

    def __init__(self, stage_count: int, index: int) -> None:
        self.index = index  # Bytewax's worker index once the worker is bound, else an ordinal
        self.into = [0] * stage_count  # documents each stage received
        self.out = [0] * stage_count  # documents each stage passed on (sinks: see output_count)
        self.dlq = [0] * stage_count
        self.dlq_bytes = [0] * stage_count
        self.seconds = [0.0] * stage_count
        self.state = [0] * stage_count  # bytes each stage holds now: a gauge
        self.watermark: list = [None] * stage_count
        self.input_bytes = 0  # what the source received
        self.output_count = 0  # documents handed to the sink (or to stdout)
        self.output_bytes = 0  # what the sink wrote
        self.kafka: dict[tuple[str, int], list] = {}  # (topic, partition) → [current, checkpoint, high]
        self.change_stream_lag: float | None = None  # seconds between an event and its processing

    def dead_letters(self, position: int, records: list) -> None:
        self.dlq[position] += len(records)
        self.dlq_bytes[position] += sum(map(record_size, records))

    def wrote(self, count: int, nbytes: int) -> None:
        """A sink took ``count`` documents and wrote ``nbytes`` for them."""
        self.output_count += count
        self.output_bytes += nbytes

    def kafka_partition(self, topic: str, partition: int) -> list:
        """The ``[currentOffset, checkpointOffset, highWatermark]`` slot a Kafka partition updates."""
        return self.kafka.setdefault((topic, partition), [None, None, None])


class StageProbe:
    """What an operator running its own Bytewax step reports: documents in, time, state, watermark."""

    def __init__(self, stats: FlowStats, position: int) -> None:
        self.stats = stats
        self.position = position

    def ran(self, received: int, seconds: float) -> WorkerStats:
        """Count one call; returns this worker's counters for the gauges."""
        worker = self.stats.worker()
        worker.into[self.position] += received
        worker.seconds[self.position] += seconds
        return worker


class FlowStats:
    """The counters of one translated flow in this process, and the hooks that report them."""

    def __init__(self, name: str, stages: list[StageInfo], ts_field: str = "_ts") -> None:
        self.name = name
        self.stages = stages
        self.ts_field = ts_field  # where the source puts event times (tsFieldName)
        self.status = "starting"
        self._lock = threading.Lock()
        # By OS thread id, not threading.local: Bytewax's worker threads are Rust threads whose
        # Python thread state (and with it any threading.local) may be recreated between calls.
        self._by_thread: dict[int, WorkerStats] = {}
        self._started = False
        self._finished = False
        self._on_start: list[Callable[[FlowStats], None]] = []
        self._on_finish: list[Callable[[FlowStats], None]] = []
        # Steps that count for one stage; fused stateless stages count inside their batch step.
        self._positions = {stage.step_id: stage.index for stage in stages if stage.role != STATELESS}

    def worker(self) -> WorkerStats:
        """This thread's counters, created on first use."""
        stats = self._by_thread.get(get_ident())
        if stats is None:
            with self._lock:
                stats = self._by_thread[get_ident()] = WorkerStats(len(self.stages), len(self._by_thread))
        return stats

    def thread_worker(self) -> WorkerStats | None:
        """This thread's counters if it has any, without creating them."""
        return self._by_thread.get(get_ident())

    def workers(self) -> list[WorkerStats]:
        with self._lock:
            return list(self._by_thread.values())

    def position(self, step_id: str) -> int | None:
        """The stage a Bytewax step id belongs to, if one does."""
        return self._positions.get(step_id)

    def probe(self, step_id: str) -> StageProbe:
        return StageProbe(self, self._positions[step_id])

    def when_started(self, hook: Callable[[FlowStats], None]) -> None:
        self._on_start.append(hook)

    def when_finished(self, hook: Callable[[FlowStats], None]) -> None:
        self._on_finish.append(hook)

    def bind_worker(self, index: int) -> None:
        """Bytewax builds a worker's steps in that worker's thread: note its index there.

        The first worker to be built starts the periodic reports (the stats file, ``--stats-interval``).
        """
        self.worker().index = index
        with self._lock:
            first, self._started = not self._started, True
            if first:
                self.status = "running"
        if first:
            for hook in self._on_start:
                hook(self)

    def finish(self, status: str = "stopped") -> None:
        """The dataflow ended: report once more, with the final status; later calls do nothing."""
        with self._lock:
            if self._finished:
                return
            self._finished = True
            self.status = status
        for hook in self._on_finish:
            hook(self)

    def document(self) -> dict:
        """This process's stats document: the sum over its workers."""
        return stats_document(self.name, self.status, self.stages, self.workers())


def _total(workers: list[WorkerStats], field: str, position: int) -> Any:
    return sum(getattr(worker, field)[position] for worker in workers)


def stage_counts(stage: StageInfo, worker: WorkerStats) -> tuple[int, int, int]:
    """One worker's documents in, out and to the DLQ at one stage."""
    i = stage.index
    if stage.role == SINK:
        return worker.output_count, worker.output_count - worker.dlq[i], worker.dlq[i]
    return worker.into[i], worker.out[i], worker.dlq[i]


def stats_document(name: str, status: str, stages: list[StageInfo], workers: list[WorkerStats]) -> dict:
    """Atlas's ``stats`` field for the given workers.

    Sizes are measured at the source (bytes received), the sink (bytes written) and the
    DLQ (records as BSON); in between, a stage's sizes are its counts times the source's
    average message size, an estimate.
    """
    received = sum(worker.into[0] for worker in workers) if stages else 0
    input_bytes = sum(worker.input_bytes for worker in workers)
    output_bytes = sum(worker.output_bytes for worker in workers)
    average = input_bytes / received if received else 0.0
    operators = []
    for stage in stages:
        i = stage.index
        count_in, count_out, dead = (sum(c) for c in zip(*(stage_counts(stage, w) for w in workers))) if workers else (0, 0, 0)
        state = _total(workers, "state", i)
        operators.append(
            {
                "name": stage.name,
                "inputMessageCount": count_in,
                "inputMessageSize": input_bytes if stage.role == SOURCE else round(count_in * average),
                "outputMessageCount": count_out,
                "outputMessageSize": output_bytes if stage.role == SINK else round(count_out * average),
                "dlqMessageCount": dead,
                "dlqMessageSize": _total(workers, "dlq_bytes", i),
                "stateSize": state,
                "maxMemoryUsage": state,
                "executionTime": round(_total(workers, "seconds", i), 6),
            }
        )
    if stages and stages[-1].role == SINK:
        output_count = operators[-1]["outputMessageCount"]
    else:
        output_count = sum(worker.output_count for worker in workers)
    watermarks = [w for worker in workers for w in worker.watermark if w is not None]
    doc: dict = {
        "name": name,
        "status": status,
        "scaleFactor": 1,
        "inputMessageCount": received,
        "inputMessageSize": input_bytes,
        "outputMessageCount": output_count,
        "outputMessageSize": output_bytes,
        "dlqMessageCount": sum(op["dlqMessageCount"] for op in operators),
        "dlqMessageSize": sum(op["dlqMessageSize"] for op in operators),
        "stateSize": sum(op["stateSize"] for op in operators),
        "watermark": min(watermarks) if watermarks else None,
        "operatorStats": operators,
    }
    partitions = sorted((key, slot) for worker in workers for key, slot in list(worker.kafka.items()))
    if partitions:
        doc["kafkaPartitions"] = [_partition_entry(topic, partition, *slot) for (topic, partition), slot in partitions]
    lags = [worker.change_stream_lag for worker in workers if worker.change_stream_lag is not None]
    if lags:
        doc["changeStreamTimeDifferenceSecs"] = round(max(lags), 3)
    return doc


def _partition_entry(topic: str, partition: int, current: int | None, checkpoint: int | None, high: int | None) -> dict:
    lag = high - current if high is not None and current is not None and high >= current else None
    return {
        "topic": topic,
        "partition": partition,
        "currentOffset": current,
        "checkpointOffset": checkpoint,
        "partitionOffsetLag": lag,
    }


def merge_stats(docs: list[dict]) -> dict:
    """One document for a cluster from each process's (parsed) stats document.

    Counts, sizes and execution times add up; the watermark is the earliest; Kafka
    partitions are listed once each (the highest ``currentOffset`` wins, should two
    processes report the same one).
    """
    if not docs:
        msg = "merge_stats: expected at least one stats document; got none"
        raise ValueError(msg)
    merged = dict(docs[0])
    for field in (*COUNT_FIELDS, *SIZE_FIELDS):
        merged[field] = sum(doc.get(field) or 0 for doc in docs)
    statuses = {doc.get("status") for doc in docs}
    merged["status"] = next((s for s in STATUS_ORDER if s in statuses), merged.get("status"))
    watermarks = [doc["watermark"] for doc in docs if doc.get("watermark") is not None]
    merged["watermark"] = min(watermarks) if watermarks else None
    operators: list[dict] = []
    for doc in docs:
        for i, entry in enumerate(doc.get("operatorStats") or []):
            if i == len(operators):
                operators.append(dict(entry))
                continue
            for field in OPERATOR_SUMS:
                operators[i][field] = (operators[i].get(field) or 0) + (entry.get(field) or 0)
    merged["operatorStats"] = operators
    partitions: dict[tuple, dict] = {}
    for doc in docs:
        for entry in doc.get("kafkaPartitions") or []:
            key = (entry.get("topic"), entry["partition"])
            known = partitions.get(key)
            if known is None or (entry.get("currentOffset") or -1) > (known.get("currentOffset") or -1):
                partitions[key] = entry
    if partitions:
        merged["kafkaPartitions"] = [partitions[key] for key in sorted(partitions, key=lambda k: (str(k[0]), k[1]))]
    lags = [doc["changeStreamTimeDifferenceSecs"] for doc in docs if doc.get("changeStreamTimeDifferenceSecs") is not None]
    if lags:
        merged["changeStreamTimeDifferenceSecs"] = max(lags)
    return merged


def with_earlier_runs(earlier: dict, doc: dict) -> dict:
    """One run's (merged) stats ``doc`` with the counters of ``earlier`` runs added: counts, sizes
    and execution times accumulate; gauges stay the current run's. A stage is matched by
    position and name, so a stage added or removed by a modify starts from 0."""
    out = dict(doc)
    for field in CUMULATIVE_FIELDS:
        out[field] = (doc.get(field) or 0) + (earlier.get(field) or 0)
    before = earlier.get("operatorStats") or []
    operators = []
    for i, entry in enumerate(doc.get("operatorStats") or []):
        entry = dict(entry)
        if i < len(before) and before[i].get("name") == entry.get("name"):
            for field in OPERATOR_CUMULATIVE:
                entry[field] = (entry.get(field) or 0) + (before[i].get(field) or 0)
            entry["executionTime"] = round(entry["executionTime"], 6)
        operators.append(entry)
    out["operatorStats"] = operators
    return out


def scaled(doc: dict, scale: int) -> dict:
    """Sizes in units of ``scale`` bytes (1024: KiB), truncated as MongoDB's ``scale`` does."""
    if type(scale) is not int or scale < 1:
        msg = f"scale: expected a positive integer; got {scale!r}"
        raise ValueError(msg)
    out = dict(doc)
    for field in SIZE_FIELDS:
        if out.get(field) is not None:
            out[field] = int(out[field] // scale)
    out["operatorStats"] = [
        {k: (int(v // scale) if k in OPERATOR_SIZES and v is not None else v) for k, v in entry.items()}
        for entry in doc.get("operatorStats") or []
    ]
    out["scaleFactor"] = scale
    return out


def dumps(doc: dict) -> str:
    """A stats document as one line of relaxed Extended JSON."""
    return json_util.dumps(doc, json_options=RELAXED, separators=(",", ":"))


def loads(text: str | bytes) -> dict:
    """A stats document back from relaxed Extended JSON (dates as aware datetimes)."""
    return json_util.loads(text, json_options=RELAXED)


def read_stats_file(path: str) -> dict:
    """The document a process last wrote to its ``SLUICE_STATS_FILE``."""
    with open(path, "rb") as file:
        return loads(file.read())


class CountingWriter:
    """A DLQ writer that counts what one stage hands it before passing it on."""

    def __init__(self, writer: Any, stats: FlowStats, position: int) -> None:
        self._writer = writer
        self._stats = stats
        self._position = position

    def write(self, records: list[dict]) -> None:
        self._stats.worker().dead_letters(self._position, records)
        self._writer.write(records)

    def close(self) -> None:
        self._writer.close()


def counting_writers(factory: Callable[[], Any], stats: FlowStats, position: int) -> Callable[[], CountingWriter]:
    """``factory``'s DLQ writers, counting for the stage at ``position`` (a sink's own dead letters)."""
    return lambda: CountingWriter(factory(), stats, position)


class WorkerBinding(DynamicSink):
    """Wraps a sink every worker builds, to tell each worker thread its Bytewax index."""

    def __init__(self, sink: DynamicSink, stats: FlowStats) -> None:
        self._sink = sink
        self._stats = stats

    def build(self, step_id: str, worker_index: int, worker_count: int) -> StatelessSinkPartition:
        self._stats.bind_worker(worker_index)
        return self._sink.build(step_id, worker_index, worker_count)


_ACTIVE: FlowStats | None = None


def activate(stats: FlowStats | None) -> None:
    """Make ``stats`` the flow connectors report to: a process runs one translated flow."""
    global _ACTIVE
    _ACTIVE = stats


def current_worker_index() -> int | None:
    """The Bytewax index of the worker running this thread, if it is one (for log lines)."""
    stats = _ACTIVE.thread_worker() if _ACTIVE is not None else None
    return stats.index if stats is not None else None


def active_worker() -> WorkerStats | None:
    """The calling worker thread's counters in the active flow; None when stats are off.

    Connectors call this when Bytewax builds their partition (in the worker's thread) and
    keep the result.
    """
    return _ACTIVE.worker() if _ACTIVE is not None else None
