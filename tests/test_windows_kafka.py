"""Windows over a real Kafka topic: the watermark waits for every partition, late data goes to the DLQ.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/windows/#watermarks
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from test_kafka_connectors import consume, new_topic, produce
from test_kafka_pipelines import registry_entry, start_pipeline, stop

from runtime.ejson import dumps, loads

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
CUSTOMERS = ("c1", "c2", "c3")


def order(seconds: float, customer: str, amount: int, partition: int) -> dict:
    doc = {"customerId": customer, "amount": amount, "orderTime": T0 + timedelta(seconds=seconds)}
    return {"value": dumps(doc).encode(), "partition": partition}


def window_pipeline(in_topic: str, out_topic: str, dlq: str, **source: object) -> dict:
    return {
        "name": "windows",
        "pipeline": [
            {"$source": {"connectionName": "kafka", "topic": in_topic, "timeField": "$orderTime",
                         "config": {"auto_offset_reset": "earliest"}, **source}},
            {"$tumblingWindow": {"interval": {"size": 10, "unit": "second"}, "pipeline": [
                {"$group": {"_id": "$customerId", "total": {"$sum": "$amount"}, "orders": {"$count": {}}}},
                {"$addFields": {"start": {"$meta": "stream.window.start"}}},
            ]}},
            {"$emit": {"connectionName": "kafka", "topic": out_topic}},
        ],
        "options": {"dlq": {"connectionName": "kafka", "topic": dlq}},
    }  # fmt: skip


def window_sums(messages: list) -> dict:
    """(window start s, customer) -> (total, orders), as the pipeline should find them."""
    sums: dict = {}
    for message in messages:
        doc = loads(message["value"])
        key = (int((doc["orderTime"] - T0).total_seconds()) // 10 * 10, doc["customerId"])
        total, count = sums.get(key, (0, 0))
        sums[key] = (total + doc["amount"], count + 1)
    return sums


def emitted_sums(got: list, log: str) -> dict:
    found = {}
    for message in got:
        doc = loads(message.value())
        key = (int((doc["start"] - T0).total_seconds()), doc["_id"])
        assert key not in found, log  # each window and key once
        found[key] = (doc["total"], doc["orders"])
    return found


@pytest.mark.integration
@pytest.mark.parametrize("workers", ["1", "2"])
def test_tumbling_window_over_two_kafka_partitions(kafka_bootstrap, tmp_path, workers):
    in_topic = new_topic(kafka_bootstrap, partitions=2)
    out_topic, dlq = f"sums{uuid.uuid4().hex[:8]}", f"dlq{uuid.uuid4().hex[:8]}"
    pipeline = window_pipeline(in_topic, out_topic, dlq)
    # Partition 1 runs 30 s behind partition 0 until both jump to 100 s: windows close only then.
    # With two workers each reads one partition; every chunk still meets in one window state.
    messages = [order(s, CUSTOMERS[s % 3], s, partition=0) for s in range(60)]
    messages += [order(s, CUSTOMERS[s % 3], 1000 + s, partition=1) for s in range(30)]
    messages += [order(100, "c1", 0, partition=0), order(100, "c1", 0, partition=1)]
    expected = window_sums(messages[:-2])
    produce(kafka_bootstrap, in_topic, messages)
    proc = start_pipeline(tmp_path, pipeline, registry_entry(kafka_bootstrap), "-w", workers)
    try:
        got = consume(kafka_bootstrap, out_topic, len(expected), timeout=60)
        produce(kafka_bootstrap, in_topic, [order(5, "c1", 7, partition=1)])  # [0,10) closed long ago
        (dead,) = consume(kafka_bootstrap, dlq, 1, timeout=30)
    finally:
        log = stop(proc)
    assert emitted_sums(got, log) == expected, log
    record = loads(dead.value())
    assert record["doc"]["amount"] == 7 and record["missedWindowStartTimes"] == [T0]
    assert record["errInfo"]["reason"].startswith("late document")


@pytest.mark.integration
def test_partition_idle_timeout_releases_a_partition_that_never_speaks(kafka_bootstrap, tmp_path):
    # Partition 1 exists but stays empty: it holds every window until partitionIdleTimeout.
    in_topic = new_topic(kafka_bootstrap, partitions=2)
    out_topic, dlq = f"sums{uuid.uuid4().hex[:8]}", f"dlq{uuid.uuid4().hex[:8]}"
    pipeline = window_pipeline(in_topic, out_topic, dlq, partitionIdleTimeout={"size": 1, "unit": "second"})
    messages = [order(s, CUSTOMERS[s % 3], s, partition=0) for s in range(35)]
    produce(kafka_bootstrap, in_topic, messages)
    proc = start_pipeline(tmp_path, pipeline, registry_entry(kafka_bootstrap))
    try:
        expected = {key: sums for key, sums in window_sums(messages).items() if key[0] + 10 + 3 <= 34}
        got = consume(kafka_bootstrap, out_topic, len(expected), timeout=60)
    finally:
        log = stop(proc)
    assert emitted_sums(got, log) == expected, log
