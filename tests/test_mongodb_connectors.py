"""MongoDB connectors under hand-written Bytewax flows, against SecantusDB.

Change-stream source (batching, options, resume, failures), $merge sink (every mode,
replays, dynamic targets, DLQ), lookups and the DLQ writer. End-to-end pipelines live in
tests/test_mongodb_pipelines.py.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import bytewax.operators as op
import pytest
from bytewax.dataflow import Dataflow
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.testing import TestingSink, TestingSource, run_main
from bson.timestamp import Timestamp
from pymongo import monitoring

from runtime.dead_letters import DeadLetters, dead_letter
from connectors.mongodb_change_stream import ChangeStreamSource
from connectors.mongodb_dlq import MongoDeadLetterWriter
from connectors.mongodb_lookup import CachedMongoLookup, MongoLookup
from connectors.mongodb_merge import MergeSink, MergeWriter
from connectors.mongodb_support import connect, redact
from pipeline_runner import without_stream_fields

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SECANTUSD = str(Path(PYTHON).with_name("secantusd-py"))


# ---------------------------------------------------------------- helpers


def _token_now(target) -> dict:
    """A resume token for "now", so that writes made next are read back by a flow."""
    with target.watch() as stream:
        return stream.resume_token


class _Until(FixedPartitionedSource):
    """Test-only wrapper: ends a never-ending source once ``want`` documents came out."""

    def __init__(self, inner: FixedPartitionedSource, want: int, timeout: float = 30.0):
        self._inner = inner
        self._want = want
        self._seen = [0]
        self._deadline = time.monotonic() + timeout

    def list_parts(self):
        return self._inner.list_parts()

    def build_part(self, step_id, for_part, resume_state):
        return _UntilPartition(self, self._inner.build_part(step_id, for_part, resume_state))


class _UntilPartition(StatefulSourcePartition):
    def __init__(self, owner: _Until, inner: StatefulSourcePartition):
        self._owner = owner
        self._inner = inner

    def next_batch(self):
        owner = self._owner
        if owner._seen[0] >= owner._want or time.monotonic() > owner._deadline:
            raise StopIteration
        chunks = self._inner.next_batch()
        owner._seen[0] += sum(len(chunk) for chunk in chunks if type(chunk) is not DeadLetters)
        return chunks

    def next_awake(self):
        return self._inner.next_awake()

    def snapshot(self):
        return self._inner.snapshot()

    def close(self):
        self._inner.close()


def _read(source: ChangeStreamSource, want: int) -> list:
    """Run source → list sink until ``want`` documents came out; return the chunks."""
    chunks: list = []
    flow = Dataflow("read")
    op.output("out", op.input("in", flow, _Until(source, want)), TestingSink(chunks))
    run_main(flow)
    return chunks


def _docs(chunks: list) -> list:
    return [doc for chunk in chunks if type(chunk) is not DeadLetters for doc in chunk]


def _dead(chunks: list) -> list:
    return [record for chunk in chunks if type(chunk) is DeadLetters for record in chunk]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(port: int, storage: str, *extra: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [SECANTUSD, "--host", "127.0.0.1", "--port", str(port), "--storage-path", storage, *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    probe = connect(f"mongodb://127.0.0.1:{port}/?replicaSet=secantus", serverSelectionTimeoutMS=500)
    deadline = time.monotonic() + 20
    while True:
        try:
            probe.admin.command("ping")
            break
        except Exception:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.1)
    probe.close()
    return proc


@contextmanager
def _private_server(*extra: str, storage: str = ":memory:"):
    """A SecantusDB of the test's own, for what would disturb the shared one."""
    port = _free_port()
    procs = [_start_server(port, storage, *extra)]

    def restart() -> None:
        procs.append(_start_server(port, storage, *extra))

    try:
        yield f"mongodb://127.0.0.1:{port}/?replicaSet=secantus", procs, restart
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


class _Commands(monitoring.CommandListener):
    """Counts the commands a client sends, by name."""

    def __init__(self):
        self.names: list[str] = []

    def started(self, event):
        self.names.append(event.command_name)

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


class _ListWriter:
    """A DeadLetterWriter keeping what it gets, for assertions."""

    records: list = []

    def __init__(self):
        _ListWriter.records = []

    def write(self, records):
        _ListWriter.records.extend(records)

    def close(self):
        pass


# ---------------------------------------------------------------- change stream


