"""Window state machines, free of Bytewax: chunks in, closed windows and dead letters out.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/windows/

A window ``[start, end)`` closes once the *close frontier* reaches its end: the watermark
minus ``allowedLateness`` in event time (a session needs the frontier strictly past its end),
the wall clock in processing time, and ``watermark + idle time`` once the source has been
quiet for ``idleTimeout``. A document whose every window has closed is late and goes to the
DLQ; a closed window never reopens, so each window is emitted exactly once.
"""

from __future__ import annotations

import heapq
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from connectors.dead_letters import DeadLetters, dead_letter
from translator._bson_types import bson_type_name
from translator._types import MISSING, NO_VARS, Compiled
from translator.errors import ExpressionError
from translator.expressions import compile_expression
from translator.windows.accumulators import hashable
from translator.windows.inner import InnerPipeline, StagesCompiler, compile_inner_pipeline
from translator.windows.spec import WindowSpec, parse_window
from translator.windows.watermark import STREAM_META, Watermark, late_letter, source_partition

_NEVER = datetime.max.replace(tzinfo=timezone.utc)  # later than any event time


class _Engine:
    """What every window kind shares: time, watermark, frontier, idleness, recovery."""

    def __init__(self, spec: WindowSpec, inner: InnerPipeline, time_field: str = "_ts",
                 partition_idle_timeout: timedelta | None = None) -> None:  # fmt: skip
        self.spec = spec
        self.inner = inner
        self.time_field = time_field
        self.lateness = spec.allowed_lateness
        self.watermark = Watermark(partition_idle_timeout)
        self.frontier: datetime | None = None  # windows ending at or before it have closed
        self.last_arrival: datetime | None = None

    # -- driving -------------------------------------------------------------------------
    def process(self, chunk: list, now: datetime) -> list:
        """One chunk in; output chunks and DeadLetters out (either may be absent)."""
        dead = DeadLetters()
        docs = self.inner.admit(chunk, dead)
        if docs:
            self.last_arrival = now
            if self.spec.processing_time:
                self._assign_at(docs, now, dead)
                self._move_frontier(now)
            else:
                self._assign(docs, self.watermark.observe(source_partition(docs[0]), now), dead)
        return self._emit(self._close(), dead)

    def on_time(self, now: datetime) -> list:
        """Processing time passed: processing-time windows end, idle sources release theirs."""
        if self.spec.processing_time:
            self._move_frontier(now)
        else:
            wm = self.watermark.tick(now)
            if wm is not None:
                self._move_frontier(wm - self.lateness)
            idle = self.spec.idle_timeout
            if idle is not None and self.last_arrival is not None and wm is not None:
                quiet = now - self.last_arrival
                if quiet >= idle:
                    self._move_frontier(wm + quiet)
        return self._emit(self._close(), DeadLetters())

    def close_all(self) -> list:
        """The finite source ended: every open window closes and emits."""
        return self._emit(self._close(everything=True), DeadLetters())

    def next_wake(self) -> datetime | None:
        """When ``on_time`` could next close something, or None."""
        first_end = self._first_end()
        if first_end is None:
            return None
        if self.spec.processing_time:
            return first_end
        times = []
        idle = self.spec.idle_timeout
        wm = self.watermark.value
        if idle is not None and self.last_arrival is not None and wm is not None:
            times.append(self.last_arrival + max(idle, first_end - wm))
        partition_idle = self.watermark.next_idle_time()
        if partition_idle is not None:
            times.append(partition_idle)
        return min(times, default=None)

    # -- recovery ------------------------------------------------------------------------
    def snapshot(self) -> tuple:
        return (self.watermark.snapshot(), self.frontier, self._state())

    def restore(self, snapshot: tuple, now: datetime) -> None:
        watermark, self.frontier, state = snapshot
        self.watermark.restore(watermark, now)
        self.last_arrival = now
        self._restore_state(state)

    # -- shared helpers --------------------------------------------------------------------
    def _move_frontier(self, to: datetime) -> None:
        if self.frontier is None or to > self.frontier:
            self.frontier = to

    def _emit(self, closed: list, dead: DeadLetters) -> list:
        items: list = []
        docs: list = []
        for state, window in closed:
            docs.extend(self.inner.close(state, window, dead))
        if docs:
            items.append(docs)
        if dead:
            items.append(dead)
        return items

    def _bad_time(self, doc: dict, ts: Any, dead: DeadLetters) -> None:
        reason = f"event time field {self.time_field!r} must be a date; got {bson_type_name(ts)}"
        dead.append(dead_letter(doc, reason))

    # Each window kind provides these.
    def _assign(self, docs: list, partition: list, dead: DeadLetters) -> None: ...
    def _assign_at(self, docs: list, now: datetime, dead: DeadLetters) -> None: ...
    def _close(self, everything: bool = False) -> list: ...
    def _first_end(self) -> datetime | None: ...
    def _state(self) -> Any: ...
    def _restore_state(self, state: Any) -> None: ...


