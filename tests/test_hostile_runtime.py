"""Bad input at run time never stops a processor (issue 10).

Poison Kafka messages (malformed Extended JSON, invalid UTF-8, non-objects, 1-17 MB, nesting
100-2000 with and without ``"$``) through a real broker with both DLQ kinds, a restart from
recovery, and runaway expressions in a subprocess whose peak RSS is measured.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import bytewax.operators as op
import orjson
import pytest
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSource, run_main
from confluent_kafka import Producer
from pipeline_runner import run_pipeline, with_documents
from test_kafka_connectors import consume, new_topic

from connectors.console import ConsoleDeadLetterWriter, ConsoleSink
from runtime.ejson import loads
from connectors.kafka import KafkaDeadLetterWriter, KafkaSink
from connectors.kafka_options import client_config
from connectors.mongodb_dlq import MongoDeadLetterWriter
from connectors.mongodb_merge import MergeSink
from translator._regex import compile_regex
from translator.windows import set_window_fields

REPO = Path(__file__).resolve().parents[1]
MB = 1_000_000

pytestmark = pytest.mark.integration


def nested(depth: int, key: str) -> bytes:
    """A document ``depth`` levels deep (the top level counts), with ``key`` at every level."""
    return b'{"%s":' % key.encode() * (depth - 1) + b'{"v":1}' + b"}" * (depth - 1)


# label -> message value, for messages that must reach the DLQ.
BAD = {
    "bad $oid": b'{"n": {"$oid": "zz"}}',
    "bad $numberDecimal": b'{"n": {"$numberDecimal": "x"}}',
    "bad $date": b'{"n": {"$date": 1e300}}',
    "bad $date long": b'{"n": {"$date": {"$numberLong": "x"}}}',
    "bad $binary": b'{"n": {"$binary": {"base64": "!!", "subType": "zz"}}}',
    "bad $timestamp": b'{"n": {"$timestamp": {"t": -1, "i": 1}}}',
    "bad $uuid": b'{"n": {"$uuid": "zz"}}',
    "bad $minKey": b'{"n": {"$minKey": 2}}',
    "bad $numberDouble": b'{"n": {"$numberDouble": "abc"}}',
    "bad $code": b'{"n": {"$code": 1}}',
    "invalid utf-8": b'{"s": "\xff\xfe"}',
    "latin-1": '{"s": "café"}'.encode("latin-1"),
    "array": b"[1, 2]",
    "number": b"3",
    "null": b"null",
    "string": b'"text"',
    "not json": b"garbage",
    "garbage 1 MB": b"x" * MB,
    "garbage 5 MB": b"x" * (5 * MB),
    "garbage 15 MB": b"{" * (15 * MB),
    "document 17 MB": b'{"blob": "' + b"x" * (17 * MB) + b'"}',
    **{f"nesting {depth}": nested(depth, "a") for depth in (101, 254, 255, 1000, 2000)},
    **{f"nesting {depth} with $": nested(depth, "$a") for depth in (101, 600, 1000, 2000)},
}
# label -> message value, for messages that are documents.
GOOD = {
    "document 1 MB": b'{"blob": "' + b"x" * MB + b'"}',
    "document 5 MB": b'{"blob": "' + b"x" * (5 * MB) + b'"}',
    "document 15 MB": b'{"blob": "' + b"x" * (15 * MB) + b'"}',
    "nesting 100": nested(100, "a"),
    "good $oid": b'{"n": {"$oid": "0123456789abcdef01234567"}}',
}


def interleaved(start: int) -> list[tuple[str, bytes]]:
    """Every bad and good message, each followed by a small valid one, numbered from ``start``."""
    out: list[tuple[str, bytes]] = []
    for i, (label, value) in enumerate([*BAD.items(), *GOOD.items()]):
        out.append((label, value))
        out.append((f"small {start + i}", orjson.dumps({"small": start + i})))
    return out


def produce_big(bootstrap: str, topic: str, messages: list[tuple[str, bytes]]) -> dict[str, int]:
    """Produce to partition 0 in order; return each label's offset."""
    offsets: dict[str, int] = {}
    producer = Producer({"bootstrap.servers": bootstrap, "message.max.bytes": 20 * MB, "linger.ms": 5})
    for label, value in messages:

        def delivered(error, message, label=label):
            assert error is None, f"{label}: {error}"
            offsets[label] = message.offset()

        producer.produce(topic, value, partition=0, on_delivery=delivered)
        producer.poll(0)
    assert producer.flush(60) == 0
    return offsets


