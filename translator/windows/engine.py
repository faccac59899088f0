"""Window state machines, free of Bytewax: chunks in, closed windows and dead letters out.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/windows/

A window ``[start, end)`` closes once the *close frontier* reaches its end: the watermark
minus ``allowedLateness`` in event time (a session needs the frontier strictly past its end),
the wall clock in processing time, and the window's end once both the wall clock and the
last arrival lie ``idleTimeout`` behind (Atlas's idleness timeout). A document whose every window has closed is late and goes to the
DLQ; a closed window never reopens, so each window is emitted exactly once.
"""

from __future__ import annotations

import heapq
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable

from runtime.dead_letters import DeadLetters, dead_letter
from runtime.stream_meta import STREAM_META, chunks
from translator._bson_types import bson_type_name
from translator._types import MISSING, NO_VARS, Compiled
from translator.errors import ExpressionError
from translator.expressions import compile_expression
from translator._bson_order import bson_key
from translator.windows.inner import InnerPipeline, StagesCompiler, compile_inner_pipeline
from translator.windows.spec import WindowSpec
from translator.windows.watermark import Watermark, late_letter

_NEVER = datetime.max.replace(tzinfo=timezone.utc)  # later than any event time
_EARLIEST = datetime.min.replace(tzinfo=timezone.utc)  # before any: no event time seen yet


class WindowShare(tuple):
    """``(window, documents)``: one shard's results of a closed window, for the combine step."""

    __slots__ = ()