def test_change_stream_drains_available_events_into_few_chunks(db, mongodb_uri):
    token = _token_now(db.sales)
    db.sales.insert_many([{"_id": i, "amount": i} for i in range(500)])
    source = ChangeStreamSource(mongodb_uri, db=db.name, coll="sales", start_after=token)
    chunks = _read(source, 500)
    docs = _docs(chunks)
    assert [doc["fullDocument"]["_id"] for doc in docs] == list(range(500))
    assert len(chunks) <= 5, "events already available must come out together, not one item each"
    first = docs[0]
    assert first["operationType"] == "insert"
    position = first["_stream_meta"]["source"].pop("position")
    assert first["_stream_meta"] == {
        "source": {"type": "atlas", "db": db.name, "coll": "sales", "operationType": "insert"}
    }
    assert position == f"{first['clusterTime'].time:08x}{first['clusterTime'].inc:08x}000000"
    assert sorted(doc["_stream_meta"]["source"]["position"] for doc in docs[1:]) == [
        doc["_stream_meta"]["source"]["position"] for doc in docs[1:]
    ], "positions grow with the stream"
    assert first["_ts"] == first["wallTime"] and first["_ts"].tzinfo is not None


def test_full_document_only_with_server_side_pipeline(db, mongodb_uri):
    token = _token_now(db.sales)
    db.sales.insert_many([{"_id": i, "amount": i * 500} for i in range(5)])  # 0, 500, ..., 2000
    db.sales.update_one({"_id": 1}, {"$set": {"amount": 5000}})
    db.sales.delete_one({"_id": 4})
    source = ChangeStreamSource(
        mongodb_uri,
        db=db.name,
        coll="sales",
        start_after=token,
        full_document_only=True,
        pipeline=[{"$match": {"operationType": {"$ne": "delete"}, "fullDocument.amount": {"$gt": 1000}}}],
        ts_field_name="eventTime",
    )
    docs = _docs(_read(source, 3))
    assert [without_stream_fields(doc) for doc in docs] == [
        {"_id": 3, "amount": 1500, "eventTime": docs[0]["eventTime"]},
        {"_id": 4, "amount": 2000, "eventTime": docs[1]["eventTime"]},
        {"_id": 1, "amount": 5000, "eventTime": docs[2]["eventTime"]},
    ]
    assert all("_ts" not in doc for doc in docs)
    assert docs[2]["_stream_meta"]["source"]["operationType"] == "update"


def test_deletes_are_skipped_with_full_document_only(db, mongodb_uri):
    token = _token_now(db.sales)
    db.sales.insert_one({"_id": 1})
    db.sales.delete_one({"_id": 1})
    db.sales.insert_one({"_id": 2})
    source = ChangeStreamSource(mongodb_uri, db=db.name, coll="sales", start_after=token, full_document_only=True)
    assert [doc["_id"] for doc in _docs(_read(source, 2))] == [1, 2]


def test_several_collections_database_and_cluster_streams(db, mongodb_uri):
    start = db.client.admin.command("ping")["operationTime"]
    for name in ("a", "b", "c"):
        db[name].insert_one({"_id": name})
    only_ours = [{"$match": {"ns.db": db.name}}]

    colls = ChangeStreamSource(mongodb_uri, db=db.name, coll=["a", "b"], start_at_operation_time=start)
    assert colls.list_parts() == [f"{db.name}.a", f"{db.name}.b"]
    assert sorted(doc["documentKey"]["_id"] for doc in _docs(_read(colls, 2))) == ["a", "b"]

    database = ChangeStreamSource(mongodb_uri, db=db.name, start_at_operation_time=start)
    assert database.list_parts() == [db.name]
    assert [doc["ns"]["coll"] for doc in _docs(_read(database, 3))] == ["a", "b", "c"]

    cluster = ChangeStreamSource(mongodb_uri, start_at_operation_time=start, pipeline=only_ours)
    assert cluster.list_parts() == ["*"]
    docs = _docs(_read(cluster, 3))
    assert [doc["_stream_meta"]["source"]["coll"] for doc in docs] == ["a", "b", "c"]


def test_full_document_before_change_and_required_full_document(db, mongodb_uri):
    db.create_collection("sales", changeStreamPreAndPostImages={"enabled": True})
    token = _token_now(db.sales)
    db.sales.insert_one({"_id": 1, "amount": 10})
    db.sales.update_one({"_id": 1}, {"$set": {"amount": 20}})
    source = ChangeStreamSource(
        mongodb_uri,
        db=db.name,
        coll="sales",
        start_after=token,
        full_document="required",
        full_document_before_change="whenAvailable",
    )
    update = _docs(_read(source, 2))[1]
    assert update["fullDocumentBeforeChange"] == {"_id": 1, "amount": 10}
    assert update["fullDocument"] == {"_id": 1, "amount": 20}


def test_start_at_operation_time(db, mongodb_uri):
    db.sales.insert_one({"_id": "before"})
    last = db.client.admin.command("ping")["operationTime"]  # the insert above; the start is inclusive
    start = Timestamp(last.time, last.inc + 1)
    db.sales.insert_one({"_id": "after"})
    source = ChangeStreamSource(mongodb_uri, db=db.name, coll="sales", start_at_operation_time=start)
    assert [doc["documentKey"]["_id"] for doc in _docs(_read(source, 1))] == ["after"]