def start(tmp_path: Path, pipeline: dict, registry: dict, recovery: Path) -> subprocess.Popen:
    (tmp_path / "pipeline.json").write_text(json.dumps(pipeline))
    (tmp_path / "connections.json").write_text(json.dumps(registry))
    env = {**os.environ, "SLUICE_PIPELINE": str(tmp_path / "pipeline.json"),
           "SLUICE_CONNECTIONS": str(tmp_path / "connections.json"), "PYTHONPATH": str(REPO)}
    log = open(tmp_path / f"run-{uuid.uuid4().hex[:6]}.log", "wb")  # noqa: SIM115 - the process owns it
    return subprocess.Popen([sys.executable, "-m", "bytewax.run", "flows.pipeline", "-r", str(recovery), "-s", "1", "-b", "10"],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


def log_of(tmp_path: Path) -> str:
    return "\n".join(path.read_text(errors="replace")[-3000:] for path in sorted(tmp_path.glob("run-*.log")))


@pytest.mark.parametrize("dlq_kind", ["mongodb", "kafka"])
def test_poison_messages_reach_the_dlq_and_the_processor_stays_up(dlq_kind, kafka_bootstrap, mongodb_uri, db, tmp_path):
    topic, dlq_topic = new_topic(kafka_bootstrap, 1), new_topic(kafka_bootstrap, 1)
    dlq = ({"connectionName": "mongo", "db": db.name, "coll": "dlq"} if dlq_kind == "mongodb"
           else {"connectionName": "kafka", "topic": dlq_topic})
    pipeline = {
        "name": "hostile",
        "pipeline": [
            {"$source": {"connectionName": "kafka", "topic": topic, "config": {"auto_offset_reset": "earliest"}}},
            {"$set": {"_id": "$_stream_meta.source.offset"}},
            {"$unset": "_stream_meta"},
            {"$merge": {"into": {"connectionName": "mongo", "db": db.name, "coll": "out"}}},
        ],
        "options": {"dlq": dlq},
    }
    registry = {"connections": {"kafka": {"type": "kafka", "bootstrapServers": kafka_bootstrap},
                                "mongo": {"type": "mongodb", "uri": mongodb_uri}}, "default": "mongo"}
    recovery = tmp_path / "recovery"
    recovery.mkdir()
    subprocess.run([sys.executable, "-m", "bytewax.recovery", str(recovery), "1"], check=True, cwd=REPO)

    def dead_letters() -> list[dict]:
        if dlq_kind == "mongodb":
            return list(db.dlq.find())
        return [loads(message.value()) for message in consume(kafka_bootstrap, dlq_topic, 0, timeout=5, quiet=0.2)]

    def wait_for(offsets: dict[str, int], process: subprocess.Popen, timeout: float = 90) -> list[dict]:
        """Until every message is in the output or the DLQ, the process alive throughout."""
        bad = {offset for label, offset in offsets.items() if label in BAD}
        good = set(offsets.values()) - bad
        deadline = time.monotonic() + timeout
        while True:
            assert process.poll() is None, f"the processor died:\n{log_of(tmp_path)}"
            stored = {doc["_id"] for doc in db.out.find({}, {"_id": 1})}
            records = dead_letters()
            if good <= stored and bad <= {record.get("offset") for record in records}:
                return records
            assert time.monotonic() < deadline, (
                f"missing output {sorted(good - stored)}, missing DLQ "
                f"{sorted(bad - {r.get('offset') for r in records})}\n{log_of(tmp_path)}"
            )
            time.sleep(0.5)

    first = produce_big(kafka_bootstrap, topic, interleaved(0))
    process = start(tmp_path, pipeline, registry, recovery)
    try:
        records = wait_for(first, process)
        by_offset = {record["offset"]: record for record in records}
        for label, offset in first.items():
            if label not in BAD:
                continue
            record = by_offset[offset]
            assert record["topic"] == topic and record["partition"] == 0, label
            assert record["errInfo"]["reason"].startswith("kafka message: "), label
            assert record["processorName"] == "hostile" and isinstance(record["dlqTime"], datetime), label
        assert "maximum nested object depth" in by_offset[first["nesting 2000 with $"]]["errInfo"]["reason"]
        assert "BSONObj size: 17000012 (0x103664C) is invalid" in by_offset[first["document 17 MB"]]["errInfo"]["reason"]
        assert "$oid" in by_offset[first["bad $oid"]]["errInfo"]["reason"] or "ObjectId" in by_offset[first["bad $oid"]]["errInfo"]["reason"]
        big = by_offset[first["document 17 MB"]]  # too large for either DLQ kind: stored reduced
        assert big["doc"]["originalSize"] >= 17 * MB and len(big["doc"]["prefix"]) <= 64 * 1024, big["doc"].keys()
        if dlq_kind == "kafka":  # the 1 MB payload exceeds the topic's message limit: reduced too
            assert by_offset[first["garbage 1 MB"]]["doc"]["originalSize"] == MB
        assert db.out.count_documents({"blob": {"$exists": True}}) == 3
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

        # The restart resumes from recovery, meets more of the same, and keeps going.
        again = produce_big(kafka_bootstrap, topic, [(label, BAD[label]) for label in ("bad $oid", "nesting 2000 with $")]
                            + [("small after restart", b'{"small": "after restart"}')])
        process = start(tmp_path, pipeline, registry, recovery)
        wait_for(again, process)
        time.sleep(2)
        assert process.poll() is None, log_of(tmp_path)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)


