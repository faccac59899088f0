"""Kafka ``$source``/``$emit``/DLQ through the translator: pipeline JSON → Bytewax flow → real broker.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-emit/
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import orjson
import pytest
from bytewax.testing import run_main
from test_kafka_connectors import consume, new_topic, produce, produce_slowly, recovered_offsets

from runtime.ejson import loads
from translator import plan, translate
from translator.connections import parse_registry
from translator.errors import PipelineValidationError
from translator.parse import parse_pipeline

REPO = Path(__file__).resolve().parents[1]


def registry_entry(bootstrap: str) -> dict:
    return {"connections": {"kafka": {"type": "kafka", "bootstrapServers": bootstrap},
                            "mongo": {"type": "mongodb", "uri": "mongodb://127.0.0.1:1"}}, "default": "mongo"}


def orders_pipeline(in_topic: str, prefix: str, dlq: str, name: str = "orders") -> dict:
    """Paid orders, projected with where they came from, routed to a topic per region."""
    return {
        "name": name,
        "pipeline": [
            {"$source": {"connectionName": "kafka", "topic": in_topic,
                         "config": {"auto_offset_reset": "earliest", "keyFormat": "string"}}},
            {"$match": {"status": "paid"}},
            {"$project": {"_id": 0, "orderId": 1, "region": 1, "partition": "$_stream_meta.source.partition",
                          "offset": "$_stream_meta.source.offset", "srcKey": "$_stream_meta.source.key"}},
            {"$unset": "_stream_meta"},  # Atlas keeps it through inclusion projections
            {"$emit": {"connectionName": "kafka", "topic": {"$concat": [prefix, "-", "$region"]},
                       "config": {"key": "$srcKey", "keyFormat": "string", "headers": {"region": "$region"}}}},
        ],
        "options": {"dlq": {"connectionName": "kafka", "topic": dlq}},
    }


def order_messages(count: int, bad_every: int = 0) -> list[dict]:
    messages = []
    for n in range(count):
        partition = (n // 2) % 4
        if bad_every and n % bad_every == bad_every - 1:
            messages.append({"value": b"garbage %d" % n, "partition": partition})
            continue
        doc = {"orderId": n, "status": "paid" if n % 2 == 0 else "open", "region": "eu" if n % 4 == 0 else "us"}
        messages.append({"value": orjson.dumps(doc), "key": f"order-{n}".encode(), "partition": partition})
    return messages


def start_pipeline(tmp_path: Path, pipeline: dict, registry: dict, *flags: str) -> subprocess.Popen:
    (tmp_path / "pipeline.json").write_text(json.dumps(pipeline))
    (tmp_path / "connections.json").write_text(json.dumps(registry))
    env = {**os.environ, "SLUICE_PIPELINE": str(tmp_path / "pipeline.json"),
           "SLUICE_CONNECTIONS": str(tmp_path / "connections.json"), "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "bytewax.run", "flows.pipeline", *flags], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def emitted(bootstrap: str, prefix: str, expected: int, timeout: float = 60, quiet: float = 0.5) -> list:
    deadline = time.monotonic() + timeout
    got: list = []
    while time.monotonic() < deadline:
        got = [m for where in ("eu", "us") for m in consume(bootstrap, f"{prefix}-{where}", 0, timeout=5, quiet=quiet)]
        if len(got) >= expected:
            break
    return got


def stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    return out.decode(errors="replace")


@pytest.mark.integration
def test_pipeline_routes_keys_headers_on_two_workers_and_dead_letters_to_a_topic(kafka_bootstrap, tmp_path):
    in_topic = new_topic(kafka_bootstrap, partitions=4)
    prefix, dlq = f"region{uuid.uuid4().hex[:8]}", f"dlq{uuid.uuid4().hex[:8]}"
    messages = order_messages(2000, bad_every=250)
    produce(kafka_bootstrap, in_topic, messages)
    paid = [n for n, m in enumerate(messages) if m["value"].startswith(b"{") and n % 2 == 0]
    proc = start_pipeline(tmp_path, orders_pipeline(in_topic, prefix, dlq), registry_entry(kafka_bootstrap), "-w", "2")
    try:
        got = emitted(kafka_bootstrap, prefix, len(paid))
        dead = consume(kafka_bootstrap, dlq, 8)
    finally:
        log = stop(proc)
    docs = [orjson.loads(m.value()) for m in got]
    assert sorted(d["orderId"] for d in docs) == paid, log
    for message, doc in zip(got, docs):
        assert set(doc) == {"orderId", "region", "partition", "offset", "srcKey"}
        assert message.topic() == f"{prefix}-{doc['region']}"
        assert message.key() == f"order-{doc['orderId']}".encode()
        assert message.headers() == [("region", doc["region"].encode())]
    assert {d["partition"] for d in docs} == {0, 1, 2, 3}
    records = [loads(m.value()) for m in dead]
    assert sorted(r["doc"] for r in records) == sorted(f"garbage {n}" for n in range(249, 2000, 250))
    for record in records:
        assert record["processorName"] == "orders" and record["topic"] == in_topic
        assert "not JSON" in record["errInfo"]["reason"] and record["offset"] >= 0


@pytest.mark.integration
def test_pipeline_emit_tombstones_canonical_json_and_bad_keys_to_dlq(kafka_bootstrap):
    topic, dlq = f"tomb{uuid.uuid4().hex[:8]}", f"dlq{uuid.uuid4().hex[:8]}"
    pipeline = {
        "name": "tombstones",
        "pipeline": [
            {"$source": {"documents": [{"id": 1, "gone": False, "n": 5}, {"id": 2, "gone": True},
                                       {"id": "three", "gone": False}]}},
            {"$project": {"_id": 0, "id": 1, "gone": 1, "n": 1}},
            {"$unset": "_stream_meta"},
            {"$emit": {"connectionName": "kafka", "topic": topic,
                       "config": {"key": "$id", "keyFormat": "int", "tombstoneWhen": "$gone",
                                  "outputFormat": "canonicalJson", "acks": "all", "compression_type": "gzip"}}},
        ],
        "options": {"dlq": {"connectionName": "kafka", "topic": dlq}},
    }
    run_main(translate(parse_pipeline(pipeline), parse_registry(registry_entry(kafka_bootstrap))).flow)
    by_key = {m.key(): m.value() for m in consume(kafka_bootstrap, topic, 2)}
    assert by_key == {
        (1).to_bytes(4, "big"): b'{"id":{"$numberInt":"1"},"gone":false,"n":{"$numberInt":"5"}}',
        (2).to_bytes(4, "big"): None,
    }
    (dead,) = consume(kafka_bootstrap, dlq, 1)
    record = loads(dead.value())
    assert record["doc"]["id"] == "three" and "keyFormat int" in record["errInfo"]["reason"]
    assert record["processorName"] == "tombstones"


@pytest.mark.integration
def test_emit_date_format_iso8601_writes_dates_as_strings(kafka_bootstrap):
    """``config.dateFormat: "ISO8601"``: dates at any depth become ISO-8601 strings in milliseconds."""
    topic = f"dates{uuid.uuid4().hex[:8]}"
    at = {"$toDate": 1728043200123}  # 2024-10-04T12:00:00.123Z
    pipeline = [
        {"$source": {"documents": [{"id": 1}]}},
        {"$project": {"_id": 0, "id": 1, "at": at, "nested": {"when": at, "list": [at, "x"]}}},
        {"$unset": "_stream_meta"},
        {"$emit": {"connectionName": "kafka", "topic": topic, "config": {"dateFormat": "ISO8601"}}},
    ]
    run_main(translate(parse_pipeline(pipeline), parse_registry(registry_entry(kafka_bootstrap))).flow)
    (message,) = consume(kafka_bootstrap, topic, 1)
    iso = "2024-10-04T12:00:00.123Z"
    assert orjson.loads(message.value()) == {"id": 1, "at": iso, "nested": {"when": iso, "list": [iso, "x"]}}


@pytest.mark.integration
def test_pipeline_source_time_field_ts_field_name_and_json_keys(kafka_bootstrap, tmp_path):
    in_topic = new_topic(kafka_bootstrap, partitions=2)
    out, dlq = f"out{uuid.uuid4().hex[:8]}", f"dlq{uuid.uuid4().hex[:8]}"
    produce(kafka_bootstrap, in_topic, [
        {"value": b'{"at": "2024-05-01T10:00:00Z", "v": 1}', "key": b'{"id": 7}', "partition": 0},
        {"value": b'{"at": "not a date", "v": 2}', "key": b'{"id": 8}', "partition": 1},
        {"value": b'{"at": "2024-05-01T11:00:00Z", "v": 3}', "key": b"not json", "partition": 1},
    ])
    pipeline = {
        "name": "times",
        "pipeline": [
            {"$source": {"connectionName": "kafka", "topic": [in_topic],
                         "timeField": {"$dateFromString": {"dateString": "$at"}}, "tsFieldName": "eventTime",
                         "config": {"auto_offset_reset": "smallest", "keyFormat": "json"}}},
            {"$project": {"_id": 0, "v": 1, "eventTime": 1, "id": "$_stream_meta.source.key.id"}},
            {"$unset": "_stream_meta"},
            {"$emit": {"connectionName": "kafka", "topic": out}},
        ],
        "options": {"dlq": {"connectionName": "kafka", "topic": dlq}},
    }
    proc = start_pipeline(tmp_path, pipeline, registry_entry(kafka_bootstrap))
    try:
        (message,) = consume(kafka_bootstrap, out, 1, timeout=30)
        dead = consume(kafka_bootstrap, dlq, 2, timeout=30)
    finally:
        log = stop(proc)
    assert orjson.loads(message.value()) == {"v": 1, "eventTime": {"$date": "2024-05-01T10:00:00Z"}, "id": 7}, log
    reasons = sorted(loads(m.value())["errInfo"]["reason"] for m in dead)
    assert len(reasons) == 2 and "keyFormat" in reasons[0] and reasons[1].startswith("timeField: "), reasons
    assert "'not a date'" in reasons[1]


@pytest.mark.integration
def test_seed_customer_spending_runs_verbatim(kafka_bootstrap, mongodb_uri, tmp_path):
    """examples/customer_spending.json as written: Kafka orders, customers from MongoDB, Kafka out."""
    import pymongo

    tag = uuid.uuid4().hex[:8]
    alice, bob = f"alice-{tag}", f"bob-{tag}"
    with pymongo.MongoClient(mongodb_uri) as mongo:
        mongo.retail.customers.insert_many([{"_id": alice, "name": "Alice"}, {"_id": bob, "name": "Bob"}])
    minute = 60_000
    start = 1_714_557_600_000  # 2024-05-01T10:00:00Z
    orders = [(alice, 0, 10), (bob, 0, 1), (alice, 1, 20), (alice, 3, 30), (bob, 2, 2), (alice, 10, 40)]
    registry = {"connections": {
        "kafkaOrders": {"type": "kafka", "bootstrapServers": kafka_bootstrap,
                        "config": {"auto.offset.reset": "earliest"}},  # Tansu's "latest" is unreliable
        "kafkaAnalytics": {"type": "kafka", "bootstrapServers": kafka_bootstrap},
        "mongoProd": {"type": "mongodb", "uri": mongodb_uri},
    }}
    seed = json.loads((REPO / "examples" / "customer_spending.json").read_text())
    produce(kafka_bootstrap, "orders", [
        {"value": orjson.dumps({"customerId": who, "amount": amount,
                                "orderTime": {"$date": {"$numberLong": str(start + at * minute)}}}),
         "key": who.encode()}
        for who, at, amount in orders
    ])
    proc = start_pipeline(tmp_path, seed, registry)
    try:
        deadline = time.monotonic() + 60
        ours: list[dict] = []
        while time.monotonic() < deadline and len(ours) < len(orders):
            docs = [loads(m.value()) for m in consume(kafka_bootstrap, "customer-spending", 0, timeout=5, quiet=0.5)]
            ours = [d for d in docs if d.get("customerId") in (alice, bob)]
    finally:
        log = stop(proc)
    spent = {(d["customerId"], d["windowEnd"].timestamp()): d["totalSpent"] for d in ours}
    assert len(ours) == len(orders), log
    assert {d["customerName"] for d in ours if d["customerId"] == alice} == {"Alice"}
    at = lambda minutes: (start + minutes * minute) / 1000  # noqa: E731
    assert spent == {
        (alice, at(0)): 10, (alice, at(1)): 30, (alice, at(3)): 60, (alice, at(10)): 40,  # 5-minute look-back
        (bob, at(0)): 1, (bob, at(2)): 3,
    }


def window_pipeline(in_topic: str, out: str, idle: dict | None) -> dict:
    source = {"connectionName": "kafka", "topic": in_topic, "timeField": {"$toDate": "$at"},
              "config": {"auto_offset_reset": "earliest"}}
    if idle is not None:
        source["partitionIdleTimeout"] = idle
    return {"name": f"w{uuid.uuid4().hex[:6]}", "pipeline": [
        {"$source": source},
        {"$tumblingWindow": {"interval": {"size": 1, "unit": "minute"},
                             "pipeline": [{"$group": {"_id": None, "n": {"$sum": 1}}}]}},
        {"$project": {"_id": 0, "n": 1}},
        {"$unset": "_stream_meta"},
        {"$emit": {"connectionName": "kafka", "topic": out}},
    ]}


@pytest.mark.integration
@pytest.mark.parametrize("idle", [None, {"size": 1, "unit": "second"}])
def test_silent_partition_holds_windows_until_partition_idle_timeout(kafka_bootstrap, tmp_path, idle):
    """Atlas's watermark waits for every partition; partitionIdleTimeout releases a silent one."""
    in_topic, out = new_topic(kafka_bootstrap, partitions=2), f"win{uuid.uuid4().hex[:8]}"
    minute = 60_000
    start = 1_714_557_600_000
    produce(kafka_bootstrap, in_topic, [  # everything on partition 0; partition 1 stays silent
        {"value": orjson.dumps({"at": start + offset}), "partition": 0} for offset in (0, 10_000, 2 * minute)
    ])
    proc = start_pipeline(tmp_path, window_pipeline(in_topic, out, idle), registry_entry(kafka_bootstrap))
    try:
        got = consume(kafka_bootstrap, out, 1, timeout=15 if idle else 8)
    finally:
        log = stop(proc)
    if idle is None:
        assert got == [], log
    else:
        assert [orjson.loads(m.value()) for m in got] == [{"n": 2}], log