def test_time_field_sets_ts_and_failures_become_dead_letters(db, mongodb_uri):
    token = _token_now(db.sales)
    at = datetime(2024, 5, 1, tzinfo=timezone.utc)
    db.sales.insert_many([{"_id": 1, "at": at}, {"_id": 2}])

    def event_time(doc):
        return doc["at"]  # KeyError for the document without one

    source = ChangeStreamSource(
        mongodb_uri, db=db.name, coll="sales", start_after=token, full_document_only=True, time_field=event_time
    )
    chunks = _read(source, 1)
    assert [(doc["_id"], doc["_ts"]) for doc in _docs(chunks)] == [(1, at)]
    (record,) = _dead(chunks)
    assert record["doc"]["_id"] == 2 and record["errInfo"]["reason"].startswith("timeField:")


def test_invalidate_is_a_clear_failure(db, mongodb_uri):
    token = _token_now(db.sales)
    db.sales.insert_one({"_id": 1})
    db.sales.drop()
    source = ChangeStreamSource(mongodb_uri, db=db.name, coll="sales", start_after=token)
    with pytest.raises(Exception) as failure:
        _read(source, 10)
    text = "".join(traceback.format_exception(failure.value))
    assert f"change stream on {db.name}.sales" in text and "invalidated" in text


def test_lost_resume_point_is_a_clear_failure():
    with _private_server("--oplog-max-entries", "20") as (uri, _, _):
        mongo = connect(uri)
        mongo.shop.sales.insert_one({"_id": "first"})
        token = _token_now(mongo.shop.sales)
        mongo.shop.sales.insert_many([{"_id": i} for i in range(100)])
        mongo.admin.command({"secantusAdmin.pruneOplog": 1})
        partition = ChangeStreamSource(uri, db="shop", coll="sales").build_part("s", "shop.sales", token)
        with pytest.raises(RuntimeError, match="shop.sales .*ChangeStreamHistoryLost.*so the source stops"):
            _drain_partition(partition, 1)
        partition.close()


def _positions(partition, want: int, timeout: float = 30.0) -> list[str]:
    """The ``_stream_meta`` positions of the next ``want`` documents a partition emits."""
    found: list[str] = []
    deadline = time.monotonic() + timeout
    while len(found) < want:
        assert time.monotonic() < deadline, f"only {len(found)} of {want} events"
        found += [doc["_stream_meta"]["source"]["position"] for doc in _docs(partition.next_batch())]
    return found


def test_a_restart_inside_a_transaction_numbers_its_events_on(db, mongodb_uri):
    """A transaction's events share one cluster time and are numbered within it; a partition
    resumed from a snapshot taken between them numbers the rest as an unbroken run would."""
    token = _token_now(db.sales)
    client = connect(mongodb_uri)
    with client.start_session() as session, session.start_transaction():
        for _ in range(4):
            client[db.name].sales.update_one({"_id": "x"}, {"$inc": {"n": 1}}, upsert=True, session=session)
    client.close()
    source = ChangeStreamSource(mongodb_uri, db=db.name, coll="sales", start_after=token, max_batch_docs=1)
    part = f"{db.name}.sales"
    unbroken = source.build_part("s", part, None)
    whole = _positions(unbroken, 4)
    unbroken.close()
    assert len(set(whole)) == 4 and whole == sorted(whole)
    first = source.build_part("s", part, None)
    before = _positions(first, 2)
    snapshot = first.snapshot()
    first.close()
    resumed = source.build_part("s", part, snapshot)
    assert before + _positions(resumed, 2) == whole
    resumed.close()


def _within_one_second(steps) -> datetime:
    """Run ``steps`` inside one wall-clock second (retried from the next one if it crossed it); the moment after."""
    for _ in range(5):
        second = datetime.now(timezone.utc).replace(microsecond=0)
        while datetime.now(timezone.utc) < second + timedelta(seconds=1):
            pass  # busy-wait under a second: start at the top of a fresh second
        steps()
        after = datetime.now(timezone.utc)
        if after < second + timedelta(seconds=2):
            return after
    pytest.fail("the steps never fit in one second")


def test_a_first_start_just_after_a_drop_reads_on_from_that_moment(db, mongodb_uri):
    """The stream opens at the start of the processor's second; the drop earlier in that second
    (and its invalidate) and the insert before the start are left out, what follows is read."""

    def drop_and_refill() -> None:
        db.drop_collection("sales")
        db.sales.insert_one({"_id": "before"})

    db.sales.insert_one({"_id": "old"})
    begin = _within_one_second(drop_and_refill)
    source = ChangeStreamSource(mongodb_uri, db=db.name, coll="sales", begin_at=begin, full_document_only=True)
    partition = source.build_part("s", f"{db.name}.sales", None)
    db.sales.insert_many([{"_id": i} for i in range(3)])
    assert _drain_partition(partition, 3) == [0, 1, 2]
    assert partition.snapshot()["resume"] is not None
    partition.close()


