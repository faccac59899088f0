"""The Bytewax operator that runs window engines over a stream of chunks, spread over workers.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/windows/

Built on ``stateful_batch`` rather than Bytewax's windowing operators, whose per-key clocks
emit a window twice and lose late items. State is spread by key over ``SHARDS`` fixed shard
keys (Bytewax places each on a worker): a document goes to the shard of its group key (its
``partitionBy`` for sessions and ``$setWindowFields``), so a shard's results never depend on
how many workers run. Atlas's watermark is one for the whole stage: the routing step, on the
worker reading the source partition, sends every shard a mark of each chunk (its source
partition and latest event time), documents or none, so every shard keeps the same
watermark over every source partition. Each shard's engine is snapshotted into Bytewax's
recovery store at each epoch, under its shard key, whatever the worker count.
"""

from __future__ import annotations

import pickle
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

import bytewax.operators as op
from bytewax.dataflow import Stream
from bytewax.operators import StatefulBatchLogic

from runtime.dead_letters import DeadLetters
from runtime.stream_meta import chunks
from runtime.missing import MISSING
from runtime.source_partitions import SourcePartitions
from runtime.stop import stopping
from runtime.stats import StageProbe
from translator.windows.shards import SHARD_KEYS

COMBINE_KEY = "combine"  # the one key of a combine step
_END = datetime.max.replace(tzinfo=timezone.utc)  # a finished shard's frontier
MEASURE_COST_SHARE = 0.02  # measuring the state's size may take this share of the time, at most


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class _EngineLogic(StatefulBatchLogic):
    """Feeds chunks to the engine; dead-letter chunks from upstream pass through untouched."""

    def __init__(self, engine: Any, now: Callable[[], datetime], probe: StageProbe | None = None, empty_size: int = 0,
                 combining: bool = False, shard: int | None = None, reported: datetime | None = None) -> None:  # fmt: skip
        self.engine = engine
        self.now = now
        self.probe = probe
        self._empty_size = empty_size  # a fresh engine's pickled snapshot: state size 0
        self._next_measure = 0.0
        self.shard = shard  # learnt from the first item; kept in snapshots
        self.reported = reported  # the frontier last told the combine step, when there is one
        self.combining = combining  # a combine step finishes the windows: the engine emits shares

    def _shares(self, out: list, ended: bool = False) -> list:
        """With a combine step: each closed window's share tagged with this shard, then this
        shard's frontier when it moved (windows ending at or before it are complete here)."""
        if not self.combining:
            return out
        shard = self.shard
        frontier = _END if ended else self.engine.frontier
        items = [item if type(item) is DeadLetters else ("share", shard, *item) for item in out]
        if frontier is not None and (self.reported is None or frontier > self.reported):
            self.reported = frontier
            items.append(("frontier", shard, frontier))
        return items

    def on_batch(self, values: list) -> tuple[Iterable, bool]:
        started = time.perf_counter()
        out: list = []
        now = self.now()
        received = 0
        for item in values:
            if type(item) is DeadLetters:
                out.append(item)
            else:
                self.shard, partition, docs, highs, high = item
                received += len(docs)
                out.extend(self.engine.process(docs, now, partition, highs, high))
        if self.probe is not None:
            self._report(received, started, force=False)
        return self._shares(out), StatefulBatchLogic.RETAIN

    def on_notify(self) -> tuple[Iterable, bool]:
        started = time.perf_counter()
        out = self.engine.on_time(self.now())
        if self.probe is not None:
            self._report(0, started, force=True)
        return self._shares(out), StatefulBatchLogic.RETAIN

    def on_eof(self) -> tuple[Iterable, bool]:
        # A stop request ends the sources too; open windows then wait in the last snapshot
        # for the next run rather than close half full.
        if stopping():
            return [], StatefulBatchLogic.RETAIN
        started = time.perf_counter()
        out = self.engine.close_all()
        if self.probe is not None:
            self._report(0, started, force=True)
        return self._shares(out, ended=True), StatefulBatchLogic.RETAIN

    def _report(self, received: int, started: float, force: bool) -> None:
        """Time, watermark and state size to the stats.

        The state size is what the engine's open windows hold, pickled as in the recovery
        store, less an empty engine's; measured after notifications and at the end, and otherwise only so
        often that measuring costs at most ``MEASURE_COST_SHARE`` of the time.
        """
        worker = self.probe.ran(received, time.perf_counter() - started)
        position = self.probe.position
        watermark = getattr(self.engine, "watermark", None)
        if watermark is not None:
            worker.watermark[position] = watermark.value
        clock = time.perf_counter()
        if force or clock >= self._next_measure:
            worker.state[position] = max(_held_size(self.engine) - self._empty_size, 0)
            spent = time.perf_counter() - clock
            self._next_measure = clock + max(1.0, spent / MEASURE_COST_SHARE)

    def notify_at(self) -> datetime | None:
        return self.engine.next_wake()

    def snapshot(self) -> bytes:
        # Pickled here, so later mutation of the live state cannot leak into the snapshot.
        return pickle.dumps((self.engine.snapshot(), self.shard, self.reported), protocol=pickle.HIGHEST_PROTOCOL)


