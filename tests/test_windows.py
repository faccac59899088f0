"""Windows and event time, as Atlas Stream Processing defines them, plus ``$setWindowFields``.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/windows/
Event times are explicit seconds after T0; comments mark the documents that close windows.
"""

from __future__ import annotations

import math
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import bytewax.operators as op
import pytest
from bson import Decimal128, Int64
from bytewax.dataflow import Dataflow
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from bytewax.testing import TestingSink, TestingSource, run_main

from runtime import ejson
from runtime.dead_letters import DeadLetters
from pipeline_runner import run_pipeline, with_documents
from translator import plan
from translator.errors import PipelineValidationError, SpecError
from translator.parse import Stage, parse_pipeline
from translator.plan import PlanContext, SourceTime
from translator.stages._fields import check_stage_fields
from translator.validate import plan_stage
from translator.windows.engine import window_engine_factory
from translator.windows.operator import window_operator
from translator.windows.plan import inner_stages_compiler, plan_window
from translator.windows.set_window_fields import set_window_fields_factory
from translator.windows.spec import parse_window

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
NOW = datetime(2030, 1, 1, tzinfo=timezone.utc)  # processing time, for engines driven by hand
SUM_BY_KEY = [{"$group": {"_id": "$k", "total": {"$sum": "$v"}}}]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def doc(seconds: float, k: str = "a", v: int = 1, partition: int | None = None, **fields) -> dict:
    out = {"_ts": at(seconds), "k": k, "v": v, **fields}
    if partition is not None:
        out["_stream_meta"] = {"source": {"type": "kafka", "topic": "t", "partition": partition}}
    return out


def interval(seconds: float) -> dict:
    return {"size": seconds, "unit": "second"}


class TaggedPartitions:
    """The partitions of the documents ``doc(..., partition=N)`` makes (runtime.source_partitions)."""

    def partition_ids(self) -> list[str]:
        return []  # known only as they speak

    def partition_of(self, doc: dict) -> str | None:
        meta = doc.get("_stream_meta")
        return str(meta["source"]["partition"]) if meta else None


def run_flow(make_engine, chunks: list, partitions=None) -> tuple[list, list]:
    """In-process Bytewax: chunks → window operator → (documents, dead letters)."""
    flow = Dataflow("windows_test")
    out: list = []
    window = window_operator("w", op.input("in", flow, TestingSource(chunks)), make_engine, partitions=partitions)
    op.output("out", window, TestingSink(out))
    run_main(flow)
    docs = [d for item in out if not isinstance(item, DeadLetters) for d in item]
    dead = [d for item in out if isinstance(item, DeadLetters) for d in item]
    return docs, dead


def engine_factory(kind: str, spec: dict, **options):
    """A window engine factory for a stage as written, its inner stages compiled by the core."""
    return window_engine_factory(parse_window(kind, spec), inner_stages_compiler(PlanContext(plan_stage=plan_stage)), **options)


def windowed(kind: str, spec: dict, chunks: list) -> tuple[list, list]:
    return run_flow(engine_factory(kind, spec), chunks)


def summary(docs: list) -> list[tuple]:
    """(window start s, end s, _id, total) per output document, in emission order."""
    out = []
    for d in docs:
        window = d["_stream_meta"]["window"]
        start, end = ((window[b] - T0).total_seconds() for b in ("start", "end"))
        out.append((start, end, d["_id"], d.get("total")))
    return out


def missed(dead: list) -> list[list[float]]:
    return [[(t - T0).total_seconds() for t in record["missedWindowStartTimes"]] for record in dead]


# -- tumbling and hopping ------------------------------------------------------------------

WINDOW_CASES = [
    (
        "tumbling sums per key, one result per window and key",
        "$tumblingWindow", {"interval": interval(10), "pipeline": SUM_BY_KEY},
        [[doc(1, "a", 1), doc(2, "b", 2), doc(9, "a", 3)], [doc(14, "a", 4)]],  # 14: wm-3 = 11 >= 10 closes [0,10)
        [(0, 10, "a", 4), (0, 10, "b", 2), (10, 20, "a", 4)],
        [],
    ),
    (
        "a late document within allowedLateness still counts",
        "$tumblingWindow", {"interval": interval(10), "pipeline": SUM_BY_KEY},
        [[doc(1), doc(12.999), doc(9.999, v=10)], [doc(13), doc(9.5, v=100)]],  # 13 closes [0,10): 9.5 is late
        [(0, 10, "a", 11), (10, 20, "a", 2)],
        [[0]],
    ),
    (
        "allowedLateness 0 closes at the window end",
        "$tumblingWindow", {"interval": interval(10), "allowedLateness": 0, "pipeline": SUM_BY_KEY},
        [[doc(1), doc(10), doc(9)]],
        [(0, 10, "a", 1), (10, 20, "a", 1)],
        [[0]],
    ),
    (
        "offset shifts the boundaries",
        "$tumblingWindow",
        {"interval": interval(10), "offset": {"offsetFromUtc": 3, "unit": "second"}, "pipeline": SUM_BY_KEY},
        [[doc(2), doc(3), doc(12.9), doc(13)]],
        [(-7, 3, "a", 1), (3, 13, "a", 2), (13, 23, "a", 1)],
        [],
    ),
    (
        "hopping windows count a document in every window holding it",
        "$hoppingWindow", {"interval": interval(10), "hopSize": interval(5), "pipeline": SUM_BY_KEY},
        [[doc(1), doc(7), doc(12)]],
        [(-5, 5, "a", 1), (0, 10, "a", 2), (5, 15, "a", 2), (10, 20, "a", 1)],
        [],
    ),
    (
        "a hop longer than the interval drops documents in the gaps, without a dead letter",
        "$hoppingWindow", {"interval": interval(5), "hopSize": interval(10), "pipeline": SUM_BY_KEY},
        [[doc(1), doc(7), doc(12)]],
        [(0, 5, "a", 1), (10, 15, "a", 1)],
        [],
    ),
    (
        "a late document in hopping windows names every window it missed",
        "$hoppingWindow", {"interval": interval(10), "hopSize": interval(5), "allowedLateness": 0, "pipeline": SUM_BY_KEY},
        [[doc(1), doc(16), doc(4)]],  # 16 closes [-5,5) and [0,10); 4 lies in both
        [(-5, 5, "a", 1), (0, 10, "a", 1), (10, 20, "a", 1), (15, 25, "a", 1)],
        [[-5, 0]],
    ),
]


