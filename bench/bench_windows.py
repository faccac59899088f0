"""Tumbling ``$group`` (``$sum``) throughput: sluice's window operator vs Bytewax and a dict loop.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-tumbling/

All three consume the same events in one run: 500k events over 10k keys, event times 2 ms
apart, one-minute windows. (a) Bytewax's own ``fold_window`` (one item per event, as its
windowing needs), (b) a plain Python dict loop. Then the peak memory of 1M distinct keys in
one window, measured in a child process per contender. Run: ``python bench/bench_windows.py``.
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import bytewax.operators as op
import bytewax.operators.windowing as win
from bytewax.dataflow import Dataflow
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from bytewax.testing import TestingSource, run_main

from translator.windows.engine import FixedWindows, InnerPipeline
from translator.windows.group import Group
from translator.windows.operator import window_operator
from translator.windows.spec import EPOCH, parse_window

START = datetime(2024, 1, 1, tzinfo=timezone.utc)
STEP = timedelta(milliseconds=2)
WINDOW = timedelta(minutes=1)
CHUNK = 1000
STAGE = {"interval": {"size": 1, "unit": "minute"}, "pipeline": [{"$group": {"_id": "$key", "total": {"$sum": "$amount"}}}]}


def make_events(count: int, keys: int) -> list[dict]:
    rng = random.Random(7)
    return [
        {"_ts": START + i * STEP, "key": f"k{rng.randrange(keys)}", "amount": rng.randrange(100)}
        for i in range(count)
    ]


def chunks(events: list[dict]) -> list[list[dict]]:
    return [events[i : i + CHUNK] for i in range(0, len(events), CHUNK)]


class _CountingPartition(StatelessSinkPartition):
    def __init__(self, counter: list) -> None:
        self.counter = counter

    def write_batch(self, items: list) -> None:
        self.counter[0] += sum(len(item) if type(item) is list else 1 for item in items)


class CountingSink(DynamicSink):
    """Counts output documents without keeping them."""

    def __init__(self) -> None:
        self.counter = [0]

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _CountingPartition:
        return _CountingPartition(self.counter)


def make_engine() -> FixedWindows:
    spec = parse_window("$tumblingWindow", STAGE)
    return FixedWindows(spec, InnerPipeline([], Group(spec.pipeline[0]["$group"]), []))


def run_sluice(events: list[dict]) -> tuple[float, int]:
    flow = Dataflow("bench_sluice")
    up = op.input("in", flow, TestingSource(chunks(events)))
    sink = CountingSink()
    op.output("out", window_operator("window", up, make_engine), sink)
    began = time.perf_counter()
    run_main(flow)
    return time.perf_counter() - began, sink.counter[0]


def run_fold_window(events: list[dict]) -> tuple[float, int]:
    flow = Dataflow("bench_fold_window")
    up = op.input("in", flow, TestingSource(chunks(events)))
    items = op.flat_map("flatten", up, lambda chunk: chunk)
    keyed = op.key_on("key", items, lambda doc: doc["key"])
    clock = win.EventClock(lambda doc: doc["_ts"], wait_for_system_duration=timedelta(seconds=3))
    windower = win.TumblingWindower(length=WINDOW, align_to=EPOCH)
    folded = win.fold_window(
        "sum", keyed, clock, windower, lambda: 0, lambda total, doc: total + doc["amount"], lambda a, b: a + b
    )
    sink = CountingSink()
    op.output("out", op.map("wrap", folded.down, lambda kv: [kv]), sink)
    began = time.perf_counter()
    run_main(flow)
    return time.perf_counter() - began, sink.counter[0]


def run_plain_loop(events: list[dict]) -> tuple[float, int]:
    began = time.perf_counter()
    totals: dict = {}
    for doc in events:
        start = EPOCH + ((doc["_ts"] - EPOCH) // WINDOW) * WINDOW
        group = (start, doc["key"])
        totals[group] = totals.get(group, 0) + doc["amount"]
    return time.perf_counter() - began, len(totals)


def peak_memory(contender: str, keys: int) -> None:
    """Child process: peak RSS growth while ``contender`` holds ``keys`` distinct keys."""
    events = [{"_ts": START + i * timedelta(microseconds=10), "key": f"k{i}", "amount": 1} for i in range(keys)]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if contender == "sluice":
        engine = make_engine()
        now = datetime.now(timezone.utc)
        for chunk in chunks(events):
            engine.process(chunk, now)
        held = sum(len(state) for state in engine.windows.values())
    else:
        totals: dict = {}
        for doc in events:
            start = EPOCH + ((doc["_ts"] - EPOCH) // WINDOW) * WINDOW
            totals[(start, doc["key"])] = totals.get((start, doc["key"]), 0) + doc["amount"]
        held = len(totals)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(f"{held} {grown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--memory-keys", type=int, default=1_000_000)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        peak_memory(args.child[0], int(args.child[1]))
        return
    events = make_events(args.events, args.keys)
    print(f"{args.events} events, {args.keys} keys, event times 2 ms apart, 1-minute tumbling windows")
    results = {}
    for name, run in (("plain dict loop", run_plain_loop), ("sluice window", run_sluice),
                      ("bytewax fold_window", run_fold_window)):  # fmt: skip
        seconds, outputs = run(events)
        results[name] = args.events / seconds
        print(f"  {name:20s} {seconds:7.2f} s  {results[name]:>10,.0f} events/s  ({outputs} window results)")
    baseline = results["plain dict loop"]
    for name in ("sluice window", "bytewax fold_window"):
        print(f"  {name} / plain loop = {results[name] / baseline:.2f}")
    print(f"  sluice / fold_window = {results['sluice window'] / results['bytewax fold_window']:.1f}x")
    print(f"peak memory growth with {args.memory_keys:,} distinct keys in one window:")
    for contender in ("plain", "sluice"):
        found = subprocess.run(
            [sys.executable, __file__, "--child", contender, str(args.memory_keys)],
            check=True, capture_output=True, text=True,
        ).stdout.split()  # fmt: skip
        held, grown_kib = int(found[0]), int(found[1])
        print(f"  {contender:7s} {held:>9,} groups  {grown_kib / 1024:8.1f} MiB  ({grown_kib * 1024 / held:.0f} B/key)")


if __name__ == "__main__":
    main()
