"""Stats of endless flows on the real servers: Kafka offsets and lag, /metrics, window state, change-stream lag.

Each flow runs under ``python -m bytewax.run flows.pipeline`` with ``SLUICE_STATS_FILE``; the
tests poll the file until the counts they wait for appear.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_kafka_connectors import consume, new_topic, produce
from test_stats import free_port

from runtime.stats import merge_stats, read_stats_file
from translator import process
from translator.connections import parse_registry
from translator.parse import parse_pipeline

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent
PER_PARTITION = [5, 7, 3, 9]  # messages produced to partitions 0..3
GARBAGE_PARTITION = 1  # two of its messages are not JSON: DLQ at the source


class Flow:
    """One process of a translated flow, with its stats file."""

    def __init__(self, tmp_path: Path, name: str, pipeline: dict, registry: dict, *flags: str, metrics_port: int | None = None):
        self.stats_path = tmp_path / f"{name}.stats.json"
        (tmp_path / f"{name}.pipeline.json").write_text(json.dumps(pipeline))
        (tmp_path / f"{name}.connections.json").write_text(json.dumps(registry))
        env = {
            **os.environ,
            "SLUICE_PIPELINE": str(tmp_path / f"{name}.pipeline.json"),
            "SLUICE_CONNECTIONS": str(tmp_path / f"{name}.connections.json"),
            "SLUICE_STATS_FILE": str(self.stats_path),
        }
        if metrics_port is not None:
            env["SLUICE_METRICS_ADDR"] = f"127.0.0.1:{metrics_port}"
        cmd = [sys.executable, "-m", "bytewax.run", "flows.pipeline", *flags]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def stats(self) -> dict | None:
        return read_stats_file(str(self.stats_path)) if self.stats_path.exists() else None

    def stop(self) -> None:
        stop_all([self])


def stop_all(flows: list[Flow]) -> None:
    """Ctrl-C every process at once (a cluster's processes stop together), then wait for them."""
    for flow in flows:
        if flow.proc.poll() is None:
            flow.proc.send_signal(signal.SIGINT)
    for flow in flows:
        try:
            flow.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            flow.proc.kill()
            flow.proc.wait()


def wait_for(what: str, read: Callable[[], dict | None], ready: Callable[[dict], bool], flows: list[Flow], timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        for flow in flows:
            if flow.proc.poll() is not None:
                pytest.fail(f"flow exited with {flow.proc.returncode}: {flow.proc.stderr.read().decode()[-2000:]}")
        last = read()
        if last is not None and ready(last):
            return last
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}; last stats: {last}")


def kafka_registry(bootstrap: str, mongodb_uri: str = "mongodb://127.0.0.1:1") -> dict:
    return {"connections": {"kafka": {"type": "kafka", "bootstrapServers": bootstrap},
                            "mongo": {"type": "mongodb", "uri": mongodb_uri}}, "default": "mongo"}  # fmt: skip


def kafka_pipeline(name: str, topic: str) -> dict:
    return {
        "name": name,
        "pipeline": [
            {"$source": {"connectionName": "kafka", "topic": topic, "config": {"auto_offset_reset": "earliest"}}},
            {"$match": {"n": {"$mod": [2, 0]}}},
        ],
    }


def produce_partitions(bootstrap: str, topic: str) -> tuple[int, int]:
    """Messages ``{n}`` to each partition; returns (JSON documents kept by the $match, garbage)."""
    messages, n, kept = [], 0, 0
    for partition, count in enumerate(PER_PARTITION):
        for i in range(count):
            if partition == GARBAGE_PARTITION and i < 2:
                messages.append({"value": b"not json", "partition": partition})
                continue
            messages.append({"value": orjson.dumps({"n": n}), "partition": partition})
            kept += n % 2 == 0
            n += 1
    produce(bootstrap, topic, messages)
    return kept, 2


def drained(total: int) -> Callable[[dict], bool]:
    def ready(stats: dict) -> bool:
        parts = stats.get("kafkaPartitions") or []
        return stats["inputMessageCount"] == total and [p["checkpointOffset"] for p in parts] == PER_PARTITION

    return ready


def check_kafka_stats(stats: dict, kept: int, garbage: int) -> None:
    total = sum(PER_PARTITION)
    assert (stats["inputMessageCount"], stats["outputMessageCount"], stats["dlqMessageCount"]) == (total, kept, garbage)
    assert [(op["name"], op["inputMessageCount"], op["outputMessageCount"], op["dlqMessageCount"]) for op in stats["operatorStats"]] == [
        ("$source", total, total - garbage, garbage),
        ("$match", total - garbage, kept, 0),
    ]
    parts = stats["kafkaPartitions"]
    assert [p["partition"] for p in parts] == [0, 1, 2, 3]
    assert [p["currentOffset"] for p in parts] == PER_PARTITION  # last processed + 1: what was produced
    # Tansu's high watermarks are unreliable: the expected lag comes from what was produced (0: all read).
    assert [produced - p["currentOffset"] for produced, p in zip(PER_PARTITION, parts)] == [p["partitionOffsetLag"] for p in parts]
    assert stats["inputMessageSize"] >= sum(PER_PARTITION) * len(b'{"n":0}') - 2


def scrape(port: int) -> tuple[dict, dict]:
    """Every sample at /metrics summed over ``worker`` ({(name, other labels): value}), and
    the input messages per worker."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    samples: dict = {}
    per_worker: dict = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k not in ("worker", "processor")))
            key = (sample.name, labels)
            samples[key] = samples.get(key, 0) + sample.value
            if sample.name == "sluice_input_messages_total":
                per_worker[sample.labels["worker"]] = sample.value
    return samples, per_worker


def test_kafka_offsets_lag_and_metrics_with_two_workers(tmp_path: Path, kafka_bootstrap: str) -> None:
    topic = new_topic(kafka_bootstrap, 4)
    kept, garbage = produce_partitions(kafka_bootstrap, topic)
    port = free_port()
    flow = Flow(tmp_path, "k2", kafka_pipeline("stats-w2", topic), kafka_registry(kafka_bootstrap), "-w", "2", "-s", "1", metrics_port=port)
    try:
        stats = wait_for("4 partitions read and checkpointed", flow.stats, drained(sum(PER_PARTITION)), [flow])
        check_kafka_stats(stats, kept, garbage)
        samples, per_worker = scrape(port)
        assert sorted(per_worker) == ["0", "1"] and all(per_worker.values())  # both workers read partitions
        stats = flow.stats()  # the same counters, read again after the scrape: nothing moves any more
        assert samples[("sluice_input_messages_total", ())] == stats["inputMessageCount"]
        assert samples[("sluice_output_messages_total", ())] == stats["outputMessageCount"]
        assert samples[("sluice_dlq_messages_total", ())] == stats["dlqMessageCount"]
        assert samples[("sluice_input_bytes_total", ())] == stats["inputMessageSize"]
        assert samples[("sluice_output_bytes_total", ())] == stats["outputMessageSize"]
        for index, op in enumerate(stats["operatorStats"]):
            stage = f"{index}:{op['name']}"
            for direction, field in (("in", "inputMessageCount"), ("out", "outputMessageCount"), ("dlq", "dlqMessageCount")):
                key = ("sluice_stage_messages_total", (("direction", direction), ("stage", stage)))
                assert samples[key] == op[field], key
        for part in stats["kafkaPartitions"]:
            where = (("partition", str(part["partition"])), ("topic", topic))
            assert samples[("sluice_kafka_partition_offset", (("kind", "current"), *where))] == part["currentOffset"]
            assert samples[("sluice_kafka_partition_offset", (("kind", "checkpoint"), *where))] == part["checkpointOffset"]
        flow.stop()  # Ctrl-C: a clean stop, not an error
        assert flow.stats()["status"] == "stopped"
    finally:
        flow.stop()


def test_kafka_two_process_cluster_counts_add_up(tmp_path: Path, kafka_bootstrap: str) -> None:
    topic = new_topic(kafka_bootstrap, 4)
    kept, garbage = produce_partitions(kafka_bootstrap, topic)
    addresses = f"127.0.0.1:{free_port()};127.0.0.1:{free_port()}"
    pipeline, registry = kafka_pipeline("stats-cluster", topic), kafka_registry(kafka_bootstrap)
    flows = [Flow(tmp_path, f"c{i}", pipeline, registry, "-i", str(i), "-a", addresses, "-s", "1") for i in (0, 1)]

    def merged() -> dict | None:
        docs = [flow.stats() for flow in flows]
        return merge_stats(docs) if all(docs) else None

    try:
        stats = wait_for("the cluster to read every partition", merged, drained(sum(PER_PARTITION)), flows)
        check_kafka_stats(stats, kept, garbage)
        assert all(len(flow.stats()["kafkaPartitions"]) == 2 for flow in flows)  # each process counts its own
    finally:
        stop_all(flows)


def test_window_state_size_and_watermark(tmp_path: Path, kafka_bootstrap: str) -> None:
    topic = new_topic(kafka_bootstrap, 1)
    start = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
    times = [start + timedelta(seconds=s) for s in (1, 3, 4, 8)]
    messages = [{"value": orjson.dumps({"v": i, "at": {"$date": t.isoformat().replace("+00:00", "Z")}})} for i, t in enumerate(times)]
    produce(kafka_bootstrap, topic, messages)
    pipeline = {
        "name": "stats-window",
        "pipeline": [
            {"$source": {"connectionName": "kafka", "topic": topic, "timeField": {"$toDate": "$at"},
                         "config": {"auto_offset_reset": "earliest"}}},
            {"$tumblingWindow": {"interval": {"size": 10, "unit": "second"}, "idleTimeout": {"size": 3, "unit": "second"},
                                 "pipeline": [{"$group": {"_id": None, "n": {"$sum": 1}, "docs": {"$push": "$$ROOT"}}}]}},
        ],
    }  # fmt: skip
    flow = Flow(tmp_path, "w", pipeline, kafka_registry(kafka_bootstrap))
    try:
        open_window = wait_for("an open window", flow.stats, lambda s: s["inputMessageCount"] == 4 and s["stateSize"] > 0, [flow])
        assert open_window["watermark"] == times[-1]
        assert open_window["operatorStats"][1]["stateSize"] == open_window["stateSize"]
        closed = wait_for("the window to close on idleness", flow.stats, lambda s: s["outputMessageCount"] == 1, [flow])
        assert closed["stateSize"] < 50 < open_window["stateSize"], (open_window, closed)
        assert closed["watermark"] == times[-1]
    finally:
        flow.stop()


def first_event(flow: Flow, events) -> dict:
    """Insert probes until the flow's change stream shows one (events before it opens are not its own)."""
    stats = wait_for("the flow to start", flow.stats, lambda s: s["status"] == "running", [flow])
    while stats["inputMessageCount"] == 0:
        events.insert_one({"probe": True})
        deadline = time.monotonic() + 1.5
        while stats["inputMessageCount"] == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
            stats = flow.stats()
    return stats


def test_a_failing_flow_reports_error(tmp_path: Path, db, mongodb_uri: str) -> None:
    pipeline = {"name": "stats-fail", "pipeline": [{"$source": {"connectionName": "mongo", "db": db.name, "coll": "events"}}]}
    registry = {"connections": {"mongo": {"type": "mongodb", "uri": mongodb_uri}}, "default": "mongo"}
    flow = Flow(tmp_path, "fail", pipeline, registry)
    try:
        first_event(flow, db["events"])
        db["events"].drop()  # invalidates the change stream: the flow fails
        assert flow.proc.wait(timeout=60) != 0
        assert flow.stats()["status"] == "error"
    finally:
        flow.stop()


def test_change_stream_lag_rises_while_paused(tmp_path: Path, db, mongodb_uri: str) -> None:
    pipeline = {"name": "stats-cs", "pipeline": [{"$source": {"connectionName": "mongo", "db": db.name, "coll": "events"}}]}
    registry = {"connections": {"mongo": {"type": "mongodb", "uri": mongodb_uri}}, "default": "mongo"}
    flow = Flow(tmp_path, "cs", pipeline, registry)
    events = db["events"]
    try:
        first = first_event(flow, events)
        base = first["inputMessageCount"]
        assert first["changeStreamTimeDifferenceSecs"] < 2 and first["inputMessageSize"] > 0
        flow.proc.send_signal(signal.SIGSTOP)
        try:
            events.insert_many([{"n": n} for n in (1, 2, 3)])
            time.sleep(3)  # the pause whose lag the stats must show
        finally:
            flow.proc.send_signal(signal.SIGCONT)
        behind = wait_for("the events held while paused", flow.stats, lambda s: s["inputMessageCount"] == base + 3, [flow])
        assert behind["changeStreamTimeDifferenceSecs"] >= 2.5
        events.insert_one({"n": 4})
        caught_up = wait_for("a fresh event", flow.stats, lambda s: s["inputMessageCount"] == base + 4, [flow])
        assert caught_up["changeStreamTimeDifferenceSecs"] < 2
    finally:
        flow.stop()


def test_kafka_emit_counts_what_it_wrote(kafka_bootstrap: str) -> None:
    topic = new_topic(kafka_bootstrap, 1)
    pipeline = {
        "name": "stats-emit",
        "pipeline": [
            {"$source": {"documents": [{"n": n} for n in range(10)]}},
            {"$project": {"_id": 0, "n": 1}},
            {"$emit": {"connectionName": "kafka", "topic": topic}},
        ],
    }
    reports: list = []
    process(parse_pipeline(pipeline), parse_registry(kafka_registry(kafka_bootstrap)), on_stats=reports.append)
    (stats,) = reports
    written = consume(kafka_bootstrap, topic, 10, quiet=0.3)
    assert stats["outputMessageCount"] == len(written) == 10
    assert stats["outputMessageSize"] == sum(len(message.value()) for message in written)
    assert stats["operatorStats"][-1]["inputMessageCount"] == 10