@pytest.mark.parametrize(("name", "kind", "spec", "chunks", "expected", "late"), WINDOW_CASES, ids=[c[0] for c in WINDOW_CASES])
def test_time_windows(name, kind, spec, chunks, expected, late):
    docs, dead = windowed(kind, spec, chunks)
    assert summary(docs) == expected
    assert missed(dead) == late
    assert all(r["errInfo"]["reason"].startswith("late document") for r in dead)


def test_each_window_once_when_late_documents_follow_the_close():
    # Bytewax's own windows re-open a closed window for a late item; ours send it to the DLQ.
    chunks = [[doc(s) for s in range(0, 30)], [doc(1), doc(2)], [doc(3)]]
    docs, dead = windowed("$tumblingWindow", {"interval": interval(10), "pipeline": SUM_BY_KEY}, chunks)
    assert summary(docs) == [(0, 10, "a", 10), (10, 20, "a", 10), (20, 30, "a", 10)]
    assert missed(dead) == [[0], [0], [0]]


def test_missing_event_time_goes_to_the_dlq():
    docs, dead = windowed("$tumblingWindow", {"interval": interval(10), "pipeline": SUM_BY_KEY}, [[doc(1), {"k": "a"}]])
    assert summary(docs) == [(0, 10, "a", 1)]
    assert dead[0]["errInfo"]["reason"] == "event time field '_ts' must be a date; got missing"


# -- watermark across source partitions ----------------------------------------------------


def test_the_slowest_partition_holds_the_watermark():
    spec = {"interval": interval(10), "allowedLateness": 0, "pipeline": SUM_BY_KEY}
    chunks = [
        [doc(1, partition=0)],
        [doc(2, partition=1)],
        [doc(30, partition=0)],  # partition 1 is still at 2: nothing closes
        [doc(5, partition=0, v=10)],  # not late: the watermark is 2
        [doc(25, partition=1)],  # watermark 25: [0,10) and [10,20) close
        [doc(6, partition=1)],  # late now
    ]
    docs, dead = run_flow(engine_factory("$tumblingWindow", spec), chunks, TaggedPartitions())
    assert summary(docs) == [(0, 10, "a", 12), (20, 30, "a", 1), (30, 40, "a", 1)]
    assert missed(dead) == [[0]]


def test_partition_idle_timeout_releases_a_silent_partition():
    make = engine_factory(
        "$tumblingWindow", {"interval": interval(10), "allowedLateness": 0, "pipeline": SUM_BY_KEY},
        partition_idle_timeout=timedelta(seconds=5),
    )  # fmt: skip
    engine = make()
    engine.process([doc(1, partition=1)], NOW, "1")
    engine.process([doc(15, partition=0)], NOW + timedelta(seconds=1), "0")
    assert engine.on_time(NOW + timedelta(seconds=4)) == []  # partition 1 silent for 4 s: still holds
    assert engine.next_wake() == NOW + timedelta(seconds=5)
    closed = engine.on_time(NOW + timedelta(seconds=5))  # idle now: the watermark jumps to 15
    assert summary(closed[0]) == [(0, 10, "a", 1)]


# -- idleness and processing time ------------------------------------------------------------


IDLE = {"interval": interval(10), "idleTimeout": {"size": 1, "unit": "second"}, "pipeline": SUM_BY_KEY}


def test_idle_timeout_starts_when_the_wall_clock_passes_the_window_end():
    # Live event times: the idle clock starts at max(window end, last arrival), as in Atlas's table.
    engine = engine_factory("$tumblingWindow", IDLE)()
    live = NOW  # 2030-01-01T00:00:00, a window boundary
    engine.process([{**doc(0), "_ts": live + timedelta(seconds=1)}], live + timedelta(seconds=1))
    engine.process([{**doc(0), "_ts": live + timedelta(seconds=5)}], live + timedelta(seconds=5))
    assert engine.next_wake() == live + timedelta(seconds=11)  # end 10 s, then 1 s of quiet
    assert engine.on_time(live + timedelta(seconds=10.5)) == []
    (closed,) = engine.on_time(live + timedelta(seconds=11))
    assert [(d["total"], d["_stream_meta"]["window"]["end"]) for d in closed] == [(2, live + timedelta(seconds=10))]
    late = engine.process([{**doc(0), "_ts": live + timedelta(seconds=8)}], live + timedelta(seconds=12))
    assert [r["missedWindowStartTimes"] for r in late[0]] == [[live]]


def test_idle_timeout_on_replayed_event_times_waits_only_for_quiet():
    engine = engine_factory("$tumblingWindow", IDLE)()
    assert engine.process([doc(1), doc(5)], NOW) == []  # 2024 event times, processed in 2030
    assert engine.next_wake() == NOW + timedelta(seconds=1)
    assert engine.on_time(NOW + timedelta(seconds=0.9)) == []
    (closed,) = engine.on_time(NOW + timedelta(seconds=1))
    assert summary(closed) == [(0, 10, "a", 2)]
    assert engine.process([doc(12)], NOW + timedelta(seconds=2)) == []  # the next window still opens


class _TimedPartition(StatelessSinkPartition):
    def __init__(self, out: list) -> None:
        self.out = out

    def write_batch(self, items: list) -> None:
        self.out.extend((time.monotonic(), item) for item in items)


class TimedSink(DynamicSink):
    """Keeps each item with the moment it arrived."""

    def __init__(self, out: list) -> None:
        self.out = out

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _TimedPartition:
        return _TimedPartition(self.out)


def test_idle_timeout_fires_inside_a_running_flow():
    # The source pauses 1.5 s after its first document: with replayed event times the window
    # [0,10) closes after idleTimeout (0.2 s) of quiet, long before the source ends.
    spec = {"interval": interval(10), "idleTimeout": {"size": 200, "unit": "ms"}, "pipeline": SUM_BY_KEY}
    flow = Dataflow("idle_flow")
    source = TestingSource([[doc(9.5)], TestingSource.PAUSE(timedelta(seconds=1.5)), [doc(20)]])
    out: list = []
    window = window_operator("w", op.input("in", flow, source), engine_factory("$tumblingWindow", spec))
    op.output("out", window, TimedSink(out))
    began = time.monotonic()
    run_main(flow)
    (first_at, first), (last_at, last) = out
    assert summary(first) == [(0, 10, "a", 1)] and summary(last) == [(20, 30, "a", 1)]
    assert first_at - began < 1.2 and last_at - began >= 1.5