# label -> (an expression that runs away on the document {"s": ..., "r": ...}, words its DLQ reason holds)
RUNAWAY = {
    "$concat doubling": ({"$reduce": {"input": {"$range": [0, 64]}, "initialValue": "ab",
                                      "in": {"$concat": ["$$value", "$$value"]}}}, "BSONObj size"),
    "$range to 1e9": ({"$range": [0, 1_000_000_000]}, "too much memory"),
    "$map over big ranges": ({"$map": {"input": {"$range": [0, 1_000_000]}, "in": {"$range": [0, 1_000_000]}}},
                             "BSONObj size"),
    "$reduce array doubling": ({"$reduce": {"input": {"$range": [0, 64]}, "initialValue": [1],
                                            "in": {"$concatArrays": ["$$value", "$$value"]}}}, "BSONObj size"),
    "$reduce shared nesting": ({"$reduce": {"input": {"$range": [0, 200]}, "initialValue": "x",
                                            "in": ["$$value", "$$value"]}}, "BSONObj"),
    "$replaceAll growth": ({"$reduce": {"input": {"$range": [0, 64]}, "initialValue": "ab",
                                        "in": {"$replaceAll": {"input": "$$value", "find": "a", "replacement": "aaaa"}}}},
                           "BSONObj size"),
    "catastrophic regex": ({"$regexMatch": {"input": "$s", "regex": "^(a|a)+$"}}, "match limit"),
    "nested quantifiers": ({"$regexMatch": {"input": "$s", "regex": "^(a+)+b$"}}, "match limit"),
    "regex from the document": ({"$regexMatch": {"input": "$s", "regex": "$r"}}, "match limit"),
    "overlapping groups": ({"$cond": [{"$regexMatch": {"input": "$x", "regex": "(x+x+)+y"}}, 1, 0]}, "match limit"),
}