class _Engine:
    """What every window kind shares: time, watermark, frontier, idleness, recovery."""

    close_margin = timedelta(0)  # how far past a window's end the frontier must be to close it

    def __init__(self, spec: WindowSpec, inner: InnerPipeline, time_field: str = "_ts",
                 partition_idle_timeout: timedelta | None = None,
                 source_partitions: Callable[[], Iterable] | None = None) -> None:  # fmt: skip
        self.spec = spec
        self.inner = inner
        self.time_field = time_field
        self.lateness = spec.allowed_lateness
        self.watermark = Watermark(partition_idle_timeout, source_partitions)
        self.frontier: datetime | None = None  # windows ending at or before it have closed
        self.last_arrival: datetime | None = None
        self.source: dict | None = None  # the source's type, which Atlas shows on $group results
        self.shares = False  # set when a combine step finishes the windows: emit (window, documents) shares

    # -- driving -------------------------------------------------------------------------
    def process(self, chunk: list, now: datetime, partition: str | None = None,
                highs: list | None = None, high: datetime | None = None) -> list:  # fmt: skip
        """One chunk from source ``partition`` in; output chunks and DeadLetters out (either may be absent).

        A shard gets its share of a chunk (perhaps none) with ``highs``, the whole chunk's
        latest event time up to each of its documents, and ``high``, the chunk's: its
        watermark then moves as if it had seen the whole chunk.
        """
        dead = DeadLetters()
        self.last_arrival = now
        if chunk:
            meta = chunk[0].get(STREAM_META)
            if type(meta) is dict and type(meta.get("source")) is dict:
                self.source = {"type": meta["source"].get("type")}
        if self.spec.processing_time:
            if chunk:
                self._assign_at(chunk, now, dead)
            self._move_frontier(now)
        else:
            entry = self.watermark.observe(partition, now)
            self._assign(chunk, entry, dead, highs)
            if high is not None and (entry[0] is None or high > entry[0]):
                entry[0] = high
                wm = self.watermark.advance()
                if wm is not None:
                    self._move_frontier(wm - self.lateness)
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
            if idle is not None and self.last_arrival is not None and now - self.last_arrival >= idle:
                # Atlas starts the idle clock once the wall clock passes a window's end and the
                # source is quiet; after idleTimeout more, the watermark jumps to that end.
                reach = now - idle
                closable = [end for end in self._open_ends() if end <= reach]
                if closable:
                    self._move_frontier(max(closable) + self.close_margin)
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
            return first_end + self.close_margin
        times = []
        idle = self.spec.idle_timeout
        if idle is not None and self.last_arrival is not None:
            times.append(max(first_end, self.last_arrival) + idle)
        partition_idle = self.watermark.next_idle_time()
        if partition_idle is not None:
            times.append(partition_idle)
        return min(times, default=None)

    # -- recovery ------------------------------------------------------------------------
    def snapshot(self) -> tuple:
        return (self.watermark.snapshot(), self.frontier, self.source, self._state())

    def held(self) -> Any:
        """What the open windows hold, without the watermark's bookkeeping: the stats' state size."""
        return self._state()

    def restore(self, snapshot: tuple, now: datetime) -> None:
        watermark, self.frontier, self.source, state = snapshot
        self.watermark.restore(watermark, now)
        self.last_arrival = now
        self._restore_state(state)

    # -- shared helpers --------------------------------------------------------------------
    def _move_frontier(self, to: datetime) -> None:
        if self.frontier is None or to > self.frontier:
            self.frontier = to

    def _emit(self, closed: list, dead: DeadLetters) -> list:
        if self.shares:
            out: list = [WindowShare((window, self.inner.close(state, window, self.source, dead))) for state, window in closed]
            if dead:
                out.append(dead)
            return out
        docs: list = []
        for state, window in closed:
            docs.extend(self.inner.close(state, window, self.source, dead))
        return chunks(docs, dead)

    def _bad_time(self, doc: dict, ts: Any, dead: DeadLetters) -> None:
        reason = f"event time field {self.time_field!r} must be a date; got {bson_type_name(ts)}"
        dead.append(dead_letter(doc, reason))

    # Each window kind provides these.
    def _assign(self, docs: list, partition: list, dead: DeadLetters, highs: list | None) -> None: ...
    def _assign_at(self, docs: list, now: datetime, dead: DeadLetters) -> None: ...
    def _close(self, everything: bool = False) -> list: ...
    def _first_end(self) -> datetime | None: ...
    def _open_ends(self) -> list: ...
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

    def _assign(self, docs: list, partition: list, dead: DeadLetters, highs: list | None) -> None:
        watermark, lateness, size, windows = self.watermark, self.lateness, self.size, self.windows
        time_field = self.time_field
        only_partition = len(watermark.partitions) == 1
        latest = partition[0] or _EARLIEST
        wm = watermark.value or _EARLIEST
        buckets: dict[datetime, list] = {}
        lo = hi = None  # the cached span [lo, hi) sharing the same windows
        invalid_at = _NEVER  # the watermark at which a cached open window would close
        targets: list = []
        append_one = None  # targets[0].append when a document belongs to one window (tumbling)
        missed: list = []
        for i, doc in enumerate(docs):
            ts = doc.get(time_field, MISSING)
            if type(ts) is not datetime:
                self._bad_time(doc, ts, dead)
                continue
            high = ts if highs is None else highs[i]
            if high > latest:
                latest = high
                if only_partition:
                    wm = high
                else:
                    partition[0] = high
                    wm = watermark.advance() or _EARLIEST
                if wm >= invalid_at:
                    lo = None
            if lo is None or not lo <= ts < hi:
                if wm is not _EARLIEST:
                    self._move_frontier(wm - lateness)
                frontier = self.frontier
                lo, hi, starts = self.windows_of(ts)
                missed = [s for s in starts if frontier is not None and s + size <= frontier]
                targets = [buckets.setdefault(s, []) for s in starts[len(missed) :]]
                append_one = targets[0].append if len(targets) == 1 else None
                invalid_at = starts[len(missed)] + size + lateness if targets else _NEVER
            if append_one is not None:
                append_one(doc)
            elif targets:
                for bucket in targets:
                    bucket.append(doc)
            elif missed:
                dead.append(late_letter(doc, ts, watermark.value, lateness, missed))
        if latest is not _EARLIEST:
            partition[0] = latest
        if only_partition and wm is not _EARLIEST:
            watermark.value = wm
        if wm is not _EARLIEST:
            self._move_frontier(wm - lateness)
        for start, bucket in buckets.items():
            state = windows.get(start)
            if state is None:
                state = windows[start] = {}
            self.inner.add(state, bucket, {"start": start, "end": start + size}, dead)

    def _assign_at(self, docs: list, now: datetime, dead: DeadLetters) -> None:
        for start in self.windows_of(now)[2]:
            self.inner.add(self.windows.setdefault(start, {}), docs, {"start": start, "end": start + self.size}, dead)

    def _close(self, everything: bool = False) -> list:
        frontier, size = self.frontier, self.size
        closing = [s for s in self.windows if everything or (frontier is not None and s + size <= frontier)]
        closing.sort()
        return [(self.windows.pop(s), {"start": s, "end": s + size}) for s in closing]

    def _first_end(self) -> datetime | None:
        return min(self.windows) + self.size if self.windows else None

    def _open_ends(self) -> list:
        return [start + self.size for start in self.windows]

    def _state(self) -> dict:
        return self.windows

    def _restore_state(self, state: dict) -> None:
        self.windows = state