def test_processing_time_windows_follow_the_wall_clock():
    make = engine_factory(
        "$tumblingWindow", {"interval": interval(10), "boundary": "processingTime", "pipeline": SUM_BY_KEY}
    )
    engine = make()
    start = datetime(2030, 1, 1, 0, 0, 0, tzinfo=timezone.utc)
    engine.process([doc(500), doc(-500)], start + timedelta(seconds=2))  # event times do not matter
    engine.process([doc(1)], start + timedelta(seconds=9))
    assert engine.next_wake() == start + timedelta(seconds=10)
    assert engine.on_time(start + timedelta(seconds=9.5)) == []
    closed = engine.on_time(start + timedelta(seconds=10))
    assert [(d["_id"], d["total"], d["_stream_meta"]["window"]["start"]) for d in closed[0]] == [("a", 3, start)]


# -- session windows ---------------------------------------------------------------------------

SESSION = {"partitionBy": "$k", "gap": interval(5), "pipeline": SUM_BY_KEY}


def sessions(docs: list) -> list[tuple]:
    return [(*s[:2], s[2], s[3], d["_stream_meta"]["window"]["partition"]) for s, d in zip(summary(docs), docs)]


def test_sessions_per_partition_close_after_gap_and_lateness():
    chunks = [
        [doc(0, "a"), doc(2, "a"), doc(1, "b")],
        [doc(10, "a")],  # wm - 3 = 7: past b's end 6, not past a's end 7
        [doc(10.5, "b")],  # wm - 3 = 7.5 > 7: a's first session closes
        [doc(30, "a")],
    ]
    docs, dead = windowed("$sessionWindow", SESSION, chunks)
    assert sessions(docs) == [
        (1, 6, "b", 1, "b"), (0, 7, "a", 2, "a"),
        (10, 15, "a", 1, "a"), (10.5, 15.5, "b", 1, "b"),
        (30, 35, "a", 1, "a"),
    ]  # fmt: skip
    assert dead == []


def test_an_out_of_order_document_merges_two_sessions():
    chunks = [[doc(0, v=1), doc(8, v=2)], [doc(4, v=4)], [doc(30)]]  # 4 is within 5 s of both
    docs, _ = windowed("$sessionWindow", SESSION, chunks)
    assert sessions(docs) == [(0, 13, "a", 7, "a"), (30, 35, "a", 1, "a")]


def test_processing_time_sessions_close_a_gap_after_the_last_arrival():
    spec = {"partitionBy": "$k", "gap": interval(5), "boundary": "processingTime", "pipeline": SUM_BY_KEY}
    engine = engine_factory("$sessionWindow", spec)()
    engine.process([doc(0, "a"), doc(0, "b")], NOW)
    engine.process([doc(0, "a")], NOW + timedelta(seconds=4))
    assert engine.next_wake() == NOW + timedelta(seconds=5, microseconds=1)  # strictly past the end
    (closed,) = engine.on_time(engine.next_wake())
    assert [(d["_id"], d["total"]) for d in closed] == [("b", 1)]
    (closed,) = engine.on_time(NOW + timedelta(seconds=9.1))
    assert [(d["_id"], d["total"], d["_stream_meta"]["window"]["end"]) for d in closed] == [("a", 2, NOW + timedelta(seconds=9))]


def test_a_late_document_without_an_open_session_goes_to_the_dlq():
    docs, dead = windowed("$sessionWindow", SESSION, [[doc(0), doc(20), doc(5)]])  # 20 closed [0, 5)
    assert sessions(docs) == [(0, 5, "a", 1, "a"), (20, 25, "a", 1, "a")]
    assert missed(dead) == [[5]]


# -- accumulators -------------------------------------------------------------------------------

VALUES = [3, 1, None, 4, "x", 1.5, 9]
ACCUMULATOR_CASES = [
    ({"$sum": "$v"}, 18.5),
    ({"$sum": 1}, 7),
    ({"$count": {}}, 7),
    ({"$avg": "$v"}, 18.5 / 5),
    ({"$min": "$v"}, 1),
    ({"$max": "$v"}, "x"),  # strings sort after numbers in BSON order
    ({"$first": "$v"}, 3),
    ({"$last": "$v"}, 9),
    ({"$first": "$missing"}, None),
    ({"$push": "$v"}, VALUES),
    ({"$addToSet": {"$cond": [{"$isNumber": "$v"}, {"$gt": ["$v", 2]}, "other"]}}, [True, False, "other"]),
    ({"$mergeObjects": {"v": "$v"}}, {"v": 9}),
    ({"$top": {"sortBy": {"v": -1}, "output": "$i"}}, 4),  # "x" is the greatest value
    ({"$bottom": {"sortBy": {"v": -1}, "output": "$i"}}, 2),  # null sorts lowest
    ({"$topN": {"n": 2, "sortBy": {"v": 1}, "output": "$v"}}, [None, 1]),
    ({"$bottomN": {"n": 2, "sortBy": {"v": 1}, "output": "$v"}}, [9, "x"]),
    ({"$firstN": {"n": 3, "input": "$v"}}, [3, 1, None]),
    ({"$lastN": {"n": 2, "input": "$v"}}, [1.5, 9]),
    ({"$maxN": {"n": 3, "input": "$v"}}, ["x", 9, 4]),
    ({"$minN": {"n": 3, "input": "$v"}}, [1, 1.5, 3]),
    ({"$median": {"input": "$v", "method": "approximate"}}, 3.0),
    ({"$percentile": {"input": "$v", "p": [0, 0.9, 1], "method": "approximate"}}, [1.0, 9.0, 9.0]),
    ({"$percentile": {"input": "$v", "p": [0.5], "method": "continuous"}}, [3.0]),
    ({"$stdDevPop": "$v"}, math.sqrt(sum((x - 3.7) ** 2 for x in (3, 1, 4, 1.5, 9)) / 5)),
    ({"$stdDevSamp": "$v"}, math.sqrt(sum((x - 3.7) ** 2 for x in (3, 1, 4, 1.5, 9)) / 4)),
    ({"$stdDevSamp": "$missing"}, None),
    ({"$avg": "$missing"}, None),
    ({"$max": "$missing"}, None),
]


def _group_result(accumulator: dict, values: list) -> object:
    pipeline = [{"$group": {"_id": None, "out": accumulator}}]
    make = engine_factory("$tumblingWindow", {"interval": interval(10), "pipeline": pipeline})
    engine = make()
    chunk = [doc(1, v=v, i=i) for i, v in enumerate(values)]
    (out,) = engine.process(chunk, NOW) + engine.close_all()
    return out[0]["out"]