@pytest.mark.integration
def test_pipeline_survives_sigkill_with_its_recovery_directory(kafka_bootstrap, tmp_path):
    in_topic = new_topic(kafka_bootstrap, partitions=4)
    prefix, dlq = f"region{uuid.uuid4().hex[:8]}", f"dlq{uuid.uuid4().hex[:8]}"
    name = f"p{uuid.uuid4().hex[:6]}"
    messages = order_messages(8000)
    recovery = tmp_path / "recovery"
    recovery.mkdir()
    subprocess.run([sys.executable, "-m", "bytewax.recovery", str(recovery), "1"], check=True, cwd=REPO)
    flags = ("-r", str(recovery), "-s", "1", "-b", "0")
    pipeline, registry = orders_pipeline(in_topic, prefix, dlq, name), registry_entry(kafka_bootstrap)

    stream = threading.Thread(target=produce_slowly, args=(kafka_bootstrap, in_topic, messages, 1000))
    proc = start_pipeline(tmp_path, pipeline, registry, *flags)
    try:
        stream.start()
        assert emitted(kafka_bootstrap, prefix, 1, timeout=30, quiet=0), "the pipeline emitted nothing"
        time.sleep(2.5)
        assert stream.is_alive(), "the stream ended before the kill; produce more slowly"
    finally:
        proc.kill()
        proc.wait(10)
    stream.join()
    snapshot_offsets = recovered_offsets(recovery, in_topic, step_suffix=".00_source")

    proc = start_pipeline(tmp_path, pipeline, registry, *flags)
    try:
        emitted(kafka_bootstrap, prefix, 4000, timeout=120)
        time.sleep(2)
        got = emitted(kafka_bootstrap, prefix, 0, timeout=10)
    finally:
        log = stop(proc)
    seen: dict[tuple[int, int], int] = {}
    for message in got:
        doc = orjson.loads(message.value())
        seen[(doc["partition"], doc["offset"])] = seen.get((doc["partition"], doc["offset"]), 0) + 1
    assert len(seen) == 4000, log  # every paid order at least once
    duplicated = [key for key, times in seen.items() if times > 1]
    # The restart resumed from a snapshot taken mid-stream, not from the beginning. (Replay
    # usually duplicates a few messages, but none when the kill beat their delivery.)
    assert len(snapshot_offsets) == 4 and all(offset > 0 for offset in snapshot_offsets.values()), snapshot_offsets
    assert all(offset >= snapshot_offsets[partition] for partition, offset in duplicated), snapshot_offsets