def test_reconnects_after_server_restart_without_loss(tmp_path):
    with _private_server("--sync-on-commit", storage=str(tmp_path / "data")) as (uri, procs, restart):
        mongo = connect(uri)
        token = _token_now(mongo.shop.sales)
        source = ChangeStreamSource(uri, db="shop", coll="sales", start_after=token, full_document_only=True)
        partition = source.build_part("s", "shop.sales", None)
        mongo.shop.sales.insert_many([{"_id": i} for i in range(50)])
        seen = _drain_partition(partition, 50)
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait()
        time.sleep(1)
        assert partition.next_batch() == []  # the failure stays inside: the reader retries
        restart()
        mongo.shop.sales.insert_many([{"_id": i} for i in range(50, 100)])
        seen += _drain_partition(partition, 50)
        assert seen == list(range(100))
        partition.close()
        mongo.close()


def _drain_partition(partition, want: int, timeout: float = 30.0) -> list:
    seen: list = []
    deadline = time.monotonic() + timeout
    while len(seen) < want and time.monotonic() < deadline:
        awake = partition.next_awake()
        if awake is not None:
            time.sleep(max(0.0, (awake - datetime.now(timezone.utc)).total_seconds()))
        for chunk in partition.next_batch():
            seen.extend(doc["_id"] for doc in chunk)
    return seen


FLOW_WITH_RECOVERY = """
from bytewax.dataflow import Dataflow
import bytewax.operators as op
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from bson.timestamp import Timestamp
from connectors.mongodb_change_stream import ChangeStreamSource
from connectors.mongodb_merge import MergeSink
from connectors.mongodb_support import connect, redact

URI, DB, START = {uri!r}, {db!r}, Timestamp({start_time}, {start_inc})


class _Log(StatelessSinkPartition):
    # every document the flow emits, replays included: what the source re-read
    def __init__(self):
        self._coll = connect(URI)[DB]["emitted"]

    def write_batch(self, chunks):
        self._coll.insert_many([{{"sale": doc["_id"]}} for chunk in chunks for doc in chunk])


class LogSink(DynamicSink):
    def build(self, step_id, worker_index, worker_count):
        return _Log()


flow = Dataflow("resume")
up = op.input("in", flow, ChangeStreamSource(URI, db=DB, coll="sales", full_document_only=True,
                                             start_at_operation_time=START))
op.output("merge", up, MergeSink(URI, db=DB, coll="copy", when_matched="replace"))
op.output("log", up, LogSink())
"""