@pytest.mark.parametrize(("accumulator", "expected"), ACCUMULATOR_CASES, ids=[next(iter(a)) for a, _ in ACCUMULATOR_CASES])
def test_accumulators(accumulator, expected):
    assert_close(_group_result(accumulator, VALUES), expected)


@pytest.mark.parametrize("accumulator", [a for a, _ in ACCUMULATOR_CASES], ids=[next(iter(a)) for a, _ in ACCUMULATOR_CASES])
def test_accumulators_merge_as_sessions_join(accumulator):
    # Two sessions built from the halves, then bridged by a late null: merge() must give
    # what one pass over the same documents in the same order gives.
    pipeline = [{"$group": {"_id": None, "out": accumulator}}]
    make = engine_factory("$sessionWindow", {"partitionBy": "x", "gap": interval(2), "pipeline": pipeline})
    engine = make()
    first = [doc(0, v=v, i=i) for i, v in enumerate(VALUES[:3])]
    second = [doc(3.5, v=v, i=i + 3) for i, v in enumerate(VALUES[3:])]
    bridge = doc(1.75, v=None, i=len(VALUES))  # within 2 s of both sessions
    (out,) = engine.process(first + second + [bridge], NOW) + engine.close_all()
    assert len(out) == 1
    assert_close(out[0]["out"], _group_result(accumulator, [*VALUES, None]))


def assert_close(found: object, expected: object) -> None:
    """Equal, with floats compared approximately, inside lists too."""
    if type(expected) is list and type(found) is list and len(found) == len(expected):
        for a, b in zip(found, expected):
            assert_close(a, b)
    elif type(expected) is float:
        assert found == pytest.approx(expected)
    else:
        assert found == expected


NUMBER_CASES = [
    ({"$sum": "$v"}, [1, 2, True, "3"], 3, int),  # booleans and strings are not numbers
    ({"$sum": "$v"}, [2**31 - 1, 1], Int64(2**31), Int64),  # past 32 bits: a long
    ({"$sum": "$v"}, [1, 2.5], 3.5, float),
    ({"$sum": "$v"}, [0.1] * 10, 1.0, float),  # rounded once, as mongod's double-double sum
    ({"$avg": "$v"}, [0.1] * 10, 0.1, float),
    ({"$sum": "$v"}, [1, Decimal128("0.1"), 2], Decimal128("3.1"), Decimal128),
    ({"$avg": "$v"}, [Decimal128("1"), 2], Decimal128("1.5"), Decimal128),
    ({"$sum": "$v"}, [2**62, 2**62], 2.0**63, float),  # past 64 bits, as mongod
]


@pytest.mark.parametrize(("accumulator", "values", "expected", "kind"), NUMBER_CASES)
def test_accumulator_number_types(accumulator, values, expected, kind):
    found = _group_result(accumulator, values)
    assert found == expected and type(found) is kind


def test_code_accumulators_are_refused():
    pipeline = [{"$group": {"_id": None, "x": {"$accumulator": {"init": "function() {}"}}}}]
    with pytest.raises(SpecError, match="sluice never runs code"):
        engine_factory("$tumblingWindow", {"interval": interval(1), "pipeline": pipeline})


def test_group_keys_follow_bson_equality():
    pipeline = [{"$group": {"_id": "$g", "n": {"$count": {}}}}]
    keys = [1, 1.0, True, "1", None, {"a": 1}, {"a": 1.0}, [1, 2], float("nan"), float("nan")]
    docs, _ = windowed("$tumblingWindow", {"interval": interval(10), "pipeline": pipeline}, [[doc(1, g=g) for g in keys]])
    counts = [(d["_id"], d["n"]) for d in docs]
    assert counts[:6] == [(1, 2), (True, 1), ("1", 1), (None, 1), ({"a": 1}, 2), ([1, 2], 1)]
    assert math.isnan(counts[6][0]) and counts[6][1] == 2


# -- the inner pipeline ----------------------------------------------------------------------------


def test_inner_pipeline_stages_and_window_meta():
    pipeline = [
        {"$match": {"v": {"$gte": 0}}},
        {"$group": {"_id": "$k", "total": {"$sum": "$v"}, "tags": {"$push": "$tag"}}},
        {"$addFields": {"start": {"$meta": "stream.window.start"}, "end": {"$meta": "stream.window.end"}}},
        {"$unwind": "$tags"},
        {"$set": {"label": {"$concat": ["$_id", "-", "$tags"]}}},
        {"$project": {"label": 1, "total": 1, "start": 1, "end": 1}},
        {"$unset": "total"},
        {"$sort": {"label": -1}},
        {"$limit": 3},
    ]
    chunk = [doc(1, "a", 1, tag="x"), doc(2, "b", 2, tag="y"), doc(3, "a", 3, tag="z"), doc(4, "a", -1, tag="q")]
    docs, dead = windowed("$tumblingWindow", {"interval": interval(10), "pipeline": pipeline}, [chunk])
    assert [(d["label"], d["start"], d["end"]) for d in docs] == [("b-y", at(0), at(10)), ("a-z", at(0), at(10)), ("a-x", at(0), at(10))]
    assert "total" not in docs[0] and dead == []


def test_count_and_replace_root_after_group():
    counted, _ = windowed(
        "$tumblingWindow",
        {"interval": interval(10), "pipeline": [*SUM_BY_KEY, {"$count": "keys"}]},
        [[doc(1, "a"), doc(2, "b"), doc(3, "a")]],
    )
    assert [(d["keys"], d["_stream_meta"]["window"]["start"]) for d in counted] == [(2, at(0))]
    replaced, _ = windowed(
        "$tumblingWindow",
        {"interval": interval(10), "pipeline": [*SUM_BY_KEY, {"$replaceRoot": {"newRoot": {"key": "$_id", "sum": "$total"}}}]},
        [[doc(1, "a"), doc(2, "b"), doc(3, "a")]],
    )
    assert [{k: v for k, v in d.items() if k != "_stream_meta"} for d in replaced] == [{"key": "a", "sum": 2}, {"key": "b", "sum": 1}]


def test_a_failing_accumulator_sends_only_that_document_to_the_dlq():
    pipeline = [{"$group": {"_id": None, "merged": {"$mergeObjects": "$v"}, "n": {"$count": {}}}}]
    chunk = [doc(1, v={"a": 1}), doc(2, v=5), doc(3, v={"b": 2})]
    docs, dead = windowed("$tumblingWindow", {"interval": interval(10), "pipeline": pipeline}, [chunk])
    assert [(d["merged"], d["n"]) for d in docs] == [({"a": 1, "b": 2}, 2)]
    assert dead[0]["doc"]["v"] == 5 and "$mergeObjects requires object inputs" in dead[0]["errInfo"]["reason"]


