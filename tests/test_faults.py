"""Fault injection: signals, SIGKILLs, lost members and restarted servers, with exact results.

Every expected result is computed from the test's own input. Waits poll for a condition
with a generous deadline; nothing sleeps and hopes.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import signal
import socket
import subprocess
import sys
import termios
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import orjson
import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from pymongo.errors import BulkWriteError, PyMongoError
from test_kafka_connectors import consume, new_topic, produce, produce_slowly

from runtime import ejson
from connectors.kafka import MESSAGE_ID_HEADER
from connectors.mongodb_support import connect
from connectors.sample_solar import solar_reading

pytestmark = pytest.mark.faults

ROOT = Path(__file__).resolve().parent.parent
F_GETPIPE_SZ = 1032  # Linux's fcntl for a pipe's capacity


def wait_for(condition: Callable[[], object], what: str, timeout: float = 90, explain: Callable[[], str] = str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what} {explain()}")
        time.sleep(0.05)


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def flow_env(tmp_path: Path, pipeline: object, connections: dict) -> dict:
    (tmp_path / "pipeline.json").write_text(json.dumps(pipeline))
    (tmp_path / "connections.json").write_text(json.dumps({"connections": connections}))
    return {
        **os.environ,
        "SLUICE_PIPELINE": str(tmp_path / "pipeline.json"),
        "SLUICE_CONNECTIONS": str(tmp_path / "connections.json"),
        "RUST_BACKTRACE": "1",
    }


def recovery_dir(tmp_path: Path, parts: int = 1) -> str:
    path = tmp_path / "recovery"
    path.mkdir()
    subprocess.run([sys.executable, "-m", "bytewax.recovery", str(path), str(parts)], check=True, cwd=ROOT)
    return str(path)


def bytewax_run(env: dict, *flags: str, stdout=subprocess.PIPE, stderr=subprocess.PIPE) -> subprocess.Popen:
    command = [sys.executable, "-m", "bytewax.run", "flows.pipeline", *flags]
    return subprocess.Popen(command, stdout=stdout, stderr=stderr, text=True, env=env, cwd=ROOT)


class Flow:
    """A flow under recovery (a snapshot a second) that a test kills, stops and restarts."""

    def __init__(self, tmp_path: Path, pipeline: object, connections: dict, *flags: str, recovery: str | None = None) -> None:
        self.env = flow_env(tmp_path, pipeline, connections)
        self.flags = ("-r", recovery or recovery_dir(tmp_path), "-s", "1", "-b", "0", *flags)
        self.log = tmp_path / f"flow{'_'.join(flags)}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Flow:
        with self.log.open("a") as log:
            self.proc = bytewax_run(self.env, *self.flags, stdout=log, stderr=log)
        return self

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=60)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=120)

    def output(self) -> str:
        return self.log.read_text()


def assert_clean_stop(err: str, signame: str) -> None:
    """One line on stderr, the signal's; no Rust panic, no Python traceback."""
    assert err.startswith(f"sluice: {signame} received") and err.count("\n") == 1, err


SOLAR = [{"$source": {"connectionName": "sample_stream_solar"}}, {"$project": {"_ts": 0, "_stream_meta": 0, "timestamp": 0}}]


def solar(rate: int, limit: int | None = None, seed: int = 5) -> dict:
    entry = {"type": "sample_stream_solar", "rate": rate, "seed": seed}
    return {"sample_stream_solar": entry if limit is None else {**entry, "limit": limit}}


@pytest.mark.parametrize(
    ("entry", "signum", "status"),
    [
        ("bytewax.run", signal.SIGTERM, 0),
        ("bytewax.run -w 2", signal.SIGINT, 130),
        ("sluice process", signal.SIGTERM, 0),
    ],
)
def test_a_signal_stops_the_flow_cleanly(tmp_path: Path, entry: str, signum: int, status: int) -> None:
    env = flow_env(tmp_path, SOLAR, solar(rate=200))
    if entry == "sluice process":
        command = [sys.executable, "-m", "translator.cli", "process", env["SLUICE_PIPELINE"]]
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    else:
        proc = bytewax_run(env, *entry.split()[1:])
    assert ejson.loads(proc.stdout.readline())["device_id"].startswith("device_")
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == status
    assert_clean_stop(err, signal.Signals(signum).name)
    assert all(ejson.loads(line)["device_id"] for line in out.splitlines())  # no half-written line