# -- translation-time checks (no server) -------------------------------------------------


def problems(pipeline: list, registry: dict | None = None) -> str:
    with pytest.raises(PipelineValidationError) as info:
        plan(parse_pipeline(pipeline), parse_registry(registry) if registry else None)
    return str(info.value)


KAFKA_ONLY = {"connections": {"k": {"type": "kafka", "bootstrapServers": "b:9092"},
                              "m": {"type": "mongodb", "uri": "mongodb://h"}}, "default": "m"}


@pytest.mark.parametrize(
    ("pipeline", "message"),
    [
        ([{"$source": {"connectionName": "k", "topic": "t", "schemaRegistry": {"connectionName": "sr"}}}],
         "schemaRegistry (Avro payloads) is valid in Atlas but not supported by sluice"),
        ([{"$source": {"connectionName": "k", "topic": "t", "config": {"startAfter": {}}}}],
         "field 'startAfter' does not apply to a Kafka source; expected one of auto_offset_reset, enable_auto_commit, "
         "group_id, keyFormat, keyFormatError at config.startAfter"),
        ([{"$source": {"connectionName": "k", "topic": []}}], "topic must be a topic name or a non-empty array"),
        ([{"$source": {"connectionName": "k", "topic": "t", "partitionIdleTimeout": {"size": 0, "unit": "second"}}}],
         "partitionIdleTimeout.size"),
        ([{"$source": {"connectionName": "m", "topic": "t"}}], "describe a kafka source"),
        ([{"$source": {"connectionName": "k", "topic": "t"}}, {"$emit": {"connectionName": "m", "topic": "o"}}],
         "$emit with a topic writes to Kafka"),
        ([{"$source": {"connectionName": "k", "topic": "t"}},
          {"$emit": {"connectionName": "k", "topic": "o", "config": {"linger.ms": 5}}}],
         "field 'linger.ms' does not apply to $emit to Kafka"),
        ([{"$source": {"connectionName": "k", "topic": "t"}},
          {"$emit": {"connectionName": "k", "topic": "o", "config": {"dateFormat": "iso"}}}],
         'expected one of "default", "ISO8601"; got \'iso\' at config.dateFormat'),
        ([{"$source": {"connectionName": "k", "topic": "t"}}, {"$emit": {"connectionName": "k", "topic": ""}}],
         "topic must be a topic name or an expression; got an empty string"),
        ([{"$source": {"connectionName": "k", "topic": "t"}},
          {"$emit": {"connectionName": "k", "topic": {"$nope": 1}}}],
         "stage 1 ($emit): unknown expression operator \"$nope\" at topic"),
    ],
)
def test_kafka_stages_reject_bad_or_unsupported_options_at_translation(pipeline, message):
    assert message in problems(pipeline, KAFKA_ONLY)