class SessionWindows(_Engine):
    """Sessions per ``partitionBy`` value: a document within ``gap`` of a session joins it.

    An out-of-order document that bridges two sessions merges them. A session closes once the
    frontier is past ``last event + gap``; its window is ``[first event, last event + gap)``.
    """

    close_margin = timedelta(microseconds=1)  # strictly past: Atlas closes when watermark > end

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

    def _assign(self, docs: list, partition: list, dead: DeadLetters, highs: list | None) -> None:
        watermark, lateness = self.watermark, self.lateness
        for i, doc in enumerate(docs):
            ts = doc.get(self.time_field, MISSING)
            if type(ts) is not datetime:
                self._bad_time(doc, ts, dead)
                continue
            high = ts if highs is None else highs[i]
            if partition[0] is None or high > partition[0]:
                partition[0] = high
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
        gap, frontier = self.gap, self.frontier
        group_key = bson_key(key)
        sessions = self.sessions.get(group_key, ())
        # Sessions the frontier has passed are closed, even before _close takes them out.
        touching = [s for s in sessions if s[0] - gap < ts < s[1] + gap and (frontier is None or frontier <= s[1] + gap)]
        if not touching:
            if frontier is not None and ts < frontier:  # late, and no open session takes it
                dead.append(late_letter(doc, ts, self.watermark.value, self.lateness, [ts]))
                return
            touching = [[ts, ts, {}, key]]
            sessions = self.sessions.setdefault(group_key, [])
            sessions.append(touching[0])
            last = None  # a new session: it has no heap entry yet
        else:
            last = touching[0][1]
        session = touching[0]
        for other in touching[1:]:  # the document bridges sessions: they become one
            sessions.remove(other)
            session[2] = self.inner.merge(session[2], other[2])
            session[0], session[1] = min(session[0], other[0]), max(session[1], other[1])
            other[2] = None  # marks its heap entries stale
        session[0], session[1] = min(session[0], ts), max(session[1], ts)
        window = {"start": session[0], "end": session[1] + gap, "partition": key}
        self.inner.add(session[2], [doc], window, dead)
        if session[1] != last:  # one entry per end the session has held
            self.sequence += 1
            heapq.heappush(self.heap, (session[1] + gap, self.sequence, session))

    def _close(self, everything: bool = False) -> list:
        heap, frontier, gap = self.heap, self.frontier, self.gap
        closed = []
        while heap and (everything or (frontier is not None and frontier > heap[0][0])):
            end, _, session = heapq.heappop(heap)
            if session[2] is None or session[1] + gap != end:
                continue  # merged away, or extended since this entry
            group_key = bson_key(session[3])
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

    def _open_ends(self) -> list:
        return [session[1] + self.gap for sessions in self.sessions.values() for session in sessions]

    def _state(self) -> tuple:
        return (self.sessions, self.heap, self.sequence)

    def _restore_state(self, state: tuple) -> None:
        self.sessions, self.heap, self.sequence = state


def window_engines(window: WindowSpec, inner: InnerPipeline, partition_by: Compiled | None = None, **options: Any) -> Callable[[], _Engine]:
    """Fresh engines for one compiled window stage, one per shard and execution.

    Args:
        window: the stage's fields, from :func:`parse_window`.
        inner: its inner pipeline, compiled and fused.
        partition_by: sessions' ``partitionBy``, compiled.
        options: ``time_field`` (the source's ``tsFieldName``), ``partition_idle_timeout``,
            ``source_partitions`` (lists the source's partition ids).
    """
    if window.kind == "$sessionWindow":
        return lambda: SessionWindows(window, inner, partition_by, **options)
    return lambda: FixedWindows(window, inner, **options)


def window_engine_factory(window: WindowSpec, compile_stages: StagesCompiler | None = None, **options: Any) -> Callable[[], _Engine]:
    """Compile a checked window stage once (its inner stages through ``compile_stages``), for
    engines driven without a plan: tests and benches."""
    inner = compile_inner_pipeline(window.pipeline, compile_stages)
    partition_by = compile_expression(window.partition_by, ("partitionBy",)) if window.kind == "$sessionWindow" else None
    return window_engines(window, inner, partition_by, **options)