SPEC_ERRORS = [
    ("$tumblingWindow", {"interval": {"size": 1, "unit": "week"}, "pipeline": []}, ("interval", "unit")),
    ("$tumblingWindow", {"interval": interval(1), "pipeline": [{"$sort": {"a": 1}}, {"$group": {"_id": 1}}]}, ("pipeline", "0", "$sort")),
    ("$tumblingWindow", {"interval": interval(1), "pipeline": [{"$group": {"_id": 1, "x": {"$nope": 1}}}]}, ("pipeline", "0", "$group", "x", "$nope")),
    ("$hoppingWindow", {"interval": interval(1), "pipeline": []}, ()),
    ("$sessionWindow", {"partitionBy": "$k", "gap": interval(1), "boundary": "processingTime", "allowedLateness": interval(1), "pipeline": []}, ("allowedLateness",)),
]


@pytest.mark.parametrize(("kind", "spec", "path"), SPEC_ERRORS)
def test_spec_errors_point_into_the_stage(kind, spec, path):
    with pytest.raises(SpecError) as caught:  # the one field table, then what the fields mean
        check_stage_fields(kind, spec)
        engine_factory(kind, spec)
    assert caught.value.path == path


# -- $setWindowFields over a stream ----------------------------------------------------------------


def set_window_fields(spec: dict, chunks: list) -> tuple[list, list]:
    return run_flow(set_window_fields_factory(spec), chunks)


def minutes(m: float, customer: str, amount: float, **fields) -> dict:
    return {"orderTime": T0 + timedelta(minutes=m), "customerId": customer, "amount": amount, **fields}


def test_the_seeds_five_minute_range():
    spec = {
        "partitionBy": "$customerId",
        "sortBy": {"orderTime": 1},
        "output": {"totalSpent": {"$sum": "$amount", "window": {"range": [-5, "minute"], "unit": "minute"}}},
    }
    chunks = [[minutes(0, "a", 1), minutes(1, "a", 2), minutes(3, "b", 5)], [minutes(4, "a", 4), minutes(6, "a", 8)], [minutes(12, "a", 1)]]
    docs, _ = set_window_fields(spec, chunks)
    # 6 min: [1, 6] holds 2 + 4 + 8; 12 min: only itself
    assert [(d["customerId"], d["totalSpent"]) for d in docs] == [("a", 1), ("a", 3), ("b", 5), ("a", 7), ("a", 14), ("a", 1)]


SET_WINDOW_FIELDS_CASES = [
    ("documents [-2, current]", {"$sum": "$v", "window": {"documents": [-2, "current"]}}, [1, 3, 7, 14, 28]),
    ("documents [-1, -1] (the previous one)", {"$push": "$v", "window": {"documents": [-1, -1]}}, [[], [1], [2], [4], [8]]),
    ("no window: the whole partition", {"$sum": "$v"}, [31, 31, 31, 31, 31]),
    ("unbounded to current, running $covariancePop", {"$covariancePop": ["$v", "$v"], "window": {"documents": ["unbounded", "current"]}},
     [0, 0.25, 14 / 9, 7.1875, 29.76]),
    ("unbounded to one ahead", {"$push": "$v", "window": {"documents": ["unbounded", 1]}}, [[1, 2], [1, 2, 4], [1, 2, 4, 8], [1, 2, 4, 8, 16], [1, 2, 4, 8, 16]]),
    ("current to unbounded", {"$push": "$v", "window": {"documents": ["current", "unbounded"]}}, [[1, 2, 4, 8, 16], [2, 4, 8, 16], [4, 8, 16], [8, 16], [16]]),
    ("unbounded to current", {"$max": "$v", "window": {"documents": ["unbounded", "current"]}}, [1, 2, 4, 8, 16]),
    ("range in seconds", {"$count": {}, "window": {"range": [-2, "current"], "unit": "second"}}, [1, 2, 3, 4, 4]),
    ("range in sort units", {"$avg": "$v", "window": {"range": [-3000, 0]}}, [1, 1.5, 7 / 3, 3.75, 6.2]),
    ("$documentNumber", {"$documentNumber": {}}, [1, 2, 3, 4, 5]),
    ("$rank with ties", {"$rank": {}}, [1, 2, 2, 4, 5]),
    ("$denseRank with ties", {"$denseRank": {}}, [1, 2, 2, 3, 4]),
    ("$shift back one", {"$shift": {"output": "$v", "by": -1, "default": "none"}}, ["none", 1, 2, 4, 8]),
    ("$locf", {"$locf": "$maybe"}, [None, 7, 7, 9, 9]),
    ("$expMovingAvg alpha", {"$expMovingAvg": {"input": "$v", "alpha": 0.5}}, [1, 1.5, 2.75, 5.375, 10.6875]),
    ("$derivative per second", {"$derivative": {"input": "$v", "unit": "second"}, "window": {"documents": [-1, 0]}}, [None, 1, 2, 4, 8]),
    ("$integral per second", {"$integral": {"input": "$v", "unit": "second"}, "window": {"documents": [-1, 0]}}, [0, 1.5, 3, 6, 12]),
    ("$covariancePop", {"$covariancePop": ["$v", "$v"], "window": {"documents": [-1, 0]}}, [0, 0.25, 1, 4, 16]),
    ("$covarianceSamp", {"$covarianceSamp": ["$v", "$v"], "window": {"documents": [-1, 0]}}, [None, 0.5, 2, 8, 32]),
    # Windows reaching past the current document; at the end they are cut at the last one.
    ("documents [-1, 1] (centred)", {"$sum": "$v", "window": {"documents": [-1, 1]}}, [3, 7, 14, 28, 24]),
    ("documents [1, 2] (the next two)", {"$push": "$v", "window": {"documents": [1, 2]}}, [[2, 4], [4, 8], [8, 16], [16], []]),
    ("range [0, 1] seconds ahead", {"$count": {}, "window": {"range": [0, 1], "unit": "second"}}, [3, 3, 3, 2, 1]),
    ("$shift ahead two", {"$shift": {"output": "$v", "by": 2, "default": "none"}}, [4, 8, 16, "none", "none"]),
    ("$derivative to the next", {"$derivative": {"input": "$v", "unit": "second"}, "window": {"documents": [0, 1]}}, [1, 2, 4, 8, None]),
]
# Sort value "s" (seconds as ms since the epoch via dates): 0, 1, 1, 2, 3 — a tie for ranks.
SECONDS = [0, 1, 1, 2, 3]