def test_runaway_expressions_reach_the_dlq_quickly_in_bounded_memory(tmp_path):
    hostile = {"s": "a" * 50_000 + "!", "x": "x" * 30_000, "r": "^(a|aa)+$"}
    docs = [{"case": label, **hostile} for label in [*RUNAWAY, "$regex in $match"]] + [{"case": "fine", "s": "ok", "r": "o"}]
    branches = [{"case": {"$eq": ["$case", {"$literal": label}]}, "then": expression} for label, (expression, _) in RUNAWAY.items()]
    pipeline = [
        {"$source": {"documents": docs}},
        {"$match": {"$or": [{"case": {"$ne": "$regex in $match"}}, {"s": {"$regex": "^(a|a)+$"}}]}},
        {"$addFields": {"out": {"$switch": {"branches": branches, "default": "fine"}}}},
        {"$project": {"_id": 0, "case": 1, "out": 1}},
        {"$unset": "_stream_meta"},
    ]
    path = tmp_path / "runaway.json"
    path.write_text(json.dumps(pipeline))
    started = time.monotonic()
    with open(tmp_path / "out", "wb") as stdout, open(tmp_path / "err", "wb") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "translator.cli", "process", str(path)], cwd=REPO,
                                   stdout=stdout, stderr=stderr, env={**os.environ, "PYTHONPATH": str(REPO)})
    watchdog = threading.Timer(90, process.kill)
    watchdog.start()
    _, status, usage = os.wait4(process.pid, 0)  # this child's own peak RSS, in KiB
    watchdog.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.monotonic() - started
    out, err = (tmp_path / "out").read_bytes(), (tmp_path / "err").read_bytes()
    peak_mib = usage.ru_maxrss / 1024
    assert process.returncode == 0, err.decode()[-3000:]
    assert [loads(line) for line in out.splitlines()] == [{"case": "fine", "out": "fine"}]
    records = [loads(line) for line in err.splitlines() if line.startswith(b"{")]
    reasons = {record["doc"]["case"]: record["errInfo"]["reason"] for record in records}
    for label, words in [*((label, words) for label, (_, words) in RUNAWAY.items()), ("$regex in $match", "match limit")]:
        assert words in reasons.get(label, ""), (label, reasons.get(label))
    # Regex searches stop after 1 s of CPU time; on a loaded machine that is more wall time.
    times = sorted(record["dlqTime"] for record in records)
    slowest = max((later - earlier).total_seconds() for earlier, later in zip(times, times[1:]))
    assert slowest < 15, f"one document took {slowest:.1f} s to fail"
    cpu = usage.ru_utime + usage.ru_stime
    assert cpu < 10 + len(records), f"{cpu:.1f} s of CPU for {len(records)} documents"
    assert peak_mib < 1024, f"peak RSS {peak_mib:.0f} MiB"
    assert elapsed < 90


def deep(depth: int) -> dict:
    doc: dict = {"v": 1}
    for _ in range(depth - 1):
        doc = {"a": doc}
    return doc


def test_sinks_and_dlq_writers_take_documents_too_deep_or_too_large(kafka_bootstrap, mongodb_uri, db):
    ok = {"_id": "ok", "n": 1}
    config = client_config({"type": "kafka", "bootstrapServers": kafka_bootstrap})

    def run(sink, docs: list) -> None:
        flow = Dataflow("sink")
        item = ("0", docs) if isinstance(sink, KafkaSink) else docs  # the Kafka sink takes (part, chunk)
        op.output("out", op.input("in", flow, TestingSource([item])), sink)
        run_main(flow)

    # The console: a line for the good document, DLQ records for the rest, reduced when too deep.
    out, err = io.StringIO(), io.StringIO()
    run(ConsoleSink(out, lambda: ConsoleDeadLetterWriter(err), "p"), [ok, deep(300), deep(2000)])
    assert [loads(line) for line in out.getvalue().splitlines()] == [ok]
    records = [loads(line) for line in err.getvalue().splitlines()]
    assert [record["errInfo"]["reason"].startswith("output: cannot encode") for record in records] == [True, True]
    assert "cannot be encoded" in records[1]["doc"]["reduced"] and records[1]["doc"]["prefix"].startswith('{"a":')

    # $emit to Kafka with a Kafka DLQ: too deep for JSON, larger than the topic takes.
    out_topic, dlq_topic = new_topic(kafka_bootstrap, 1), new_topic(kafka_bootstrap, 1)
    dlq = lambda: KafkaDeadLetterWriter(config, dlq_topic)  # noqa: E731
    run(KafkaSink(config, out_topic, dead_letter_writer_factory=dlq, processor_name="p"),
        [ok, deep(300), deep(2000), {"blob": "x" * (2 * MB)}])
    assert [loads(message.value()) for message in consume(kafka_bootstrap, out_topic, 1, quiet=0.2)] == [ok]
    records = [loads(message.value()) for message in consume(kafka_bootstrap, dlq_topic, 3, quiet=0.2)]
    assert len(records) == 3 and all(record["doc"]["reduced"] for record in records), records
    assert records[2]["doc"]["originalSize"] > 2 * MB and "Message size too large" in records[2]["errInfo"]["reason"]
    # A topic that takes 20 MB messages still gets no document over 16 MiB.
    run(KafkaSink({**config, "message.max.bytes": 20 * MB}, out_topic, dead_letter_writer_factory=dlq, processor_name="p"),
        [{"blob": "x" * (17 * MB)}])
    records = [loads(message.value()) for message in consume(kafka_bootstrap, dlq_topic, 4, quiet=0.2)]
    assert "kafka $emit: BSONObj size: 17000011" in records[3]["errInfo"]["reason"], records[3]["errInfo"]

    # $merge with a MongoDB DLQ: too deep to encode, over 16 MiB.
    dlq = lambda: MongoDeadLetterWriter(mongodb_uri, db.name, "dlq")  # noqa: E731
    run(MergeSink(mongodb_uri, db=db.name, coll="out", dead_letter_writer_factory=dlq, processor_name="p"),
        [ok, deep(2000), {"blob": "x" * (17 * MB)}])
    assert list(db.out.find()) == [ok]
    records = list(db.dlq.find())
    assert len(records) == 2 and all(record["doc"]["reduced"] for record in records), records
    assert any("recursion" in record["errInfo"]["reason"] for record in records)