def _run_flow(module_dir: Path, module: str, recovery: Path, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [PYTHON, "-m", "bytewax.run", f"{module}:flow", "-r", str(recovery), "-s", "1", "-b", "0"],
        cwd=module_dir,
        env={**os.environ, "PYTHONPATH": f"{module_dir}:{ROOT}", **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_resumes_from_snapshot_after_sigkill(db, mongodb_uri, tmp_path):
    start = db.client.admin.command("ping")["operationTime"]
    (tmp_path / "resume_flow.py").write_text(
        FLOW_WITH_RECOVERY.format(uri=mongodb_uri, db=db.name, start_time=start.time, start_inc=start.inc)
    )
    recovery = tmp_path / "recovery"
    recovery.mkdir()
    subprocess.run([PYTHON, "-m", "bytewax.recovery", str(recovery), "1"], check=True, cwd=ROOT)
    total, killed_at = 3000, 1200

    def insert() -> None:
        for start_id in range(0, total, 50):
            db.sales.insert_many([{"_id": i, "amount": i} for i in range(start_id, start_id + 50)])
            time.sleep(0.02)

    inserter = threading.Thread(target=insert)
    inserter.start()
    flow = _run_flow(tmp_path, "resume_flow", recovery)
    try:
        _wait_for(lambda: db.copy.count_documents({}) >= killed_at, 60, "the first run to copy documents")
        time.sleep(1.5)  # at least one snapshot after the copies we waited for
        flow.send_signal(signal.SIGKILL)
        flow.wait()
        before_restart = db.emitted.count_documents({})
        flow = _run_flow(tmp_path, "resume_flow", recovery)
        inserter.join()
        _wait_for(
            lambda: db.copy.count_documents({}) >= total and len(db.emitted.distinct("sale")) >= total,
            90,
            "the restarted flow to catch up",
        )
    finally:
        flow.kill()
        flow.wait()
        inserter.join()
    assert sorted(doc["_id"] for doc in db.copy.find({}, {"_id": 1})) == list(range(total))
    emitted = [doc["sale"] for doc in db.emitted.find({}, {"sale": 1})]
    assert set(emitted) == set(range(total))
    replayed = len(emitted) - total
    # Resuming from the snapshot re-reads at most the events after it, far fewer than
    # the first run emitted (a restart from the start point would replay all of them).
    assert replayed < before_restart / 2, (replayed, before_restart)


# ---------------------------------------------------------------- $merge

EXISTING = {"_id": 1, "a": 1, "b": 1}
BATCH = [{"_id": 1, "a": 2, "c": 3}, {"_id": 2, "a": 5}]
ADD_A = [{"$set": {"a": {"$add": ["$a", "$$new.a"]}}}]
MATCHED_RESULTS = {
    "merge": {"_id": 1, "a": 2, "b": 1, "c": 3},
    "replace": {"_id": 1, "a": 2, "c": 3},
    "keepExisting": EXISTING,
    "fail": EXISTING,
    "delete": None,
    "pipeline": {"_id": 1, "a": 3, "b": 1},
}


def _merge_flow(uri: str, chunks: list, **options) -> list:
    """Run chunks → MergeSink; return the DLQ records it wrote."""
    flow = Dataflow("merge")
    sink = MergeSink(uri, dead_letter_writer_factory=_ListWriter, processor_name="merge-test", **options)
    op.output("out", op.input("in", flow, TestingSource(chunks)), sink)
    run_main(flow)
    return _ListWriter.records


@pytest.mark.parametrize("when_not_matched", ["insert", "discard", "fail"])
@pytest.mark.parametrize("when_matched", list(MATCHED_RESULTS))
def test_merge_modes(db, mongodb_uri, when_matched, when_not_matched):
    db.target.insert_one(dict(EXISTING))
    mode = ADD_A if when_matched == "pipeline" else when_matched
    dead = _merge_flow(
        mongodb_uri,
        [[dict(doc) for doc in BATCH]],
        db=db.name,
        coll="target",
        when_matched=mode,
        when_not_matched=when_not_matched,
    )
    stored = {doc["_id"]: doc for doc in db.target.find()}
    assert stored.get(1) == MATCHED_RESULTS[when_matched]
    assert stored.get(2) == ({"_id": 2, "a": 5} if when_not_matched == "insert" else None)
    expected_dead = []
    if when_matched == "fail":
        expected_dead.append((1, "whenMatched is fail"))
    if when_not_matched == "fail":
        expected_dead.append((2, "whenNotMatched is fail"))
    assert sorted((record["doc"]["_id"], record["errInfo"]["reason"].rsplit("and ", 1)[1]) for record in dead) == (
        expected_dead
    )
    assert all(record["processorName"] == "merge-test" for record in dead)


@pytest.mark.parametrize("when_matched", ["merge", "replace", "keepExisting", "fail", "pipeline"])
def test_merge_replay_is_idempotent(db, mongodb_uri, when_matched):
    mode = [{"$set": {"a": "$$new.a", "seen": True}}] if when_matched == "pipeline" else when_matched
    batch = [{"_id": i, "a": i} for i in range(20)]
    options = dict(db=db.name, coll="target", when_matched=mode)
    assert _merge_flow(mongodb_uri, [[dict(doc) for doc in batch]], **options) == []
    once = list(db.target.find())
    assert _merge_flow(mongodb_uri, [[dict(doc) for doc in batch]], **options) == []  # the replay
    assert list(db.target.find()) == [
        {**doc, "seen": True} if when_matched == "pipeline" else doc for doc in once
    ]
    assert db.target.count_documents({}) == 20


@pytest.mark.parametrize("when_not_matched", ["insert", "discard", "fail"])
def test_documents_without_id(db, mongodb_uri, when_not_matched):
    dead = _merge_flow(
        mongodb_uri, [[{"v": 1}, {"v": 2}]], db=db.name, coll="target", when_not_matched=when_not_matched
    )
    assert sorted(doc["v"] for doc in db.target.find()) == ([1, 2] if when_not_matched == "insert" else [])
    assert len(dead) == (2 if when_not_matched == "fail" else 0)


def test_repeated_keys_in_one_batch_apply_in_stream_order(db, mongodb_uri):
    writer = MergeWriter(mongodb_uri, db=db.name, coll="merged")
    writer.write([{"_id": 1, "v": 1}, {"_id": 1, "v": 2}, {"_id": 1, "w": 3}, {"_id": 2}])
    assert db.merged.find_one({"_id": 1}) == {"_id": 1, "v": 2, "w": 3}
    writer = MergeWriter(mongodb_uri, db=db.name, coll="replaced", when_matched="replace")
    writer.write([{"_id": 1, "v": 1}, {"_id": 1, "v": 2}, {"_id": 1, "w": 3}])
    assert db.replaced.find_one({"_id": 1}) == {"_id": 1, "w": 3}
    writer.close()


class _WritingThreads(monitoring.CommandListener):
    """The threads that sent write commands: a listener runs in the sending thread."""

    def __init__(self):
        self.names: set[str] = set()

    def started(self, event):
        if event.command_name in ("insert", "update", "delete"):
            self.names.add(threading.current_thread().name)

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


def test_parallelism_spreads_writes_and_keeps_each_keys_order(db, mongodb_uri):
    threads = _WritingThreads()
    writer = MergeWriter(
        mongodb_uri, db=db.name, coll="target", parallelism=4, client_options={"event_listeners": [threads]}
    )
    versions = [{"_id": i % 201, "v": i} for i in range(1000)]  # about five versions of each key
    writer.write(versions + [{"no_id": True}])
    writer.write([{"_id": i, "late": True} for i in range(0, 201, 50)])
    writer.close()
    assert len(threads.names) > 1 and all(name.startswith("$merge") for name in threads.names)
    last = {doc["_id"]: doc["v"] for doc in versions}
    expected = {key: {"_id": key, "v": v, **({"late": True} if key % 50 == 0 else {})} for key, v in last.items()}
    assert {doc["_id"]: doc for doc in db.target.find({"no_id": {"$exists": False}})} == expected
    assert db.target.count_documents({"no_id": True}) == 1


def test_dynamic_into_routes_per_document_and_bad_names_go_to_dlq(db, mongodb_uri):
    docs = [
        {"_id": 1, "kind": "red"},
        {"_id": 2, "kind": "blue"},
        {"_id": 3},  # the expression fails
        {"_id": 4, "kind": ""},
        {"_id": 5, "kind": "bad$name"},
        {"_id": 6, "kind": "red"},
    ]
    dead = _merge_flow(
        mongodb_uri,
        [docs[:3], DeadLetters([dead_letter({"_id": "upstream"}, "failed upstream")]), docs[3:]],
        db=db.name,
        coll=lambda doc: doc["kind"],
    )
    assert sorted(doc["_id"] for doc in db.red.find()) == [1, 6]
    assert [doc["_id"] for doc in db.blue.find()] == [2]
    reasons = {record["doc"]["_id"]: record["errInfo"]["reason"] for record in dead}
    assert set(reasons) == {3, 4, 5, "upstream"}
    assert reasons[3].startswith("$merge.into.coll: the expression failed")
    assert reasons[4] == "$merge.into.coll: expected a valid coll name; got ''"
    assert reasons[5] == "$merge.into.coll: expected a valid coll name; got 'bad$name'"


def test_compound_on_needs_a_unique_index(db, mongodb_uri):
    docs = [{"region": "eu", "id": 1, "v": 1}, {"region": "us", "id": 1, "v": 2}]
    options = dict(db=db.name, coll="target", on=["region", "id"], when_matched="replace")
    dead = _merge_flow(mongodb_uri, [[dict(doc) for doc in docs]], **options)
    assert [record["errInfo"]["reason"] for record in dead] == [
        f"$merge into {db.name}.target: on ['region', 'id'] needs a unique index on those fields"
    ] * 2
    db.target.create_index([("region", 1), ("id", 1)], unique=True)
    assert _merge_flow(mongodb_uri, [[dict(doc) for doc in docs]], **options) == []
    changed = [{"region": "eu", "id": 1, "v": 10}]
    assert _merge_flow(mongodb_uri, [changed, [dict(doc) for doc in docs[1:]]], **options) == []
    stored = sorted((doc["region"], doc["v"]) for doc in db.target.find())
    assert stored == [("eu", 10), ("us", 2)]


def test_failed_writes_go_to_the_dlq_collection_and_the_rest_is_written(db, mongodb_uri):
    db.target.create_index("email", unique=True)
    db.target.insert_one({"_id": 0, "email": "taken@example.com"})
    docs = [
        {"_id": 1, "email": "a@example.com"},
        {"_id": 2, "email": "taken@example.com"},  # duplicate on another unique index
        {"_id": 3, "blob": "x" * (17 * 1024 * 1024)},  # larger than 16 MB
        {"_id": 4, "email": "b@example.com"},
    ]
    unencodable = [{"_id": 5, "tags": {"a", "b"}}, {"_id": 6, "email": "c@example.com"}]

    def dlq() -> MongoDeadLetterWriter:
        return MongoDeadLetterWriter(mongodb_uri, db.name, "dlq")

    flow = Dataflow("merge")
    sink = MergeSink(mongodb_uri, db=db.name, coll="target", dead_letter_writer_factory=dlq, processor_name="p1")
    op.output("out", op.input("in", flow, TestingSource([docs, unencodable])), sink)
    run_main(flow)
    assert sorted(doc["_id"] for doc in db.target.find()) == [0, 1, 4, 6]
    records = list(db.dlq.find())
    assert len(records) == 3

    def reason_of(part: str) -> dict:
        return next(record for record in records if part in record["errInfo"]["reason"])

    duplicate = reason_of("duplicate key")
    assert duplicate["doc"] == docs[1] and duplicate["processorName"] == "p1"
    assert duplicate["dlqTime"].tzinfo is not None
    too_large = reason_of("too large")  # stored reduced: why, the size of its text, a prefix of it
    assert "too large" in too_large["doc"]["reduced"]
    assert too_large["doc"]["originalSize"] > 17 * 1024 * 1024 and len(too_large["doc"]["prefix"]) == 64 * 1024
    unencodable_record = reason_of("cannot encode")
    assert "_id" in unencodable_record["doc"]["prefix"] and unencodable_record["doc"]["reduced"]


def test_mostly_existing_keys_switch_to_upserts(db, mongodb_uri):
    commands = _Commands()
    writer = MergeWriter(
        mongodb_uri, db=db.name, coll="target", when_matched="replace", client_options={"event_listeners": [commands]}
    )
    writer.write([{"_id": i, "v": 0} for i in range(100)])
    writer.write([{"_id": i, "v": 1} for i in range(100)])  # all exist: insert, then replace
    del commands.names[:]
    writer.write([{"_id": i, "v": 2} for i in range(110)])  # now upserts straight away
    assert "insert" not in commands.names and commands.names.count("update") == 1
    assert sorted((doc["_id"], doc["v"]) for doc in db.target.find()) == [(i, 2) for i in range(110)]
    writer.write([{"_id": i, "v": 3} for i in range(200, 400)])  # mostly new again
    writer.write([{"_id": i, "v": 4} for i in range(400, 410)])
    assert db.target.count_documents({}) == 320
    writer.close()


def test_lost_connection_is_retried(tmp_path):
    with _private_server("--sync-on-commit", storage=str(tmp_path / "data")) as (uri, procs, restart):
        writer = MergeWriter(uri, db="shop", coll="target", client_options={"serverSelectionTimeoutMS": 500})
        writer.write([{"_id": 0}])
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait()
        restarter = threading.Timer(1.5, restart)
        restarter.start()
        writer.write([{"_id": i} for i in range(1, 50)])
        restarter.join()
        assert connect(uri).shop.target.count_documents({}) == 50
        writer.close()


# ---------------------------------------------------------------- lookups


@pytest.fixture
def customers(db):
    db.customers.insert_many([
        {"_id": 1, "name": "ada", "tags": ["x", "y"], "address": {"city": "paris"}},
        {"_id": 2, "name": "bob", "tags": ["y"], "address": {"city": "oslo"}},
        {"_id": 3, "name": "cy", "tags": [], "address": {"city": "paris"}},
        {"_id": 4, "name": "dee"},
    ])  # fmt: skip
    return db.customers


def _names(matches: list) -> list:
    return [sorted(doc["name"] for doc in found) for found in matches]


def test_lookup_local_foreign_in_a_flow_one_query_per_batch(db, customers, mongodb_uri):
    commands = _Commands()
    lookup = MongoLookup(
        mongodb_uri,
        db.name,
        "customers",
        local_value=lambda doc: doc.get("city"),
        foreign_field="address.city",
        client_options={"event_listeners": [commands]},
    )
    orders = [{"city": "paris"}, {"city": "oslo"}, {"city": ["oslo", "rome"]}, {"city": "rome"}, {}]
    out: list = []

    def enrich(docs: list) -> list:
        return [{**doc, "customers": found} for doc, found in zip(docs, lookup.lookup(docs))]

    flow = Dataflow("lookup")
    op.output("out", op.map("lookup", op.input("in", flow, TestingSource([orders, orders])), enrich), TestingSink(out))
    run_main(flow)
    assert [_names([doc["customers"] for doc in chunk]) for chunk in out] == [
        [["ada", "cy"], ["bob"], ["bob"], [], ["dee"]]
    ] * 2
    assert commands.names.count("find") == 2  # one $in query per chunk
    lookup.close()


def test_lookup_array_foreign_field_and_missing_values(db, customers, mongodb_uri):
    lookup = MongoLookup(mongodb_uri, db.name, "customers", local_value=lambda doc: doc.get("tag"), foreign_field="tags")
    matches = lookup.lookup([{"tag": "y"}, {"tag": "x"}, {"tag": ["x", "z"]}, {"tag": "z"}])
    assert _names(matches) == [["ada", "bob"], ["ada"], ["ada"], []]
    # Each document owns its matches: a later stage may update them in place.
    assert matches[1][0] == matches[2][0] and matches[1][0] is not matches[2][0]
    lookup.close()


def test_lookup_let_and_pipeline_one_aggregate_per_batch(db, customers, mongodb_uri):
    commands = _Commands()
    lookup = MongoLookup(
        mongodb_uri,
        db.name,
        "customers",
        let={"city": lambda doc: doc.get("city", "$unset"), "min": lambda doc: doc["min"]},
        pipeline=[
            {"$match": {"$expr": {"$and": [{"$eq": ["$address.city", "$$city"]}, {"$gte": ["$_id", "$$min"]}]}}},
            {"$project": {"name": 1, "city": "$$city"}},
        ],
        client_options={"event_listeners": [commands]},
    )
    docs = [{"city": "paris", "min": 1}, {"city": "paris", "min": 2}, {"city": "oslo", "min": 0}, {"min": 0}]
    matches = lookup.lookup(docs)
    assert _names(matches) == [["ada", "cy"], ["cy"], ["bob"], []]
    assert matches[2] == [{"_id": 2, "name": "bob", "city": "oslo"}]
    assert commands.names.count("aggregate") == 1
    lookup.close()


def test_lookup_local_foreign_combined_with_pipeline(db, customers, mongodb_uri):
    lookup = MongoLookup(
        mongodb_uri,
        db.name,
        "customers",
        local_value=lambda doc: doc["customer"],
        foreign_field="_id",
        let={"note": lambda doc: doc["note"]},
        pipeline=[{"$project": {"_id": 0, "name": 1, "note": "$$note"}}],
    )
    assert lookup.lookup([{"customer": 2, "note": "$literal text"}, {"customer": 9, "note": "none"}]) == [
        [{"name": "bob", "note": "$literal text"}],
        [],
    ]
    lookup.close()


def test_cached_lookup_expires_entries_and_respects_its_budget(db, customers, mongodb_uri):
    commands = _Commands()
    now = [0.0]
    lookup = CachedMongoLookup(
        mongodb_uri,
        db.name,
        "customers",
        local_value=lambda doc: doc["customer"],
        foreign_field="_id",
        ttl_seconds=60,
        clock=lambda: now[0],
        client_options={"event_listeners": [commands]},
    )
    orders = [{"customer": 1}, {"customer": 2}, {"customer": 1}, {"customer": 9}]
    assert _names(lookup.lookup(orders)) == [["ada"], ["bob"], ["ada"], []]
    assert commands.names.count("find") == 1
    customers.update_one({"_id": 1}, {"$set": {"name": "ada lovelace"}})
    now[0] = 59.0
    assert _names(lookup.lookup(orders)) == [["ada"], ["bob"], ["ada"], []]  # cached, misses included
    assert commands.names.count("find") == 1
    now[0] = 61.0
    assert _names(lookup.lookup(orders)) == [["ada lovelace"], ["bob"], ["ada lovelace"], []]
    assert commands.names.count("find") == 2

    small = CachedMongoLookup(
        mongodb_uri,
        db.name,
        "customers",
        local_value=lambda doc: doc["customer"],
        foreign_field="_id",
        ttl_seconds=60,
        max_mem_usage_bytes=600,
        clock=lambda: now[0],
        client_options={"event_listeners": [commands]},
    )
    for customer in (1, 2, 3, 4):
        small.lookup([{"customer": customer}])
        assert small.cached_bytes <= 600
    before = commands.names.count("find")
    small.lookup([{"customer": 4}])
    assert commands.names.count("find") == before  # the newest entry stayed
    small.lookup([{"customer": 1}])
    assert commands.names.count("find") == before + 1  # the oldest was evicted
    lookup.close()
    small.close()


# ---------------------------------------------------------------- DLQ


def test_dlq_writer_stores_atlas_shaped_records(db, mongodb_uri):
    writer = MongoDeadLetterWriter(mongodb_uri, db.name, "dlq")
    records = [dead_letter({"_id": 1, "a": 1}, "bad"), dead_letter({"_id": 2}, "worse", processorName="p")]
    writer.write(records)
    writer.write([])
    stored = list(db.dlq.find({}, {"_id": 0}))
    assert [(r["doc"], r["errInfo"], r.get("processorName")) for r in stored] == [
        ({"_id": 1, "a": 1}, {"reason": "bad"}, None),
        ({"_id": 2}, {"reason": "worse"}, "p"),
    ]
    assert all(isinstance(r["dlqTime"], datetime) for r in stored)
    assert "_id" not in records[0]  # the caller's records are left as they were
    writer.close()


def test_configuration_errors_are_clear(mongodb_uri):
    with pytest.raises(ValueError, match="coll 'x' needs a db"):
        ChangeStreamSource(mongodb_uri, coll="x")
    with pytest.raises(ValueError, match="fullDocument must be one of"):
        ChangeStreamSource(mongodb_uri, db="d", full_document="always")
    with pytest.raises(ValueError, match="exclude each other"):
        ChangeStreamSource(mongodb_uri, db="d", start_after={"_data": "00"}, start_at_operation_time=datetime.now())
    with pytest.raises(ValueError, match="whenMatched: expected one of"):
        MergeSink(mongodb_uri, db="d", coll="c", when_matched="upsert")
    with pytest.raises(ValueError, match=r"into.db: expected a valid db name"):
        MergeSink(mongodb_uri, db="a.b", coll="c")
    with pytest.raises(ValueError, match="localField and foreignField go together"):
        MongoLookup(mongodb_uri, "d", "c", local_value=lambda doc: doc)


def test_messages_never_show_credentials():
    assert redact("mongodb://user:secret@db1:27017,db2/?replicaSet=x") == "mongodb://***@db1:27017,db2/?replicaSet=x"
    assert redact("mongodb+srv://u:p@cluster.example.net/db") == "mongodb+srv://***@cluster.example.net/db"