@pytest.mark.parametrize(("name", "output", "expected"), SET_WINDOW_FIELDS_CASES, ids=[c[0] for c in SET_WINDOW_FIELDS_CASES])
def test_set_window_fields_operators(name, output, expected):
    spec = {"partitionBy": "$k", "sortBy": {"s": 1}, "output": {"out": output}}
    chunk = [
        {"k": "a", "s": T0 + timedelta(seconds=s), "v": 2**i, "maybe": [None, 7, None, 9, None][i]}
        for i, s in enumerate(SECONDS)
    ]
    if name == "range in sort units":  # numeric sort values in ms
        chunk = [{**d, "s": s * 1000} for d, s in zip(chunk, SECONDS)]
    if name in ("$derivative per second", "$integral per second", "$derivative to the next"):
        chunk = [{**d, "s": T0 + timedelta(seconds=i)} for i, d in enumerate(chunk)]
    docs, dead = set_window_fields(spec, [chunk[:2], chunk[2:]])
    assert dead == []
    assert_close([d["out"] for d in docs], expected)


def test_linear_fill_holds_nulls_until_the_next_value():
    spec = {"sortBy": {"s": 1}, "output": {"filled": {"$linearFill": "$y"}}}
    ys = [None, 0, None, None, 6, None]
    chunk = [{"s": i, "y": y} for i, y in enumerate(ys)]
    docs, _ = set_window_fields(spec, [chunk[:3], chunk[3:]])
    assert [(d["s"], d["filled"]) for d in docs] == [(0, None), (1, 0), (2, 2), (3, 4), (4, 6), (5, None)]


def test_set_window_fields_partitions_are_independent_and_pruned():
    spec = {"partitionBy": "$k", "sortBy": {"s": 1}, "output": {"n": {"$count": {}, "window": {"range": [-10, 0]}}}}
    chunk = [{"k": k, "s": s} for s in range(100) for k in ("a", "b")]
    make = set_window_fields_factory(spec)
    engine = make()
    (out,) = engine.process(chunk, NOW)
    assert [d["n"] for d in out[-4:]] == [11, 11, 11, 11]
    assert all(len(part[0][0]) == 11 for part in engine.partitions.values())  # pruned as it slides


@pytest.mark.parametrize(
    ("window", "held"),
    [({"documents": ["unbounded", 2]}, 2), ({"range": ["unbounded", 2]}, 3)],  # a range waits for a later sort value
)
def test_unbounded_windows_reaching_ahead_keep_only_a_running_state(window, held):
    spec = {"sortBy": {"s": 1}, "output": {"total": {"$sum": "$s", "window": window}}}
    engine = set_window_fields_factory(spec)()
    (out,) = engine.process([{"s": s} for s in range(1000)], NOW)
    assert [d["total"] for d in out[:3]] == [3, 6, 10]
    ((state, waiting),) = [part[0][0] for part in engine.partitions.values()]
    assert state == sum(range(1000)) and len(waiting) == held  # no values kept, only the waiting documents


def test_windows_reaching_ahead_hold_documents_per_partition_across_a_restore():
    spec = {
        "partitionBy": "$k",
        "sortBy": {"s": 1},
        "output": {"next": {"$push": "$v", "window": {"documents": [1, 1]}}, "n": {"$documentNumber": {}}},
    }
    make = set_window_fields_factory(spec)
    engine = make()
    (first,) = engine.process([{"k": "a", "s": 0, "v": 1}, {"k": "b", "s": 0, "v": 10}, {"k": "a", "s": 1, "v": 2}], NOW)
    assert first == [{"k": "a", "s": 0, "v": 1, "next": [2], "n": 1}]  # the others wait for their next
    restored = make()
    restored.restore(pickle.loads(pickle.dumps(engine.snapshot())), NOW)
    (second,) = restored.process([{"k": "b", "s": 1, "v": 20}], NOW)
    assert second == [{"k": "b", "s": 0, "v": 10, "next": [20], "n": 1}]
    (last,) = restored.close_all()
    assert [(d["k"], d["s"], d["next"], d["n"]) for d in last] == [("a", 1, [], 2), ("b", 1, [], 2)]


def test_a_window_ahead_that_fails_sends_the_documents_it_covers_to_the_dlq():
    spec = {"sortBy": {"s": 1}, "output": {"x": {"$mergeObjects": "$v", "window": {"documents": [0, 1]}}}}
    chunk = [{"s": 0, "v": {"a": 1}}, {"s": 1, "v": "x"}, {"s": 2, "v": {"b": 2}}]
    docs, dead = set_window_fields(spec, [chunk])
    assert docs == [{"s": 2, "v": {"b": 2}, "x": {"b": 2}}]
    assert [record["doc"]["s"] for record in dead] == [0, 1]
    assert "$mergeObjects requires object inputs" in dead[0]["errInfo"]["reason"]


SET_WINDOW_FIELDS_ERRORS = [
    ({"output": {"x": {"$sum": 1, "window": {"range": [-1, 1], "unit": "month"}}}}, "requires sortBy"),
    ({"sortBy": {"s": 1}, "output": {"x": {"$sum": 1, "window": {"range": [-1.5, 0], "unit": "month"}}}}, "must be a whole number"),
    ({"output": {"x.$y": {"$sum": 1}}}, "must be a field name or a dotted path"),
    ({"sortBy": {"s": 1}, "output": {"x": {"$linearFill": "$v"}, "y": {"$shift": {"output": "$v", "by": 1}}}}, "cannot share"),
    ({"output": {"x": {"$rank": {}}}}, "requires sortBy"),
    ({"sortBy": {"s": 1}, "output": {"x": {"$shift": {"output": "$v", "by": 1.5}}}}, "must be an integer"),
    ({"output": {"x": {"$sum": 1, "window": {"range": [-1, "fortnight"]}}}}, "expected a number"),
    ({"sortBy": {"t": -1}, "output": {"x": {"$sum": 1, "window": {"range": [-1, 0]}}}}, "ascending"),
]


@pytest.mark.parametrize(("spec", "message"), SET_WINDOW_FIELDS_ERRORS)
def test_set_window_fields_errors(spec, message):
    with pytest.raises(SpecError, match=message):
        set_window_fields_factory(spec)