def test_push_in_a_window_stops_at_mongods_memory_limit():
    eight_mib = {"$reduce": {"input": {"$range": [0, 23]}, "initialValue": "x", "in": {"$concat": ["$$value", "$$value"]}}}
    docs = [{"t": datetime(2024, 1, 1, 0, 0, second, tzinfo=timezone.utc), "n": second} for second in range(14)]
    result = run_pipeline([
        {"$source": {"documents": docs, "timeField": "$t"}},
        {"$addFields": {"big": eight_mib}},
        {"$tumblingWindow": {"interval": {"size": 1, "unit": "hour"},
                             "pipeline": [{"$group": {"_id": None, "all": {"$push": "$big"}, "n": {"$sum": 1}}}]}},
    ])
    reasons = [record["errInfo"]["reason"] for record in result.dead]
    pushed = [reason for reason in reasons if "$push used too much memory" in reason]
    assert len(pushed) == 2, reasons  # the 13th and 14th 8 MiB strings: 104 MiB > 100 MiB
    assert [(doc["n"], len(doc["all"])) for doc in result.docs] == [(12, 12)]  # the failed two left no trace


def test_a_set_window_fields_window_that_outgrows_its_limit_fails_documents(monkeypatch):
    monkeypatch.setattr(set_window_fields, "MAX_WINDOW_VALUES", 3)  # the real one is a million values
    docs = [{"n": n, "v": 1} for n in range(5)]
    stage = {"$setWindowFields": {"sortBy": {"n": 1},
                                  "output": {"total": {"$sum": "$v", "window": {"range": [-1000, 0]}}}}}
    result = run_pipeline(with_documents(docs, [stage]))
    assert [doc["total"] for doc in result.docs] == [1, 2, 3]
    assert [record["doc"]["n"] for record in result.dead] == [3, 4]
    assert all("exceeded its memory limit" in record["errInfo"]["reason"] for record in result.dead)



@pytest.mark.parametrize("pattern", [r"^cust[0-9]*7$", r"(\d+)-(\d+)", r"\bword\b", r"(?i)ÉTÉ", r"a.*b.*c", r"(ab|cd)+e",
                                     r"(?P<x>[a-z])(?P=x)", r"^(a|b)*?c", r"\s+$", r"(?m)^x"])
def test_bounded_regexes_match_as_re_does_on_long_inputs(pattern):
    text = ("ab" * 3000) + " cust123-456 word été\nx " + ("cd" * 3000) + "e c"
    bounded = compile_regex(pattern, "", "$regexMatch")
    expected = re.compile(pattern).search(text)
    found = bounded.search(text)
    assert (found and (found.span(), found.groups())) == (expected and (expected.span(), expected.groups()))