def test_a_second_signal_forces_the_exit(tmp_path: Path) -> None:
    """The console sink blocks on a full pipe, so the clean stop cannot finish: the second signal ends it."""
    proc = bytewax_run(flow_env(tmp_path, SOLAR, solar(rate=100_000)))
    capacity = fcntl.fcntl(proc.stdout.fileno(), F_GETPIPE_SZ)  # 64 KiB, unless the kernel gave this pipe less

    def unread() -> int:
        return int.from_bytes(fcntl.ioctl(proc.stdout.fileno(), termios.FIONREAD, b"\0\0\0\0"), "little")

    wait_for(
        lambda: unread() >= capacity - min(io.DEFAULT_BUFFER_SIZE, capacity // 2),
        "a full stdout pipe",
        explain=lambda: f"(capacity {capacity}, unread {unread()}, exit status {proc.poll()})",
    )
    proc.send_signal(signal.SIGTERM)
    assert proc.stderr.readline().startswith("sluice: SIGTERM received")
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM


def test_sigterm_then_restart_replays_nothing(tmp_path: Path) -> None:
    """The stop's last checkpoint covers everything emitted: a 60 s snapshot interval replays nothing."""
    limit = 3000
    env = flow_env(tmp_path, SOLAR, solar(rate=500, limit=limit))
    flags = ("-r", recovery_dir(tmp_path), "-s", "60", "-b", "0")
    out = tmp_path / "out.jsonl"
    with out.open("a") as stdout:
        proc = bytewax_run(env, *flags, stdout=stdout)
        wait_for(lambda: len(lines(out)) >= 300, "output before the stop")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0
    assert_clean_stop(err, "SIGTERM")
    first_run = len(lines(out))
    assert first_run < limit, "the stop must land mid-stream"
    with out.open("a") as stdout:
        proc = bytewax_run(env, *flags, stdout=stdout)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    expected = [solar_reading(5, n, datetime.now(timezone.utc)) for n in range(limit)]
    for reading in expected:
        del reading["timestamp"]
    assert [ejson.loads(line) for line in lines(out)] == expected


def mongo(uri: str) -> dict:
    return {"mongo": {"type": "mongodb", "uri": uri}}


def open_stream(flow: Flow, events, is_seen: Callable[[], object]) -> None:
    """Probe events until the flow shows one: its change stream is open from then on."""
    deadline = time.monotonic() + 90
    while not is_seen():
        assert flow.proc.poll() is None and time.monotonic() < deadline, flow.output()
        events.insert_one({"probe": True})
        time.sleep(0.3)


def write_slowly(events, docs: list[dict], per_batch: int = 20, pause: float = 0.02) -> threading.Thread:
    """Insert ``docs`` a batch at a time in the background: a live stream the test kills the flow in."""

    def run() -> None:
        for start in range(0, len(docs), per_batch):
            events.insert_many([dict(doc) for doc in docs[start : start + per_batch]])
            time.sleep(pause)

    writer = threading.Thread(target=run, daemon=True)
    writer.start()
    return writer


def kill_and_restart_at(flow: Flow, progress: Callable[[], int], marks: list[int]) -> None:
    """SIGKILL the flow once ``progress()`` passes each mark, restarting it at once."""
    for mark in marks:
        wait_for(lambda: progress() >= mark, f"progress {mark}", explain=flow.output)
        flow.kill()
        flow.start()


def additive_pipeline(db_name: str) -> list:
    return [
        {"$source": {"connectionName": "mongo", "db": db_name, "coll": "events"}},
        {"$replaceRoot": {"newRoot": {
            "_id": {"$ifNull": ["$fullDocument.device", "probe"]},
            "total": {"$ifNull": ["$fullDocument.n", 0]},
            "count": 1,
        }}},
        {"$merge": {
            "into": {"connectionName": "mongo", "db": db_name, "coll": "totals"},
            "whenMatched": [{"$set": {"total": {"$add": ["$total", "$$new.total"]}, "count": {"$add": ["$count", "$$new.count"]}}}],
            "whenNotMatched": "insert",
        }},
    ]


def expected_totals(docs: list[dict]) -> dict:
    expected: dict = {}
    for doc in docs:
        total = expected.setdefault(doc["device"], {"total": 0, "count": 0})
        total["total"] += doc["n"]
        total["count"] += 1
    return expected


class Totals:
    """What :func:`additive_pipeline` merged into ``totals`` (its probe aside)."""

    def __init__(self, db) -> None:
        self.db = db

    def read(self) -> dict:
        return {doc["_id"]: {"total": doc["total"], "count": doc["count"]} for doc in self.db.totals.find({"_id": {"$ne": "probe"}})}

    def applied(self) -> int:
        return sum(total["count"] for total in self.read().values())


@pytest.mark.integration
def test_a_sigkill_before_the_first_checkpoint_loses_no_event(db, mongodb_uri, tmp_path: Path) -> None:
    """No checkpoint is ever taken (60 s epochs): the restart opens its change stream where the
    first run began, so the events written before, during and after the kill all arrive."""
    docs = [{"device": f"d{i % 3}", "n": 1} for i in range(90)]
    totals, applied = Totals(db).read, Totals(db).applied
    flow = Flow(tmp_path, additive_pipeline(db.name), mongo(mongodb_uri), "-s", "60").start()
    try:
        open_stream(flow, db.events, lambda: db.totals.find_one({"_id": "probe"}))
        db.events.insert_many([dict(doc) for doc in docs[:30]])
        wait_for(lambda: applied() == 30, "the first events applied", explain=lambda: str(totals()))
        flow.kill()
        db.events.insert_many([dict(doc) for doc in docs[30:60]])
        flow.start()
        db.events.insert_many([dict(doc) for doc in docs[60:]])
        wait_for(lambda: applied() >= 90, "every event applied", explain=lambda: str(totals()))
        assert flow.stop() == 0, flow.output()
    finally:
        flow.stop()
    assert totals() == expected_totals(docs)


@pytest.mark.integration
def test_additive_merge_totals_stay_exact_across_sigkills(db, mongodb_uri, tmp_path: Path) -> None:
    count, devices = 2400, 12
    docs = [{"device": f"d{i % devices}", "n": i % 7 + 1} for i in range(count)]
    expected = expected_totals(docs)

    totals, applied = Totals(db).read, Totals(db).applied

    flow = Flow(tmp_path, additive_pipeline(db.name), mongo(mongodb_uri)).start()
    try:
        open_stream(flow, db.events, lambda: db.totals.find_one({"_id": "probe"}))
        writer = write_slowly(db.events, docs)
        kill_and_restart_at(flow, applied, [k * count // 7 for k in range(1, 6)])  # 5 SIGKILLs
        writer.join(timeout=120)
        wait_for(lambda: applied() >= count, "every event applied", explain=lambda: str(totals()))
        assert flow.stop() == 0, flow.output()
    finally:
        flow.stop()
    assert totals() == expected


@pytest.mark.integration
def test_merge_on_a_unique_field_takes_replays_without_dead_letters(db, mongodb_uri, tmp_path: Path) -> None:
    """A replayed document collides on _id and on the ``on`` index alike, whichever mongod names."""
    skus, rounds = 40, 30
    db.latest.create_index("sku", unique=True)
    pipeline = {
        "name": "stock",
        "pipeline": [
            {"$source": {"connectionName": "mongo", "db": db.name, "coll": "stock"}},
            {"$replaceRoot": {"newRoot": {
                "_id": {"$ifNull": ["$fullDocument.skuId", "probe"]},
                "sku": {"$ifNull": ["$fullDocument.sku", "probe"]},
                "qty": {"$ifNull": ["$fullDocument.qty", 0]},
            }}},
            {"$merge": {"into": {"connectionName": "mongo", "db": db.name, "coll": "latest"}, "on": "sku", "whenMatched": "merge"}},
        ],
        "options": {"dlq": {"connectionName": "mongo", "db": db.name, "coll": "dlq"}},
    }
    docs = [{"skuId": i, "sku": f"s{i}", "qty": n} for n in range(1, rounds + 1) for i in range(skus)]
    final = {f"s{i}": {"_id": i, "sku": f"s{i}", "qty": rounds} for i in range(skus)}

    def latest() -> dict:
        return {doc["sku"]: {k: doc[k] for k in ("_id", "sku", "qty")} for doc in db.latest.find({"sku": {"$ne": "probe"}})}

    flow = Flow(tmp_path, pipeline, mongo(mongodb_uri)).start()
    try:
        open_stream(flow, db.stock, lambda: db.latest.find_one({"sku": "probe"}))
        writer = write_slowly(db.stock, docs)
        progress = lambda: sum(doc["qty"] for doc in latest().values())  # noqa: E731
        kill_and_restart_at(flow, progress, [skus * rounds // 5, 2 * skus * rounds // 5])
        writer.join(timeout=120)
        explain = lambda: f"{latest()}\nflow exit status {flow.proc.poll()}, output: {flow.output()[-3000:]}"  # noqa: E731
        wait_for(lambda: latest() == final, "the target to follow every event", explain=explain)
        assert flow.stop() == 0, flow.output()
    finally:
        flow.stop()
    assert list(db.dlq.find({}, {"errInfo": 1, "_id": 0})) == []


def kafka(bootstrap: str) -> dict:
    return {"kafka": {"type": "kafka", "bootstrapServers": bootstrap}}


def header(message, name: str) -> str | None:
    return next((value.decode() for key, value in message.headers() or [] if key == name), None)


@pytest.mark.integration
def test_a_kafka_flow_killed_before_its_first_checkpoint_loses_no_message(kafka_bootstrap, tmp_path: Path) -> None:
    """Under the default ``latest``, the restart still begins at the first run's start (60 s epochs: no checkpoint)."""
    in_topic, out_topic = new_topic(kafka_bootstrap, partitions=2), f"o{uuid.uuid4().hex[:8]}"
    pipeline = {"name": "relay", "pipeline": [
        {"$source": {"connectionName": "kafka", "topic": in_topic}},
        {"$emit": {"connectionName": "kafka", "topic": out_topic}},
    ]}  # fmt: skip
    batches = [[{"value": orjson.dumps({"batch": b, "i": i}), "partition": i % 2} for i in range(20)] for b in range(3)]
    relayed = lambda: {(doc["batch"], doc["i"]) for doc in map(ejson.loads, (m.value() for m in consume(kafka_bootstrap, out_topic, 0, timeout=3, quiet=0.3)))}  # noqa: E731
    flow = Flow(tmp_path, pipeline, kafka(kafka_bootstrap), "-s", "60").start()
    try:
        wait_for(lambda: (tmp_path / "recovery" / "sluice-start.json").exists(), "the first start recorded", explain=flow.output)
        produce(kafka_bootstrap, in_topic, batches[0])
        wait_for(lambda: len(relayed()) == 20, "the first batch relayed", explain=flow.output)
        flow.kill()
        produce(kafka_bootstrap, in_topic, batches[1])
        flow.start()
        produce(kafka_bootstrap, in_topic, batches[2])
        wait_for(lambda: len(relayed()) == 60, "every batch relayed", explain=lambda: f"{sorted(relayed())} {flow.output()}")
        assert flow.stop() == 0, flow.output()
    finally:
        flow.stop()


@pytest.mark.integration
def test_window_results_after_sigkills_are_exact_once_deduplicated_by_id(kafka_bootstrap, tmp_path: Path) -> None:
    in_topic, out_topic = new_topic(kafka_bootstrap, partitions=2), f"w{uuid.uuid4().hex[:8]}"
    windows, per_window, keys = 30, 60, 3
    start = 1_714_557_600_000  # event times in 2024: the watermark moves with the data only
    messages, expected = [], {}
    for w in range(windows):
        for i in range(per_window):
            doc = {"at": start + w * 1000 + i * 10, "k": i % keys, "v": i}
            messages.append({"value": orjson.dumps(doc), "partition": i % 2})
            result = expected.setdefault((w, doc["k"]), {"n": 0, "s": 0})
            result["n"] += 1
            result["s"] += i
    # Far-future events on both partitions close every window.
    messages += [{"value": orjson.dumps({"at": start + 3_600_000, "k": -1, "v": 0}), "partition": p} for p in (0, 1)]
    pipeline = {"name": "windows", "pipeline": [
        {"$source": {"connectionName": "kafka", "topic": in_topic, "timeField": {"$toDate": "$at"},
                     "config": {"auto_offset_reset": "earliest"}}},
        {"$tumblingWindow": {"interval": {"size": 1, "unit": "second"},
                             "pipeline": [{"$group": {"_id": "$k", "n": {"$sum": 1}, "s": {"$sum": "$v"}}}]}},
        {"$emit": {"connectionName": "kafka", "topic": out_topic}},
    ]}
    flow = Flow(tmp_path, pipeline, kafka(kafka_bootstrap)).start()
    try:
        producer = threading.Thread(target=produce_slowly, args=(kafka_bootstrap, in_topic, messages, 600), daemon=True)
        producer.start()
        emitted = lambda: len({header(m, MESSAGE_ID_HEADER) for m in consume(kafka_bootstrap, out_topic, 0, timeout=3, quiet=0.3)})  # noqa: E731
        kill_and_restart_at(flow, emitted, [k * windows * keys // 7 for k in range(1, 6)])  # 5 SIGKILLs
        producer.join(timeout=120)
        wait_for(lambda: emitted() >= windows * keys, "every window", explain=flow.output)
        assert flow.stop() == 0, flow.output()
    finally:
        flow.stop()
    by_id: dict[str, dict] = {}
    for message in consume(kafka_bootstrap, out_topic, windows * keys, timeout=30, quiet=1):
        doc = ejson.loads(message.value())
        replay_id = header(message, MESSAGE_ID_HEADER)
        assert by_id.setdefault(replay_id, doc) == doc, "a copy differs from the first emission"
    got = {}
    for doc in by_id.values():
        window = (int(doc["_stream_meta"]["window"]["start"].timestamp() * 1000) - start) // 1000
        got[(window, doc["_id"])] = {"n": doc["n"], "s": doc["s"]}
    got.pop((3600, -1), None)  # the closing events' own window, if it closed
    assert got == expected


@pytest.mark.integration
@pytest.mark.parametrize("policy", [None, "earliest"])
def test_a_recreated_topic_under_a_resumed_flow_is_never_a_silent_gap(kafka_bootstrap, tmp_path: Path, policy) -> None:
    in_topic, out_topic = new_topic(kafka_bootstrap, partitions=1), f"o{uuid.uuid4().hex[:8]}"
    source = {"connectionName": "kafka", "topic": in_topic}
    if policy is not None:
        source["config"] = {"auto_offset_reset": policy}
    pipeline = {"name": "copy", "pipeline": [{"$source": source}, {"$project": {"n": 1, "_id": 0}}, {"$emit": {"connectionName": "kafka", "topic": out_topic}}]}
    flow = Flow(tmp_path, pipeline, kafka(kafka_bootstrap)).start()
    try:
        # Without a policy a first start reads from the end: wait for the flow before producing.
        wait_for(lambda: produce(kafka_bootstrap, in_topic, [{"value": b'{"n": -1}'}]) or consume(kafka_bootstrap, out_topic, 0, timeout=2, quiet=0.2), "the flow to read", explain=flow.output)
        produce(kafka_bootstrap, in_topic, [{"value": orjson.dumps({"n": n})} for n in range(60)])
        wait_for(lambda: {0, 59} <= {ejson.loads(m.value())["n"] for m in consume(kafka_bootstrap, out_topic, 0, timeout=3, quiet=0.3)}, "the first messages", explain=flow.output)
        assert flow.stop() == 0, flow.output()
        before = len(consume(kafka_bootstrap, out_topic, 0, timeout=10, quiet=0.5))
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
        admin.delete_topics([in_topic])[in_topic].result(timeout=10)
        wait_for(lambda: in_topic not in admin.list_topics(timeout=10).topics, "the topic to go")
        admin.create_topics([NewTopic(in_topic, 1, 1)])[in_topic].result(timeout=10)
        produce(kafka_bootstrap, in_topic, [{"value": orjson.dumps({"n": 100 + n})} for n in range(90)])
        flow.start()
        if policy is None:
            status = flow.proc.wait(timeout=120)
            assert status != 0
            assert f"kafka $source {in_topic}[0]: the topic was re-created" in flow.output()
            assert "resume offset" in flow.output() and "the source stops" in flow.output()
            assert len(consume(kafka_bootstrap, out_topic, 0, timeout=5, quiet=0.5)) == before
        else:
            seen: list = []

            def every_new_one() -> bool:  # judged on one read: a later read may come back short under load
                seen[:] = sorted(n for m in consume(kafka_bootstrap, out_topic, 0, timeout=3, quiet=0.3) if (n := ejson.loads(m.value())["n"]) >= 100)
                return len(seen) >= 90

            wait_for(every_new_one, "every message of the new topic", explain=flow.output)
            assert seen == list(range(100, 190))
            assert "auto_offset_reset earliest: resuming at offset 0" in flow.output()
            assert flow.stop() == 0
    finally:
        flow.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.integration
def test_a_cluster_that_lost_a_member_restarts_whole_and_loses_nothing(db, mongodb_uri, tmp_path: Path) -> None:
    """The README's rule: when one member dies the others exit too, and every member restarts."""
    count, devices = 1600, 8
    docs = [{"device": f"d{i % devices}", "n": i % 5 + 1} for i in range(count)]
    expected = expected_totals(docs)
    addresses = f"127.0.0.1:{free_port()};127.0.0.1:{free_port()}"
    recovery = recovery_dir(tmp_path, parts=2)
    members = [
        Flow(tmp_path, additive_pipeline(db.name), mongo(mongodb_uri), "-i", str(i), "-a", addresses, recovery=recovery)
        for i in (0, 1)
    ]

    totals, applied = Totals(db).read, Totals(db).applied

    for member in members:
        member.start()
    try:
        open_stream(members[0], db.events, lambda: db.totals.find_one({"_id": "probe"}))
        writer = write_slowly(db.events, docs, pause=0.05)
        wait_for(lambda: applied() >= count // 3, "progress", explain=members[0].output)
        members[1].kill()
        # The survivor notices and exits with one line, not a traceback, so a supervisor restarts it.
        assert members[0].proc.wait(timeout=60) != 0
        assert "sluice: lost a member of the cluster" in members[0].output()
        assert "Traceback" not in members[0].output()
        for member in members:
            member.start()
        writer.join(timeout=120)
        wait_for(lambda: applied() >= count, "every event applied", explain=lambda: str(totals()) + members[0].output())
    finally:
        for member in members:
            member.stop()
    assert totals() == expected


class Secantus:
    """A SecantusDB of the test's own on a storage path it keeps across restarts."""

    def __init__(self, storage: Path) -> None:
        self.port = free_port()
        self.storage = storage
        self.uri = f"mongodb://127.0.0.1:{self.port}/?replicaSet=secantus"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        server = Path(sys.executable).parent / "secantusd-py"
        command = [str(server), "--host", "127.0.0.1", "--port", str(self.port), "--storage-path", str(self.storage)]
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)


@pytest.mark.integration
def test_change_stream_resumes_across_a_restarted_server(tmp_path: Path) -> None:
    count, devices = 1200, 6
    docs = [{"device": f"d{i % devices}", "n": i % 3 + 1} for i in range(count)]
    expected = expected_totals(docs)
    server = Secantus(tmp_path / "db")
    server.start()
    client = connect(server.uri, serverSelectionTimeoutMS=60_000)
    db = client["restart"]
    flow = Flow(tmp_path, additive_pipeline("restart"), mongo(server.uri))

    totals, applied = Totals(db).read, Totals(db).applied

    written = threading.Event()

    def write() -> None:
        """Every event exactly once, across the outage: a batch is retried only if none of it landed."""
        for start in range(0, count, 20):
            batch = [{"_id": start + i, **doc} for i, doc in enumerate(docs[start : start + 20])]
            while True:
                try:
                    db.events.insert_many(batch, ordered=False)
                    break
                except BulkWriteError as exc:  # a retry: what landed before is a duplicate, the rest lands now
                    assert {error["code"] for error in exc.details["writeErrors"]} == {11000}
                    break
                except PyMongoError:
                    time.sleep(0.2)
            time.sleep(0.02)
        written.set()

    try:
        flow.start()
        open_stream(flow, db.events, lambda: db.totals.find_one({"_id": "probe"}))
        threading.Thread(target=write, daemon=True).start()
        wait_for(lambda: applied() >= count // 3, "progress", explain=flow.output)
        server.stop()
        server.start()
        wait_for(written.is_set, "the writer", timeout=120)
        wait_for(lambda: applied() >= count, "every event applied", explain=lambda: str(totals()) + flow.output())
        assert flow.stop() == 0, flow.output()
        assert totals() == expected
    finally:
        flow.stop()
        client.close()
        server.stop()