@pytest.mark.parametrize(
    ("output", "reach"),
    [
        ({"$sum": "$v"}, "has no window, which MongoDB reads as the whole partition"),
        ({"$sum": "$v", "window": {"documents": [-1, "unbounded"]}}, "has an 'unbounded' upper bound"),
    ],
)
def test_windows_to_the_partitions_end_are_refused_over_an_endless_source(output, reach):
    with pytest.raises(SpecError) as caught:
        set_window_fields_factory({"output": {"total": output}}, finite_source=False)
    assert caught.value.message == (
        f"total {reach}: its documents would wait for the end of a stream that never ends;"
        ' for values up to the current document use window: {documents: ["unbounded", "current"]}'
    )


# -- through the translator -----------------------------------------------------------------------


def test_translate_says_how_the_seed_range_is_read():
    seed = [
        {"$source": {"documents": []}},
        {"$setWindowFields": {
            "partitionBy": "$customerId", "sortBy": {"orderTime": 1},
            "output": {"totalSpent": {"$sum": "$amount", "window": {"range": [-5, "minute"], "unit": "minute"}}},
        }},
    ]  # fmt: skip
    plans = plan(parse_pipeline(seed))
    assert "the 5 minutes up to the current document" in plans[1].description
    assert "reach past" not in plans[1].description
    centred = {"$setWindowFields": {"output": {"avg": {"$avg": "$v", "window": {"documents": [-2, 2]}}}}}
    (_, centred_plan) = plan(parse_pipeline([seed[0], centred]))
    assert "avg reaches past the current document, so documents wait" in centred_plan.description


def test_window_pipeline_through_the_translator():
    docs = [{"t": at(s), "k": k, "v": v} for s, k, v in [(1, "a", 1), (2, "b", 2), (12, "a", 3), (25, "b", 1)]]
    stage = {"$tumblingWindow": {"interval": interval(10), "pipeline": [*SUM_BY_KEY, {"$sort": {"_id": 1}}]}}
    result = run_pipeline([{"$source": {"documents": docs, "timeField": "$t"}}, stage])
    assert [(d["_id"], d["total"]) for d in result.docs] == [("a", 1), ("b", 2), ("a", 3), ("b", 1)]


def test_set_window_fields_through_the_translator():
    docs = [minutes(m, c, a) for m, c, a in [(0, "a", 1), (1, "a", 2), (7, "a", 4)]]
    stage = {"$setWindowFields": {
        "partitionBy": "$customerId", "sortBy": {"orderTime": 1},
        "output": {"total": {"$sum": "$amount", "window": {"range": [-5, "minute"], "unit": "minute"}}},
    }}  # fmt: skip
    result = run_pipeline(with_documents(docs, [stage]))
    assert [d["total"] for d in result.docs] == [1, 3, 4]


def test_centred_window_through_the_translator_ends_with_the_stream():
    docs = [{"s": i, "v": v} for i, v in enumerate([1, 2, 3, 4])]
    stage = {"$setWindowFields": {"sortBy": {"s": 1}, "output": {"avg": {"$avg": "$v", "window": {"documents": [-1, 1]}}}}}
    result = run_pipeline(with_documents(docs, [stage]))
    assert [(d["s"], d["avg"]) for d in result.docs] == [(0, 1.5), (1, 2), (2, 3), (3, 3.5)]


def test_stateful_stages_are_refused_inside_a_window():
    inner = [{"$group": {"_id": 1}}, {"$merge": {"into": {"db": "d", "coll": "c"}}}]
    stage = {"$tumblingWindow": {"interval": interval(1), "pipeline": inner}}
    with pytest.raises(PipelineValidationError, match=r"\$merge cannot run inside a window pipeline"):
        plan(parse_pipeline(with_documents([{}], [stage])))


# -- recovery --------------------------------------------------------------------------------------

