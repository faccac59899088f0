"""Change-stream ``initialSync`` against SecantusDB: copy the existing documents, then follow
the stream from a point taken before the copy, exact in the target; a SIGKILL mid-copy
resumes the copy from the recovery store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from translator import plan
from translator.errors import PipelineValidationError
from translator.parse import parse_pipeline

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
EXISTING = 20_000


@pytest.fixture
def shop(client):
    name = f"sync_{os.getpid()}_{time.monotonic_ns() % 10**9}"
    database = client[name]
    database.items.insert_many([{"_id": i, "n": i, "v": 0} for i in range(EXISTING)])
    yield database
    client.drop_database(name)


def _env(tmp_path: Path, mongodb_uri: str, db: str, parallelism: int) -> dict:
    sync = {"enable": True, "parallelism": parallelism}
    pipeline = [
        {"$source": {"db": db, "coll": "items", "config": {"fullDocumentOnly": True, "initialSync": sync}}},
        {"$merge": {"into": {"db": db, "coll": "copy"}, "whenMatched": "replace"}},
    ]
    (tmp_path / "pipeline.json").write_text(json.dumps(pipeline))
    registry = {"connections": {"atlas": {"type": "mongodb", "uri": mongodb_uri}}, "default": "atlas"}
    (tmp_path / "connections.json").write_text(json.dumps(registry))
    return {**os.environ, "SLUICE_PIPELINE": str(tmp_path / "pipeline.json"),
            "SLUICE_CONNECTIONS": str(tmp_path / "connections.json"), "PYTHONPATH": str(ROOT)}  # fmt: skip


def _start(env: dict, *recovery: str) -> subprocess.Popen:
    """The flow, its stderr in a file beside the pipeline (a pipe left unread could block it)."""
    log = open(Path(env["SLUICE_PIPELINE"]).with_suffix(".log"), "ab")  # noqa: SIM115 (the process owns it)
    return subprocess.Popen([sys.executable, "-m", "bytewax.run", "flows.pipeline", *recovery], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=log)  # fmt: skip


def _writes(shop) -> None:
    """New documents, and updates spread over the whole _id range (copied and not yet copied
    documents alike), while the copy runs."""
    for round_ in range(10):
        start = EXISTING + 100 * round_
        shop.items.insert_many([{"_id": i, "n": i, "v": 0} for i in range(start, start + 100)])
        shop.items.update_many({"_id": {"$in": list(range(round_, EXISTING, 200))}}, {"$inc": {"v": 1}})
        time.sleep(0.05)


def _state(collection) -> dict:
    return {doc["_id"]: (doc["n"], doc["v"]) for doc in collection.find({}, {"n": 1, "v": 1})}


def _wait_exact(shop, flow: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while True:
        # Full comparisons only once the counts agree: reading both collections slows the flow.
        if shop.copy.count_documents({}) == shop.items.count_documents({}) or time.monotonic() > deadline:
            expected, found = _state(shop.items), _state(shop.copy)
            if found == expected:
                return
        else:
            expected = found = None
        if flow.poll() is not None:
            pytest.fail(f"the flow stopped ({flow.returncode}): {log.read_text()[-2000:]}")
        if time.monotonic() > deadline and expected is not None:
            missing = len(set(expected) - set(found))
            stale = sum(1 for key in expected if key in found and found[key] != expected[key])
            pytest.fail(f"target not exact: {len(found)} of {len(expected)} documents, {missing} missing, {stale} stale")
        time.sleep(1)


def _stop(flow: subprocess.Popen) -> None:
    flow.kill()
    flow.wait()


def test_copy_then_follow_ends_exact(shop, mongodb_uri, tmp_path) -> None:
    flow = _start(_env(tmp_path, mongodb_uri, shop.name, 1))
    writer = threading.Thread(target=_writes, args=(shop,))
    try:
        deadline = time.monotonic() + 60
        while shop.copy.estimated_document_count() == 0:  # the copy has begun
            assert time.monotonic() < deadline and flow.poll() is None, "the copy did not start"
            time.sleep(0.05)
        writer.start()
        writer.join()
        _wait_exact(shop, flow, tmp_path / "pipeline.log")
    finally:
        _stop(flow)


def test_sigkill_mid_copy_resumes_the_copy(shop, mongodb_uri, tmp_path) -> None:
    """Four ranges copied at once; each resumes after its last copied document."""
    env = _env(tmp_path, mongodb_uri, shop.name, 4)
    recovery = tmp_path / "recovery"
    recovery.mkdir()
    subprocess.run([sys.executable, "-m", "bytewax.recovery", str(recovery), "1"], check=True, cwd=ROOT, env=env)
    options = ("-r", str(recovery), "-s", "1", "-b", "0")
    flow = _start(env, *options)
    writer = threading.Thread(target=_writes, args=(shop,))
    try:
        deadline = time.monotonic() + 90
        while shop.copy.estimated_document_count() < 3_000:
            assert time.monotonic() < deadline and flow.poll() is None, "the copy did not get going"
            time.sleep(0.05)
        time.sleep(1.5)  # past a snapshot
        flow.send_signal(signal.SIGKILL)
        flow.wait()
        killed_at = datetime.now(timezone.utc)
        copied_before = shop.copy.estimated_document_count()
        assert copied_before < EXISTING, "the copy finished before the kill: nothing to resume"
        writer.start()  # writes go on while nothing runs
        flow = _start(env, *options)
        writer.join()
        _wait_exact(shop, flow, tmp_path / "pipeline.log")
        # Resumed, not restarted: documents merged before the kill and never written since keep their first _ts.
        untouched_early = shop.copy.count_documents({"_ts": {"$lt": killed_at}})
        assert untouched_early > 1_000
    finally:
        _stop(flow)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"db": "d", "config": {"initialSync": {"enable": True}}}, "initialSync of a whole database or cluster is not supported by sluice; name the collections in coll"),
        ({"db": "d", "coll": "c", "config": {"initialSync": {"enable": True, "parallelism": 0}}}, "initialSync.parallelism must be a positive integer; got 0"),
        ({"db": "d", "coll": "c", "config": {"initialSync": {"enable": True}, "startAfter": {"_data": "x"}}}, "it excludes startAfter and startAtOperationTime"),
    ],
)
def test_initial_sync_options_are_checked_at_translation(source, message) -> None:
    with pytest.raises(PipelineValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        plan(parse_pipeline([{"$source": source}, {"$merge": {"into": {"db": "d", "coll": "t"}}}]))