class _CombineLogic(StatefulBatchLogic):
    """Every shard's share of a window, finished once each shard's frontier has passed its end.

    Shares are joined in shard order, so the result does not depend on the worker count.
    """

    def __init__(self, finish: Any, resume: bytes | None) -> None:
        self.finish = finish  # an InnerPipeline of the stages needing all groups
        state = pickle.loads(resume) if resume is not None else ([None] * len(SHARD_KEYS), {})
        self.frontiers, self.pending = state  # per shard; window start -> [window, {shard: documents}]

    def on_batch(self, values: list) -> tuple[Iterable, bool]:
        out: list = []
        for item in values:
            if type(item) is DeadLetters:
                out.append(item)
            elif item[0] == "share":
                _, shard, window, docs = item
                entry = self.pending.setdefault(window["start"], [window, {}])
                entry[1].setdefault(shard, []).extend(docs)
            else:
                _, shard, frontier = item
                if self.frontiers[shard] is None or frontier > self.frontiers[shard]:
                    self.frontiers[shard] = frontier
        return self._release(out, everything=False), StatefulBatchLogic.RETAIN

    def _release(self, out: list, everything: bool) -> list:
        low = None if None in self.frontiers else min(self.frontiers)
        done = sorted(start for start, (window, _) in self.pending.items() if everything or (low is not None and window["end"] <= low))
        for start in done:
            _, shares = self.pending.pop(start)
            dead = DeadLetters()
            docs = [doc for shard in sorted(shares) for doc in shares[shard]]
            out.extend(chunks(self.finish.finish(docs, dead), dead))
        return out

    def on_eof(self) -> tuple[Iterable, bool]:
        if stopping():  # as the shards do: open windows wait in the snapshot for the next run
            return [], StatefulBatchLogic.RETAIN
        return self._release([], everything=True), StatefulBatchLogic.RETAIN

    def snapshot(self) -> bytes:
        return pickle.dumps((self.frontiers, self.pending), protocol=pickle.HIGHEST_PROTOCOL)


def _held_size(engine: Any) -> int:
    return len(pickle.dumps(engine.held(), protocol=pickle.HIGHEST_PROTOCOL))


@dataclass(frozen=True)
class Routing:
    """How the routing step spreads a stage's chunks over its shards.

    ``shard_of`` picks a document's shard (None: the stage keeps one shard). With a
    ``time_field`` the stage keeps a watermark, so every shard gets a mark of every chunk:
    ``(shard, partition, docs, highs, high)``, where ``highs[i]`` is the chunk's latest event time up
    to its document ``docs[i]`` and ``high`` the chunk's, so each shard moves its watermark
    exactly as one engine seeing the whole chunk would. Without one only documents travel,
    as ``(shard, None, docs, None, None)``.
    """

    shard_of: Callable[[dict], int] | None = None
    time_field: str | None = None


