"""The Bytewax operator that runs a window engine over a stream of chunks.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/windows/

Built on ``stateful_batch`` rather than Bytewax's windowing operators, whose per-key clocks
emit a window twice and lose late items. Every chunk goes to one key, so one engine sees
every source partition and keeps Atlas's single watermark (Atlas runs a window on one core
too); the engine's state is snapshotted into Bytewax's recovery store at each epoch.
"""

from __future__ import annotations

import pickle
import time
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

import bytewax.operators as op
from bytewax.dataflow import Stream
from bytewax.operators import StatefulBatchLogic

from runtime.dead_letters import DeadLetters
from runtime.stop import stopping
from runtime.stats import StageProbe

WINDOW_KEY = "window"  # the one key: the watermark is global, so is the state
MEASURE_COST_SHARE = 0.02  # measuring the state's size may take this share of the time, at most


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class _EngineLogic(StatefulBatchLogic):
    """Feeds chunks to the engine; dead-letter chunks from upstream pass through untouched."""

    def __init__(self, engine: Any, now: Callable[[], datetime], probe: StageProbe | None = None, empty_size: int = 0) -> None:
        self.engine = engine
        self.now = now
        self.probe = probe
        self._empty_size = empty_size  # a fresh engine's pickled snapshot: state size 0
        self._next_measure = 0.0

    def on_batch(self, values: list) -> tuple[Iterable, bool]:
        started = time.perf_counter()
        out: list = []
        now = self.now()
        received = 0
        for chunk in values:
            if isinstance(chunk, DeadLetters):
                out.append(chunk)
            elif chunk:
                received += len(chunk)
                out.extend(self.engine.process(chunk, now))
        if self.probe is not None:
            self._report(received, started, force=False)
        return out, StatefulBatchLogic.RETAIN

    def on_notify(self) -> tuple[Iterable, bool]:
        started = time.perf_counter()
        out = self.engine.on_time(self.now())
        if self.probe is not None:
            self._report(0, started, force=True)
        return out, StatefulBatchLogic.RETAIN

    def on_eof(self) -> tuple[Iterable, bool]:
        # A stop request ends the sources too; open windows then wait in the last snapshot
        # for the next run rather than close half full.
        if stopping():
            return [], StatefulBatchLogic.RETAIN
        started = time.perf_counter()
        out = self.engine.close_all()
        if self.probe is not None:
            self._report(0, started, force=True)
        return out, StatefulBatchLogic.RETAIN

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
        return _pickled(self.engine)


def _pickled(engine: Any) -> bytes:
    return pickle.dumps(engine.snapshot(), protocol=pickle.HIGHEST_PROTOCOL)


def _held_size(engine: Any) -> int:
    return len(pickle.dumps(engine.held(), protocol=pickle.HIGHEST_PROTOCOL))


def window_operator(
    step_id: str,
    up: Stream,
    make_engine: Callable[[], Any],
    now: Callable[[], datetime] = utc_now,
    probe: StageProbe | None = None,
) -> Stream:
    """Run a fresh (or restored) engine from ``make_engine`` over ``up``'s chunks.

    Args:
        step_id: Bytewax step id, e.g. ``"03_tumblingWindow"``.
        up: stream of chunks (lists of documents) and DeadLetters.
        make_engine: builds the engine; called once per execution, then restored if resuming.
        now: the wall clock, replaceable in tests.
        probe: where the stage's stats go, if they are kept.

    Returns:
        A stream of output chunks and DeadLetters chunks.
    """

    def build(resume: bytes | None) -> _EngineLogic:
        engine = make_engine()
        empty_size = _held_size(engine) if probe is not None else 0
        if resume is not None:
            engine.restore(pickle.loads(resume), now())
        return _EngineLogic(engine, now, probe, empty_size)

    keyed = op.key_on(f"{step_id}_key", up, lambda _chunk: WINDOW_KEY)
    return op.key_rm(f"{step_id}_unkey", op.stateful_batch(f"{step_id}_state", keyed, build))