class FixedWindows(_Engine):
    """Tumbling (hop = interval) and hopping windows aligned to ``origin``.

    Documents are bucketed per window during the per-document pass, then each bucket is folded
    in one call; a document's windows are reused for every document in the same span.
    """

    def __init__(self, spec: WindowSpec, inner: InnerPipeline, **options: Any) -> None:
        super().__init__(spec, inner, **options)
        self.size: timedelta = spec.size
        self.hop: timedelta = spec.hop
        self.origin = spec.origin
        self.windows: dict[datetime, dict] = {}  # start -> window state (groups)

    def windows_of(self, ts: datetime) -> tuple[datetime, datetime, list]:
        """The windows holding ``ts`` (their starts) and the span ``[lo, hi)`` sharing them."""
        size, hop, origin = self.size, self.hop, self.origin
        latest_start = origin + ((ts - origin) // hop) * hop
        latest_end = origin + ((ts - size - origin) // hop) * hop + size  # last end <= ts
        starts = []
        start = latest_start
        while start + size > ts:
            starts.append(start)
            start -= hop
        starts.reverse()
        return max(latest_start, latest_end), min(latest_start + hop, latest_end + hop), starts

    def _assign(self, docs: list, partition: list, dead: DeadLetters) -> None:
        watermark, lateness, size, windows = self.watermark, self.lateness, self.size, self.windows
        time_field = self.time_field
        only_partition = len(watermark.partitions) == 1
        latest = partition[0] or _NEVER
        wm = watermark.value or _NEVER
        buckets: dict[datetime, list] = {}
        lo = hi = None  # the cached span [lo, hi) sharing the same windows
        invalid_at = _NEVER  # the watermark at which a cached open window would close
        targets: list = []
        missed: list = []
        for doc in docs:
            ts = doc.get(time_field)
            if type(ts) is not datetime:
                self._bad_time(doc, ts, dead)
                continue
            if ts > latest:
                latest = partition[0] = ts
                wm = ts if only_partition else (watermark.advance() or _NEVER)
                if wm >= invalid_at:
                    lo = None
            if lo is None or not lo <= ts < hi:
                if wm is not _NEVER:
                    self._move_frontier(wm - lateness)
                frontier = self.frontier
                lo, hi, starts = self.windows_of(ts)
                missed = [s for s in starts if frontier is not None and s + size <= frontier]
                targets = [buckets.setdefault(s, []) for s in starts[len(missed) :]]
                invalid_at = starts[len(missed)] + size + lateness if targets else _NEVER
            if targets:
                for bucket in targets:
                    bucket.append(doc)
            elif missed:
                dead.append(late_letter(doc, ts, watermark.value, lateness, missed))
        if only_partition and wm is not _NEVER:
            watermark.value = wm
        if wm is not _NEVER:
            self._move_frontier(wm - lateness)
        for start, bucket in buckets.items():
            state = windows.get(start)
            if state is None:
                state = windows[start] = {}
            for doc, reason in self.inner.add(state, bucket):
                dead.append(dead_letter(doc, reason))

    def _assign_at(self, docs: list, now: datetime, dead: DeadLetters) -> None:
        for start in self.windows_of(now)[2]:
            state = self.windows.setdefault(start, {})
            for doc, reason in self.inner.add(state, docs):
                dead.append(dead_letter(doc, reason))

    def _close(self, everything: bool = False) -> list:
        frontier, size = self.frontier, self.size
        closing = [s for s in self.windows if everything or (frontier is not None and s + size <= frontier)]
        closing.sort()
        return [(self.windows.pop(s), {"start": s, "end": s + size}) for s in closing]

    def _first_end(self) -> datetime | None:
        return min(self.windows) + self.size if self.windows else None

    def _state(self) -> dict:
        return self.windows

    def _restore_state(self, state: dict) -> None:
        self.windows = state


class SessionWindows(_Engine):
    """Sessions per ``partitionBy`` value: a document within ``gap`` of a session joins it.

    An out-of-order document that bridges two sessions merges them. A session closes once the
    frontier is past ``last event + gap``; its window is ``[first event, last event + gap)``.
    """

    def __init__(self, spec: WindowSpec, inner: InnerPipeline, partition_by: Compiled, **options: Any) -> None:
        super().__init__(spec, inner, **options)
        self.gap: timedelta = spec.gap
        self.partition_by = partition_by
        self.sessions: dict[Any, list] = {}  # hashable partition -> open sessions
        self.heap: list = []  # (end, sequence, session); stale entries are skipped
        self.sequence = 0

    def _partition(self, doc: dict, dead: DeadLetters) -> Any:
        try:
            value = self.partition_by(doc, NO_VARS)
        except ExpressionError as error:
            dead.append(dead_letter(doc, f"$sessionWindow.partitionBy failed: {error}"))
            return MISSING
        return None if value is MISSING else value

    def _assign(self, docs: list, partition: list, dead: DeadLetters) -> None:
        watermark, lateness = self.watermark, self.lateness
        for doc in docs:
            ts = doc.get(self.time_field, MISSING)
            if type(ts) is not datetime:
                self._bad_time(doc, ts, dead)
                continue
            if partition[0] is None or ts > partition[0]:
                partition[0] = ts
                wm = watermark.advance()
                if wm is not None:
                    self._move_frontier(wm - lateness)
            self._join(doc, ts, dead)

    def _assign_at(self, docs: list, now: datetime, dead: DeadLetters) -> None:
        for doc in docs:
            self._join(doc, now, dead)

    def _join(self, doc: dict, ts: datetime, dead: DeadLetters) -> None:
        key = self._partition(doc, dead)
        if key is MISSING:
            return
        gap = self.gap
        sessions = self.sessions.setdefault(hashable(key), [])
        touching = [s for s in sessions if s[0] - gap < ts < s[1] + gap]
        if not touching:
            if self.frontier is not None and self.frontier > ts + gap:
                dead.append(late_letter(doc, ts, self.watermark.value, self.lateness, [ts]))
                return
            touching = [[ts, ts, {}, key]]
            sessions.append(touching[0])
        session = touching[0]
        for other in touching[1:]:  # the document bridges sessions: they become one
            sessions.remove(other)
            session[2] = self.inner.merge(session[2], other[2])
            session[0], session[1] = min(session[0], other[0]), max(session[1], other[1])
            other[2] = None  # marks its heap entries stale
        failed = self.inner.add(session[2], [doc])
        for failed_doc, reason in failed:
            dead.append(dead_letter(failed_doc, reason))
        if failed and not session[2]:
            sessions.remove(session)
            return
        session[0], session[1] = min(session[0], ts), max(session[1], ts)
        self.sequence += 1
        heapq.heappush(self.heap, (session[1] + gap, self.sequence, session))

    def _close(self, everything: bool = False) -> list:
        heap, frontier, gap = self.heap, self.frontier, self.gap
        closed = []
        while heap and (everything or (frontier is not None and frontier > heap[0][0])):
            end, _, session = heapq.heappop(heap)
            if session[2] is None or session[1] + gap != end:
                continue  # merged away, or extended since this entry
            group_key = hashable(session[3])
            self.sessions[group_key].remove(session)
            if not self.sessions[group_key]:
                del self.sessions[group_key]
            state, session[2] = session[2], None
            closed.append((state, {"start": session[0], "end": end, "partition": session[3]}))
        return closed

    def _first_end(self) -> datetime | None:
        while self.heap and (self.heap[0][2][2] is None or self.heap[0][2][1] + self.gap != self.heap[0][0]):
            heapq.heappop(self.heap)
        return self.heap[0][0] if self.heap else None

    def _state(self) -> tuple:
        return (self.sessions, self.heap, self.sequence)

    def _restore_state(self, state: tuple) -> None:
        self.sessions, self.heap, self.sequence = state


def window_engine_factory(
    kind: str, spec: Any, compile_stages: StagesCompiler | None = None, **options: Any
) -> Callable[[], _Engine]:
    """Check and compile a window stage once; the factory builds a fresh engine per execution.

    Args:
        kind: "$tumblingWindow", "$hoppingWindow" or "$sessionWindow".
        spec: the stage's value, as written in the pipeline.
        compile_stages: compiles runs of inner per-document stages (the translator core's).
        options: ``time_field`` (the source's ``tsFieldName``), ``partition_idle_timeout``.
    """
    window = parse_window(kind, spec)
    inner = compile_inner_pipeline(window.pipeline, compile_stages)
    if kind == "$sessionWindow":
        partition_by = compile_expression(window.partition_by, ("partitionBy",))
        return lambda: SessionWindows(window, inner, partition_by, **options)
    return lambda: FixedWindows(window, inner, **options)