ONE_ENGINE = Routing()


def _router(routing: Routing, partitions: SourcePartitions | None) -> Callable[[list], list]:
    """The routing step's function: chunks in, ``(shard key, item)`` pairs out."""
    shard_of, time_field = routing.shard_of, routing.time_field
    partition_of = partitions.partition_of if partitions is not None else None
    first = SHARD_KEYS[0]

    def one_shard(chunks: list) -> list:
        out = []
        for chunk in chunks:
            if type(chunk) is DeadLetters:
                out.append((first, chunk))
            elif chunk:
                out.append((first, (0, partition_of(chunk[0]) if partition_of else None, chunk, None, None)))
        return out

    if shard_of is None:
        return one_shard

    def by_key(chunks: list) -> list:
        out = []
        for chunk in chunks:
            if type(chunk) is DeadLetters:
                out.append((first, chunk))
                continue
            if not chunk:
                continue
            docs: list = [[] for _ in SHARD_KEYS]
            for doc in chunk:
                docs[shard_of(doc)].append(doc)
            out.extend((SHARD_KEYS[i], (i, None, part, None, None)) for i, part in enumerate(docs) if part)
        return out

    def with_marks(chunks: list) -> list:
        out = []
        for chunk in chunks:
            if type(chunk) is DeadLetters:
                out.append((first, chunk))
                continue
            if not chunk:
                continue
            partition = partition_of(chunk[0]) if partition_of else None
            docs: list = [[] for _ in SHARD_KEYS]
            highs: list = [[] for _ in SHARD_KEYS]
            high = None
            for doc in chunk:
                ts = doc.get(time_field, MISSING)
                if type(ts) is datetime and (high is None or ts > high):
                    high = ts
                shard = shard_of(doc)
                docs[shard].append(doc)
                highs[shard].append(high)
            out.extend((key, (i, partition, docs[i], highs[i], high)) for i, key in enumerate(SHARD_KEYS))
        return out

    return with_marks if time_field is not None else by_key


def window_operator(
    step_id: str,
    up: Stream,
    make_engine: Callable[[], Any],
    now: Callable[[], datetime] = utc_now,
    probe: StageProbe | None = None,
    routing: Routing = ONE_ENGINE,
    partitions: SourcePartitions | None = None,
    combine: Any = None,
) -> Stream:
    """Run fresh (or restored) engines from ``make_engine``, one per shard, over ``up``'s chunks.

    Args:
        step_id: Bytewax step id, e.g. ``"tumblingWindow_0"``.
        up: stream of chunks (lists of documents) and DeadLetters.
        make_engine: builds an engine; called once per shard and execution, then restored if resuming.
        now: the wall clock, replaceable in tests.
        probe: where the stage's stats go, if they are kept.
        routing: how documents and watermark marks reach the shards (default: one shard).
        partitions: the source's partitions, when it has several.
        combine: the stages (an InnerPipeline) a combine step runs over every shard's share of
            a window; None when each shard's results are complete.

    Returns:
        A stream of output chunks and DeadLetters chunks.
    """

    def build(resume: bytes | None) -> _EngineLogic:
        engine = make_engine()
        combining = combine is not None
        if combining:
            engine.shares = True
        empty_size = _held_size(engine) if probe is not None else 0
        if resume is None:
            return _EngineLogic(engine, now, probe, empty_size, combining)
        state, shard, reported = pickle.loads(resume)
        engine.restore(state, now())
        return _EngineLogic(engine, now, probe, empty_size, combining, shard, reported)

    routed = op.flat_map_batch(f"{step_id}_key", up, _router(routing, partitions))
    states = op.stateful_batch(f"{step_id}_state", routed, build)
    if combine is not None:
        shares = op.map(f"{step_id}_to_combine", states, lambda keyed: (COMBINE_KEY, keyed[1]))
        states = op.stateful_batch(f"{step_id}_combine", shares, lambda resume: _CombineLogic(combine, resume))
    return op.key_rm(f"{step_id}_unkey", states)
