"""Processor stats from inside the dataflow: exact counts per stage, the stats file, clusters, scale."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from runtime import ejson
from runtime.redaction import redact
from runtime.logs import configure_logging
from runtime.stats import loads, merge_stats, read_stats_file, scaled
from translator import process
from translator.connections import parse_registry
from translator.parse import parse_pipeline

ROOT = Path(__file__).resolve().parent.parent
SLUICE = [sys.executable, "-m", "translator.cli"]
BYTEWAX = [sys.executable, "-m", "bytewax.run", "flows.pipeline"]

# 20 documents: $match keeps a >= 5 (15), $addFields divides by a - 7 (a = 7 fails),
# $validate refuses a > 16 (17, 18, 19): 11 out, 4 dead letters.
N, KEPT, DEAD = 20, 11, 4
PIPELINE = {
    "name": "counted",
    "pipeline": [
        {"$source": {"documents": [{"a": i} for i in range(N)]}},
        {"$match": {"a": {"$gte": 5}}},
        {"$addFields": {"b": {"$divide": [10, {"$subtract": ["$a", 7]}]}}},
        {"$validate": {"validator": {"$jsonSchema": {"properties": {"a": {"maximum": 16}}}}, "validationAction": "dlq"}},
    ],
}
# (name, in, out, dlq) per stage
EXPECTED_STAGES = [("$source", 20, 20, 0), ("$match", 20, 15, 0), ("$addFields", 15, 14, 1), ("$validate", 14, 11, 3)]


def write_pipeline(tmp_path: Path, pipeline: dict) -> str:
    path = tmp_path / "pipeline.json"
    path.write_text(json.dumps(pipeline))
    return str(path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_counts(stats: dict) -> None:
    assert (stats["inputMessageCount"], stats["outputMessageCount"], stats["dlqMessageCount"]) == (N, KEPT, DEAD)
    found = [(op["name"], op["inputMessageCount"], op["outputMessageCount"], op["dlqMessageCount"]) for op in stats["operatorStats"]]
    assert found == EXPECTED_STAGES


def flow_env(tmp_path: Path, pipeline: dict, **extra: str) -> dict:
    return {**os.environ, "SLUICE_PIPELINE": write_pipeline(tmp_path, pipeline), **extra}


def test_process_stats_line_counts_every_document_per_stage(tmp_path: Path) -> None:
    done = subprocess.run([*SLUICE, "process", write_pipeline(tmp_path, PIPELINE), "--stats"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    out = [ejson.loads(line) for line in done.stdout.splitlines()]
    assert sorted(doc["a"] for doc in out) == [5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16]  # stdout: documents only
    lines = [line for line in done.stderr.splitlines() if line.startswith("stats: ")]
    assert len(lines) == 1
    stats = loads(lines[0].removeprefix("stats: "))
    assert_counts(stats)
    assert stats["name"] == "counted" and stats["status"] == "stopped" and stats["scaleFactor"] == 1
    assert stats["inputMessageSize"] > 0 and stats["outputMessageSize"] == len(done.stdout.encode())
    assert stats["dlqMessageSize"] > 0 and stats["stateSize"] == 0
    assert abs((datetime.now(timezone.utc) - stats["watermark"]).total_seconds()) < 30  # the documents' _ts: when read
    assert all(op["executionTime"] >= 0 for op in stats["operatorStats"])


def test_stats_file_under_bytewax_run_with_two_workers(tmp_path: Path) -> None:
    path = tmp_path / "stats.json"
    env = flow_env(tmp_path, PIPELINE, SLUICE_STATS_FILE=str(path))
    done = subprocess.run([*BYTEWAX, "-w", "2"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    stats = read_stats_file(str(path))
    assert_counts(stats)
    assert stats["status"] == "stopped"
    assert not Path(f"{path}.tmp").exists()


def test_two_process_cluster_stats_add_up(tmp_path: Path) -> None:
    addresses = f"127.0.0.1:{free_port()};127.0.0.1:{free_port()}"
    procs = []
    for index in (0, 1):
        env = flow_env(tmp_path, PIPELINE, SLUICE_STATS_FILE=str(tmp_path / f"stats{index}.json"))
        cmd = [*BYTEWAX, "-i", str(index), "-a", addresses]
        procs.append(subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    docs = [read_stats_file(str(tmp_path / f"stats{index}.json")) for index in (0, 1)]
    assert_counts(merge_stats(docs))


def test_merge_and_scale() -> None:
    early, late = datetime(2024, 1, 1, tzinfo=timezone.utc), datetime(2024, 1, 2, tzinfo=timezone.utc)
    op = {"name": "$source", "inputMessageCount": 3, "inputMessageSize": 3000, "outputMessageCount": 3,
          "outputMessageSize": 3000, "dlqMessageCount": 0, "dlqMessageSize": 0, "stateSize": 2048,
          "maxMemoryUsage": 2048, "executionTime": 0.5}  # fmt: skip
    one = {"name": "p", "status": "running", "scaleFactor": 1, "inputMessageCount": 3, "inputMessageSize": 3000,
           "outputMessageCount": 2, "outputMessageSize": 2000, "dlqMessageCount": 1, "dlqMessageSize": 100,
           "stateSize": 2048, "watermark": late, "operatorStats": [op],
           "kafkaPartitions": [{"topic": "t", "partition": 1, "currentOffset": 5, "checkpointOffset": 4}]}  # fmt: skip
    two = {**one, "status": "stopped", "watermark": early,
           "kafkaPartitions": [{"topic": "t", "partition": 0, "currentOffset": 7, "checkpointOffset": 7}]}  # fmt: skip
    merged = merge_stats([one, two])
    assert (merged["inputMessageCount"], merged["outputMessageCount"], merged["dlqMessageCount"]) == (6, 4, 2)
    assert merged["stateSize"] == 4096 and merged["watermark"] == early and merged["status"] == "running"
    assert merged["operatorStats"][0]["inputMessageCount"] == 6 and merged["operatorStats"][0]["executionTime"] == 1.0
    assert [p["partition"] for p in merged["kafkaPartitions"]] == [0, 1]
    kib = scaled(merged, 1024)
    assert kib["scaleFactor"] == 1024 and kib["stateSize"] == 4 and kib["inputMessageSize"] == 5
    assert kib["operatorStats"][0]["stateSize"] == 4 and kib["inputMessageCount"] == 6
    assert one["operatorStats"][0]["inputMessageCount"] == 3  # inputs untouched
    with pytest.raises(ValueError, match="scale"):
        scaled(merged, 0)


def test_stats_interval_prints_while_running(tmp_path: Path) -> None:
    pipeline = {"name": "solar", "pipeline": [{"$source": {"connectionName": "sample_stream_solar"}}]}
    registry = tmp_path / "connections.json"
    registry.write_text(json.dumps({"connections": {"sample_stream_solar": {"type": "sample_stream_solar", "rate": 40, "limit": 60}}}))
    cmd = [*SLUICE, "process", write_pipeline(tmp_path, pipeline), "--connections", str(registry), "--stats-interval", "0.3"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    counts = [loads(line.removeprefix("stats: "))["inputMessageCount"] for line in done.stderr.splitlines() if line.startswith("stats: ")]
    assert len(counts) >= 3 and counts == sorted(counts) and counts[-1] == 60
    assert len(done.stdout.splitlines()) == 60


def test_stats_interval_must_be_positive(tmp_path: Path) -> None:
    done = subprocess.run([*SLUICE, "process", write_pipeline(tmp_path, PIPELINE), "--stats-interval", "0"], capture_output=True, text=True)
    assert done.returncode == 2 and "positive number of seconds" in done.stderr


@pytest.mark.integration
def test_merge_sink_counts_its_own_dead_letters(db, mongodb_uri: str) -> None:
    docs = [{"_id": 1, "kind": "red"}, {"_id": 2, "kind": "blue"}, {"_id": 3}, {"_id": 4, "kind": "red", "a": 20}]
    processor = {
        "name": "merged",
        "pipeline": [
            {"$source": {"documents": docs}},
            {"$validate": {"validator": {"$jsonSchema": {"properties": {"a": {"maximum": 10}}}}, "validationAction": "dlq"}},
            {"$merge": {"into": {"connectionName": "atlas", "db": db.name, "coll": "$kind"}}},  # _id 3: no coll
        ],
        "options": {"dlq": {"connectionName": "atlas", "db": db.name, "coll": "dlq"}},
    }
    registry = parse_registry({"connections": {"atlas": {"type": "mongodb", "uri": mongodb_uri}}, "default": "atlas"})
    reports: list = []
    process(parse_pipeline(processor), registry, on_stats=reports.append)
    (stats,) = reports
    assert (stats["inputMessageCount"], stats["outputMessageCount"], stats["dlqMessageCount"]) == (4, 2, 2)
    found = [(op["name"], op["inputMessageCount"], op["outputMessageCount"], op["dlqMessageCount"]) for op in stats["operatorStats"]]
    assert found == [("$source", 4, 4, 0), ("$validate", 4, 3, 1), ("$merge", 3, 2, 1)]
    assert db.dlq.count_documents({}) == stats["dlqMessageCount"]
    assert db.red.count_documents({}) + db.blue.count_documents({}) == stats["outputMessageCount"]
    assert stats["outputMessageSize"] > 0 and stats["operatorStats"][2]["dlqMessageSize"] > 0


def test_json_log_lines_are_redacted(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("SLUICE_LOG_FORMAT", "json")
    root = logging.getLogger()
    before = list(root.handlers)
    configure_logging("logged", redact)
    try:
        logging.getLogger("sluice.test").warning("cannot reach %s", "mongodb://alice:s3cret@db:27017/", extra={"stage": "0:$source"})
    finally:
        root.handlers = before
    (line,) = capsys.readouterr().err.splitlines()
    entry = json.loads(line)
    assert "s3cret" not in line
    assert entry["level"] == "warning" and entry["processor"] == "logged" and entry["stage"] == "0:$source"
    assert entry["message"].startswith("cannot reach mongodb://") and entry["time"].endswith("Z") and "worker" in entry


def test_bad_settings_are_one_line_errors(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    in_use = f"127.0.0.1:{taken.getsockname()[1]}"
    cases = (("SLUICE_LOG_FORMAT", "xml", "SLUICE_LOG_FORMAT"), ("SLUICE_METRICS_ADDR", "nowhere", "HOST:PORT"),
             ("SLUICE_METRICS_ADDR", in_use, "cannot serve metrics"))  # fmt: skip
    for name, value, expected in cases:
        env = {**os.environ, name: value}
        done = subprocess.run([*SLUICE, "process", write_pipeline(tmp_path, PIPELINE)], capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 2 and expected in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert done.stdout == ""
    taken.close()


def test_ctrl_c_still_prints_the_stats(tmp_path: Path) -> None:
    pipeline = {"name": "endless", "pipeline": [{"$source": {"connectionName": "sample_stream_solar"}}]}
    proc = subprocess.Popen([*SLUICE, "process", write_pipeline(tmp_path, pipeline), "--stats"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        first = proc.stdout.readline()  # the flow runs
        assert first.startswith("{")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    (line,) = [line for line in err.splitlines() if line.startswith("stats: ")]
    stats = loads(line.removeprefix("stats: "))
    assert stats["status"] == "stopped"
    assert stats["outputMessageCount"] == 1 + len(out.splitlines()) == stats["inputMessageCount"]


@pytest.mark.integration
def test_cached_lookup_reports_its_cache_as_state(db, mongodb_uri: str) -> None:
    db.customers.insert_many([{"_id": 1, "name": "ada"}, {"_id": 2, "name": "bob"}])
    pipeline = [
        {"$source": {"documents": [{"customerId": n % 3} for n in range(9)]}},
        {"$cachedLookup": {"from": {"connectionName": "atlas", "db": db.name, "coll": "customers"}, "localField": "customerId",
                           "foreignField": "_id", "ttl": {"size": 5, "unit": "minute"}, "as": "customer"}},
    ]  # fmt: skip
    registry = parse_registry({"connections": {"atlas": {"type": "mongodb", "uri": mongodb_uri}}, "default": "atlas"})
    reports: list = []
    process(parse_pipeline(pipeline), registry, output=io.StringIO(), on_stats=reports.append)
    (stats,) = reports
    lookup = stats["operatorStats"][1]
    assert (lookup["inputMessageCount"], lookup["outputMessageCount"]) == (9, 9)
    assert lookup["stateSize"] > 0 and stats["stateSize"] == lookup["stateSize"] and lookup["executionTime"] > 0
