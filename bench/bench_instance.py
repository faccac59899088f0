"""The instance's cost: one Kafka pipeline under `sluice serve` and under plain `bytewax.run`, and
the latency of `listStreamProcessors` with 100 processors defined.

Both runs read the same pre-filled 4-partition topic ($match keeps half, $project, $emit to a
topic of their own), with the same recovery store layout and snapshot interval, no sample open.
Throughput is taken between 10% and 90% of the expected output (read from the output topic's
high watermarks), so process start-up counts for neither. Rounds alternate; medians are printed.
Usage: python bench/bench_instance.py [--bootstrap host:port] [--messages N] [--rounds R]
Without --bootstrap a Tansu broker is started on a free port and stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from pymongo import MongoClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from bench_kafka import PARTITIONS, fill_topic, start_tansu  # noqa: E402
from bytewax.recovery import init_db_dir  # noqa: E402

from instance.supervisor import RECOVERY_PARTITIONS, SNAPSHOT_SECONDS  # noqa: E402

READY = re.compile(r"listening on (mongodb://\S+)")


def pipeline(topic: str, out: str) -> list:
    return [
        {"$source": {"connectionName": "kafka", "topic": topic,
                     "config": {"auto_offset_reset": "earliest", "group_id": f"g-{uuid.uuid4().hex[:8]}"}}},
        {"$match": {"status": "paid"}},
        {"$project": {"_id": 0, "orderId": 1, "customer": 1, "amount": 1}},
        {"$emit": {"connectionName": "kafka", "topic": out}},
    ]  # fmt: skip


def new_topic(bootstrap: str) -> str:
    name = f"bench-out-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})  # kept alive until the topic exists
    admin.create_topics([NewTopic(name, PARTITIONS, 1)])[name].result(timeout=10)
    return name


def output_rate(bootstrap: str, topic: str, expected: int, timeout: float = 300) -> float:
    """Messages per second between 10% and 90% of ``expected`` in ``topic``."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"watch-{topic}"})
    parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    marks: dict[float, float] = {}
    deadline = time.monotonic() + timeout
    while len(marks) < 2:
        count = sum(consumer.get_watermark_offsets(p, timeout=5)[1] for p in parts)
        for share in (0.1, 0.9):
            if share not in marks and count >= share * expected:
                marks[share] = time.monotonic()
        if time.monotonic() > deadline:
            msg = f"output stalled at {count} of {expected}"
            raise RuntimeError(msg)
        time.sleep(0.02)
    consumer.close()
    return 0.8 * expected / max(marks[0.9] - marks[0.1], 1e-6)


def run_bytewax(work: Path, registry: str, stages: list, bootstrap: str, out: str, expected: int) -> float:
    (work / "pipeline.json").write_text(json.dumps({"name": "bench", "pipeline": stages}))
    recovery = work / "recovery"
    recovery.mkdir()
    init_db_dir(recovery, RECOVERY_PARTITIONS)
    env = {**os.environ, "SLUICE_PIPELINE": str(work / "pipeline.json"), "SLUICE_CONNECTIONS": registry}
    command = [sys.executable, "-m", "bytewax.run", "flows.pipeline", "-r", str(recovery), "-s", str(SNAPSHOT_SECONDS), "-b", "0"]
    proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return output_rate(bootstrap, out, expected)
    finally:
        proc.terminate()
        proc.wait(60)


class Serve:
    """One `sluice serve` on a free port, over ``data``."""

    def __init__(self, registry: str, data: Path) -> None:
        command = [sys.executable, "-m", "translator.cli", "serve", "--connections", registry, "--data", str(data), "--port", "0"]
        self.proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for line in self.proc.stderr:
            if match := READY.search(line):
                self.client = MongoClient(match.group(1))
                break
        else:
            msg = "sluice serve exited before listening"
            raise RuntimeError(msg)

    def close(self) -> None:
        self.client.close()
        self.proc.terminate()
        self.proc.wait(120)


def run_instance(work: Path, registry: str, stages: list, bootstrap: str, out: str, expected: int) -> float:
    serve = Serve(registry, work / "data")
    try:
        serve.client.admin.command({"createStreamProcessor": "bench", "pipeline": stages})
        serve.client.admin.command({"startStreamProcessor": "bench"})
        return output_rate(bootstrap, out, expected)
    finally:
        serve.close()


def list_latency(registry: str, work: Path, processors: int, calls: int) -> tuple[float, float]:
    """p50 and p99 of listStreamProcessors, in milliseconds, with ``processors`` defined."""
    serve = Serve(registry, work / "data")
    try:
        stages = [{"$source": {"connectionName": "sample_stream_solar"}}, {"$match": {"obs.watts": {"$gt": 100}}}]
        for n in range(processors):
            serve.client.admin.command({"createStreamProcessor": f"p{n}", "pipeline": stages})
        timings = []
        for _ in range(calls):
            began = time.perf_counter()
            reply = serve.client.admin.command({"listStreamProcessors": 1, "filter": None})
            timings.append((time.perf_counter() - began) * 1000)
            assert len(reply["streamProcessors"]) == processors
    finally:
        serve.close()
    timings.sort()
    return statistics.median(timings), timings[int(0.99 * (len(timings) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", help="an existing broker; default: start Tansu on a free port")
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--processors", type=int, default=100)
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    broker = None
    bootstrap = args.bootstrap
    if bootstrap is None:
        broker, bootstrap = start_tansu()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            registry = Path(tmp) / "connections.json"
            registry.write_text(json.dumps({"connections": {"kafka": {"type": "kafka", "bootstrapServers": bootstrap}}}))
            topic = fill_topic(bootstrap, args.messages)
            expected = (args.messages + 1) // 2
            rates: dict[str, list[float]] = {"bytewax.run": [], "sluice serve": []}
            for round_ in range(args.rounds):
                for label, run in (("bytewax.run", run_bytewax), ("sluice serve", run_instance)):
                    work = Path(tmp) / f"{label.split()[0]}-{round_}"
                    work.mkdir()
                    out = new_topic(bootstrap)
                    rates[label].append(run(work, str(registry), pipeline(topic, out), bootstrap, out, expected))
                    print(f"round {round_ + 1} {label:13s} {rates[label][-1]:>10,.0f} output msg/s", flush=True)
            baseline, instance = (statistics.median(rates[k]) for k in ("bytewax.run", "sluice serve"))
            print(f"throughput ratio sluice serve / bytewax.run: {instance / baseline:.3f} (goal >= 0.95)")
            work = Path(tmp) / "latency"
            work.mkdir()
            p50, p99 = list_latency(str(registry), work, args.processors, args.calls)
            print(f"listStreamProcessors with {args.processors} processors: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    finally:
        if broker is not None:
            broker.terminate()
            broker.wait(10)


if __name__ == "__main__":
    main()
