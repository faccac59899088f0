"""The Bytewax operator that runs a window engine over a stream of chunks.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/windows/

Built on ``stateful_batch`` rather than Bytewax's windowing operators, whose per-key clocks
emit a window twice and lose late items. Every chunk goes to one key, so one engine sees
every source partition and keeps Atlas's single watermark (Atlas runs a window on one core
too); the engine's state is snapshotted into Bytewax's recovery store at each epoch.
"""

from __future__ import annotations

import pickle
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

import bytewax.operators as op
from bytewax.dataflow import Stream
from bytewax.operators import StatefulBatchLogic

from connectors.dead_letters import DeadLetters
from connectors.stop import stopping

WINDOW_KEY = "window"  # the one key: the watermark is global, so is the state


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class _EngineLogic(StatefulBatchLogic):
    """Feeds chunks to the engine; dead-letter chunks from upstream pass through untouched."""

    def __init__(self, engine: Any, now: Callable[[], datetime]) -> None:
        self.engine = engine
        self.now = now

    def on_batch(self, values: list) -> tuple[Iterable, bool]:
        out: list = []
        now = self.now()
        for chunk in values:
            if isinstance(chunk, DeadLetters):
                out.append(chunk)
            elif chunk:
                out.extend(self.engine.process(chunk, now))
        return out, StatefulBatchLogic.RETAIN

    def on_notify(self) -> tuple[Iterable, bool]:
        return self.engine.on_time(self.now()), StatefulBatchLogic.RETAIN

    def on_eof(self) -> tuple[Iterable, bool]:
        # A stop request ends the sources too; open windows then wait in the last snapshot
        # for the next run rather than close half full.
        if stopping():
            return [], StatefulBatchLogic.RETAIN
        return self.engine.close_all(), StatefulBatchLogic.RETAIN

    def notify_at(self) -> datetime | None:
        return self.engine.next_wake()

    def snapshot(self) -> bytes:
        # Pickled here, so later mutation of the live state cannot leak into the snapshot.
        return pickle.dumps(self.engine.snapshot(), protocol=pickle.HIGHEST_PROTOCOL)


def window_operator(
    step_id: str,
    up: Stream,
    make_engine: Callable[[], Any],
    now: Callable[[], datetime] = utc_now,
) -> Stream:
    """Run a fresh (or restored) engine from ``make_engine`` over ``up``'s chunks.

    Args:
        step_id: Bytewax step id, e.g. ``"03_tumblingWindow"``.
        up: stream of chunks (lists of documents) and DeadLetters.
        make_engine: builds the engine; called once per execution, then restored if resuming.
        now: the wall clock, replaceable in tests.

    Returns:
        A stream of output chunks and DeadLetters chunks.
    """

    def build(resume: bytes | None) -> _EngineLogic:
        engine = make_engine()
        if resume is not None:
            engine.restore(pickle.loads(resume), now())
        return _EngineLogic(engine, now)

    keyed = op.key_on(f"{step_id}_key", up, lambda _chunk: WINDOW_KEY)
    return op.key_rm(f"{step_id}_unkey", op.stateful_batch(f"{step_id}_state", keyed, build))