RECOVERY_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from datetime import datetime, timedelta, timezone
    import bytewax.operators as op
    from bytewax.dataflow import Dataflow
    from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
    from bytewax.outputs import DynamicSink, StatelessSinkPartition
    from bytewax.recovery import RecoveryConfig
    from bytewax.testing import run_main
    from runtime import ejson
    from runtime.dead_letters import DeadLetters
    from translator.windows.engine import window_engine_factory
    from translator.windows.spec import parse_window

    recovery_dir, out_path, pause = sys.argv[1], sys.argv[2], float(sys.argv[3])
    T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    EVENTS = [{"_ts": T0 + timedelta(milliseconds=20 * i), "k": f"k{i % 5}", "v": i} for i in range(3000)]

    class Part(StatefulSourcePartition):
        def __init__(self, position):
            self.position = position or 0
        def next_batch(self):
            if self.position >= len(EVENTS):
                raise StopIteration()
            time.sleep(pause)
            chunk = EVENTS[self.position : self.position + 50]
            self.position += len(chunk)
            return [chunk]
        def snapshot(self):
            return self.position

    class Source(FixedPartitionedSource):
        def list_parts(self):
            return ["events"]
        def build_part(self, step_id, for_part, resume_state):
            return Part(resume_state)

    class SinkPart(StatelessSinkPartition):
        def write_batch(self, items):
            with open(out_path, "a") as out:
                for item in items:
                    if not isinstance(item, DeadLetters):
                        for doc in item:
                            out.write(ejson.dumps(doc) + "\\n")

    class Sink(DynamicSink):
        def build(self, step_id, worker_index, worker_count):
            return SinkPart()

    spec = {"interval": {"size": 10, "unit": "second"},
            "pipeline": [{"$group": {"_id": "$k", "total": {"$sum": "$v"}, "n": {"$count": {}}}}]}
    from translator.windows.operator import window_operator
    flow = Dataflow("recovery")
    up = op.input("in", flow, Source())
    make = window_engine_factory(parse_window("$tumblingWindow", spec))
    op.output("out", window_operator("w", up, make), Sink())
    run_main(flow, epoch_interval=timedelta(milliseconds=200), recovery_config=RecoveryConfig(recovery_dir))
    """
)


def _expected_windows() -> dict:
    expected: dict = {}
    for i in range(3000):
        start = (20 * i) // 10_000 * 10
        total, n = expected.get((start, f"k{i % 5}"), (0, 0))
        expected[(start, f"k{i % 5}")] = (total + i, n + 1)
    return expected


def test_sigkill_mid_window_then_restart_emits_each_window_once_after_dedup(tmp_path: Path):
    from bytewax.recovery import init_db_dir

    recovery_dir, out_path = tmp_path / "recovery", tmp_path / "out.jsonl"
    recovery_dir.mkdir()
    init_db_dir(recovery_dir, 1)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    command = [sys.executable, "-c", RECOVERY_SCRIPT, str(recovery_dir), str(out_path)]
    first = subprocess.Popen([*command, "0.05"], env=env)
    deadline = time.monotonic() + 60
    while first.poll() is None and time.monotonic() < deadline and (not out_path.exists() or out_path.read_text().count("\n") < 10):
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    assert first.wait() == -signal.SIGKILL  # killed mid-stream, not finished
    before_kill = out_path.read_text().count("\n")
    subprocess.run([*command, "0"], env=env, check=True, timeout=120)

    seen: dict = {}
    for line in out_path.read_text().splitlines():
        doc = ejson.loads(line)
        window = doc["_stream_meta"]["window"]
        key = ((window["start"] - T0).total_seconds(), doc["_id"])
        value = (doc["total"], doc["n"])
        assert seen.setdefault(key, value) == value  # a replayed window repeats the same result
    assert seen == _expected_windows()
    assert 10 <= before_kill < len(seen)


def test_windows_read_the_sources_ts_field_name():
    context = PlanContext(source_time=SourceTime(ts_field_name="eventTime", finite=True), plan_stage=plan_stage)
    stage = {"interval": interval(10), "allowedLateness": 0, "pipeline": SUM_BY_KEY}
    spec = plan_window(Stage(1, "$tumblingWindow", stage), context).spec
    assert spec.time.ts_field_name == "eventTime"
    engine = window_engine_factory(spec.window, None, time_field=spec.time.ts_field_name)()
    (first,) = engine.process([{"eventTime": at(1), "k": "a", "v": 1}, {"eventTime": at(15), "k": "a", "v": 1}], NOW)
    (second,) = engine.close_all()
    assert summary(first + second) == [(0, 10, "a", 1), (10, 20, "a", 1)]


ROUNDTRIP_CASES = [
    ("tumbling, every accumulator", lambda: engine_factory("$tumblingWindow", {
        "interval": interval(10),
        "pipeline": [{"$group": {"_id": "$k", **{f"a{i}": acc for i, (acc, _) in enumerate(ACCUMULATOR_CASES)}}}],
    })),
    ("sessions", lambda: engine_factory("$sessionWindow", SESSION)),
    ("hopping", lambda: engine_factory("$hoppingWindow", {"interval": interval(10), "hopSize": interval(3), "pipeline": SUM_BY_KEY})),
    ("setWindowFields", lambda: set_window_fields_factory({
        "partitionBy": "$k", "sortBy": {"_ts": 1},
        "output": {"s": {"$sum": "$v", "window": {"range": [-4, "second"]}}, "r": {"$rank": {}}, "f": {"$linearFill": "$y"}},
    })),
]  # fmt: skip


@pytest.mark.parametrize(("name", "factory"), ROUNDTRIP_CASES, ids=[c[0] for c in ROUNDTRIP_CASES])
def test_state_survives_a_pickle_roundtrip_between_every_chunk(name, factory):
    make = factory()
    chunks = [[doc(s + d, k, v=s, i=s, y=None if s % 3 else s) for d, k in ((0, "a"), (0.5, "b"))] for s in range(0, 40, 2)]
    chunks.insert(5, [doc(3, "a", v=100)])  # late for some windows, in time for others
    straight = make()
    expected = [item for chunk in chunks for item in straight.process(chunk, NOW)] + straight.close_all()
    found = []
    engine = make()
    for chunk in chunks:
        found.extend(engine.process(chunk, NOW))
        restored = make()
        restored.restore(pickle.loads(pickle.dumps(engine.snapshot())), NOW)
        engine = restored
    found.extend(engine.close_all())
    strip = lambda items: [[{k: v for k, v in d.items() if k != "dlqTime"} for d in item] for item in items]  # noqa: E731
    assert strip(found) == strip(expected) and expected


def test_a_window_without_group_keeps_its_documents_with_their_source_meta():
    chunk = [doc(1, "a", 3, partition=0), doc(2, "b", 1, partition=0), doc(3, "c", 2, partition=0)]
    pipeline = [{"$sort": {"v": 1}}, {"$limit": 2}, {"$unset": "v"}]
    docs, _ = windowed("$tumblingWindow", {"interval": interval(10), "pipeline": pipeline}, [chunk])
    assert [d["k"] for d in docs] == ["b", "c"]
    assert docs[0]["_stream_meta"] == {"source": {"type": "kafka", "topic": "t", "partition": 0}, "window": {"start": at(0), "end": at(10)}}
    assert "window" not in chunk[1]["_stream_meta"]  # the input is left as it was


def test_group_keys_on_the_window_start_as_atlas_documents_show():
    # https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-tumbling/ (example)
    pipeline = [{"$group": {"_id": "$_stream_meta.window.start", "n": {"$count": {}}, "end": {"$max": {"$meta": "stream.window.end"}}}}]
    chunk = [doc(s, partition=0) for s in (1, 5, 12)]
    docs, _ = windowed("$hoppingWindow", {"interval": interval(10), "hopSize": interval(5), "pipeline": pipeline}, [chunk])
    assert [(d["_id"], d["n"], d["end"]) for d in docs] == [(at(-5), 1, at(5)), (at(0), 2, at(10)), (at(5), 2, at(15)), (at(10), 1, at(20))]
    assert docs[0]["_stream_meta"] == {"source": {"type": "kafka"}, "window": {"start": at(-5), "end": at(5)}}
    assert "window" not in chunk[0]["_stream_meta"]  # the input is left as it was


def test_documents_the_inner_pipeline_filters_out_still_move_the_watermark():
    pipeline = [{"$match": {"v": {"$gte": 0}}}, *SUM_BY_KEY]
    chunks = [[doc(1, v=1), doc(14, v=-1)], [doc(2, v=5)]]  # 14 is filtered, yet closes [0,10)
    docs, dead = windowed("$tumblingWindow", {"interval": interval(10), "pipeline": pipeline}, chunks)
    assert summary(docs) == [(0, 10, "a", 1)]
    assert missed(dead) == [[0]]


def test_the_plain_sum_fast_path_types_like_the_general_one():
    # {_id: "$k", total: {$sum: "$v"}} runs a loop of its own; it must agree with $sum elsewhere.
    values = [1, 2.5, None, "x", True, Int64(3), Decimal128("0.5")]
    chunk = [doc(1, k="a", v=v) for v in values] + [{"_ts": at(2), "v": 4}, {"_ts": at(3), "k": None, "v": 1}]
    docs, _ = windowed("$tumblingWindow", {"interval": interval(10), "pipeline": SUM_BY_KEY}, [chunk])
    general = _group_result({"$sum": "$v"}, values)
    assert [(d["_id"], d["total"]) for d in docs] == [("a", general), (None, 5)]
    assert type(general) is Decimal128