def test_emit_to_other_targets_is_named_as_unsupported():
    pipeline = parse_pipeline([{"$source": {"documents": [{"a": 1}]}},
                               {"$emit": {"stream": "s", "partitionKey": "$k", "region": "us-east-1"}}])
    with pytest.raises(PipelineValidationError, match="Kinesis as a target is valid in Atlas but not supported by sluice"):
        translate(pipeline, parse_registry(KAFKA_ONLY))


def test_kafka_dlq_needs_a_topic():
    pipeline = parse_pipeline({"name": "x", "pipeline": [{"$source": {"documents": []}}],
                               "options": {"dlq": {"connectionName": "k", "db": "d", "coll": "c"}}})
    with pytest.raises(PipelineValidationError, match="a Kafka DLQ needs topic"):
        translate(pipeline, parse_registry(KAFKA_ONLY))


def test_seed_plans_its_kafka_source_and_emit_with_atlas_defaults():
    """The seed verbatim: first start at ``latest`` as in Atlas, relaxed JSON out."""
    registry = parse_registry({"connections": {"kafkaOrders": {"type": "kafka", "bootstrapServers": "b:9092"},
                                               "kafkaAnalytics": {"type": "kafka", "bootstrapServers": "b:9092"},
                                               "mongoProd": {"type": "mongodb", "uri": "mongodb://h"}}})
    seed = json.loads((REPO / "examples" / "customer_spending.json").read_text())
    plans = plan(parse_pipeline(seed), registry)
    assert "group sluice-" in plans[0].description and "else latest" in plans[0].description
    assert plans[-1].description.startswith("emit to Kafka topic customer-spending as relaxedJson")
