"""Pipelines with MongoDB stages, end to end through the translator, against SecantusDB.

The seed's first pipeline runs verbatim under ``python -m bytewax.run flows.pipeline``,
also across a SIGKILL; ``$lookup``, ``$cachedLookup``, ``$merge`` and the MongoDB DLQ run
through ``translator.process`` with a documents source.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipeline_runner import run_pipeline, with_documents, without_stream_fields
from translator import plan
from translator.connections import parse_registry
from translator.errors import PipelineValidationError
from translator.explain import explain
from translator.parse import parse_pipeline

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# The seed's first pipeline, verbatim (/work/shared/seed, "Option 2").
SEED_PIPELINE = """
[
  { "$source": { "collection": "sales", "db": "store" } },
  { "$match": { "amount": { "$gt": 1000 } } },
  { "$merge": { "into": { "db": "store", "coll": "highValueSales" } } }
]
"""


@pytest.fixture
def registry(mongodb_uri):
    return parse_registry({"connections": {"atlas": {"type": "mongodb", "uri": mongodb_uri}}, "default": "atlas"})


@pytest.fixture
def store(client):
    """The seed's database, emptied before and after (the pipeline names it)."""
    client.drop_database("store")
    yield client.store
    client.drop_database("store")


def _wait_for(condition, timeout: float, what: str, explain=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what} {explain()}")
        time.sleep(0.5)


def _seed_files(tmp_path: Path, mongodb_uri: str) -> dict:
    (tmp_path / "seed.json").write_text(SEED_PIPELINE)
    registry = {"connections": {"atlas": {"type": "mongodb", "uri": mongodb_uri}}, "default": "atlas"}
    (tmp_path / "connections.json").write_text(json.dumps(registry))
    return {
        **os.environ,
        "SLUICE_PIPELINE": str(tmp_path / "seed.json"),
        "SLUICE_CONNECTIONS": str(tmp_path / "connections.json"),
        "PYTHONPATH": str(ROOT),
    }


def _run_seed(env: dict, *recovery: str) -> subprocess.Popen:
    return subprocess.Popen(
        [PYTHON, "-m", "bytewax.run", "flows.pipeline", *recovery],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_until_watching(store, flow: subprocess.Popen) -> None:
    """The source starts at "now": probe sales show when the change stream is open."""
    deadline = time.monotonic() + 60
    probe = 0
    while store.highValueSales.count_documents({"probe": True}) == 0:
        if flow.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the seed pipeline did not start (exit code {flow.poll()})")
        store.sales.insert_one({"_id": f"probe-{probe}", "amount": 5000, "probe": True})
        probe += 1
        time.sleep(0.5)


def _expected(store) -> dict:
    # Probes written before the stream opened are never seen: they are left out.
    return {doc["_id"]: doc for doc in store.sales.find({"amount": {"$gt": 1000}, "probe": {"$ne": True}})}


def _merged(store) -> dict:
    return {doc["_id"]: without_stream_fields(doc) for doc in store.highValueSales.find({"probe": {"$ne": True}})}


def _matches_expected(store) -> bool:
    expected = _expected(store)
    if store.highValueSales.count_documents({"probe": {"$ne": True}}) != len(expected):
        return False
    return _merged(store) == expected


def _difference(store) -> str:
    """What keeps store.highValueSales from the expected set, for the failure message."""
    expected = _expected(store)
    merged = _merged(store)
    missing = sorted(set(expected) - set(merged), key=str)
    extra = sorted(set(merged) - set(expected), key=str)
    stale = [key for key in expected if key in merged and merged[key] != expected[key]]
    return f"missing {len(missing)} {missing[:5]}, extra {len(extra)} {extra[:5]}, stale {len(stale)} {stale[:5]}"


class _Workload:
    """10k sales, then updates that raise low amounts or touch high ones, then deletes of low sales.

    Updates and deletes keep "the sales with amount > 1000" a set the stream can follow:
    a sale never drops back to 1000 or below once it was above.
    """

    def __init__(self, store, count: int = 10_000, pause: float = 0.0) -> None:
        rng = random.Random(4)
        self.store = store
        self.sales = [{"_id": i, "amount": rng.randrange(2000), "region": rng.choice("nesw")} for i in range(count)]
        low = [sale["_id"] for sale in self.sales if sale["amount"] <= 1000]
        high = [sale["_id"] for sale in self.sales if sale["amount"] > 1000]
        self.raised = low[: count // 10]
        self.touched = high[: count // 20]
        self.deleted = low[count // 10 : count // 5]
        self.pause = pause

    def run(self) -> None:
        sales = self.store.sales
        for start in range(0, len(self.sales), 250):
            sales.insert_many(self.sales[start : start + 250])
            time.sleep(self.pause)
        for sale_id in self.raised:
            sales.update_one({"_id": sale_id}, {"$inc": {"amount": 1000}})
        for sale_id in self.touched:
            sales.update_one({"_id": sale_id}, {"$set": {"note": "checked"}})
        sales.delete_many({"_id": {"$in": self.deleted}})


def test_seed_pipeline_verbatim_follows_10k_sales(store, mongodb_uri, tmp_path):
    flow = _run_seed(_seed_files(tmp_path, mongodb_uri))
    try:
        _wait_until_watching(store, flow)
        _Workload(store).run()
        _wait_for(
            lambda: _matches_expected(store),
            120,
            "store.highValueSales to hold exactly the sales > 1000",
            lambda: _difference(store),
        )
    finally:
        flow.kill()
        flow.wait()
    doc = store.highValueSales.find_one({"note": "checked"})
    assert doc["_stream_meta"]["source"].items() >= {"type": "atlas", "db": "store", "coll": "sales", "operationType": "update"}.items()


def test_seed_pipeline_resumes_after_sigkill(store, mongodb_uri, tmp_path):
    env = _seed_files(tmp_path, mongodb_uri)
    recovery = tmp_path / "recovery"
    recovery.mkdir()
    subprocess.run([PYTHON, "-m", "bytewax.recovery", str(recovery), "1"], check=True, cwd=ROOT, env=env)
    options = ("-r", str(recovery), "-s", "1", "-b", "0")
    flow = _run_seed(env, *options)
    workload = _Workload(store, count=6000, pause=0.05)
    writer = threading.Thread(target=workload.run)
    try:
        _wait_until_watching(store, flow)
        writer.start()
        _wait_for(lambda: store.highValueSales.count_documents({}) > 1000, 120, "the first run to merge sales")
        time.sleep(1.5)  # past a snapshot
        flow.send_signal(signal.SIGKILL)
        flow.wait()
        time.sleep(1)  # writes go on while nothing runs
        flow = _run_seed(env, *options)
        writer.join()
        _wait_for(
            lambda: _matches_expected(store),
            120,
            "the restarted pipeline to catch up exactly",
            lambda: _difference(store),
        )
    finally:
        flow.kill()
        flow.wait()
        writer.join()


# ---------------------------------------------------------------- through translator.process


@pytest.fixture
def customers(db):
    db.customers.insert_many([
        {"_id": 1, "name": "ada", "tier": "gold"},
        {"_id": 2, "name": "bob", "tier": "silver"},
        {"_id": 3, "name": "cy", "tier": "gold"},
    ])  # fmt: skip
    return db.customers


ORDERS = [
    {"orderId": 1, "customerId": 1, "amount": 10},
    {"orderId": 2, "customerId": 2, "amount": 0},
    {"orderId": 3, "customerId": 9, "amount": 5},
]


def test_lookup_by_local_and_foreign_field(db, customers, registry):
    lookup = {
        "$lookup": {
            "from": {"connectionName": "atlas", "db": db.name, "coll": "customers"},
            "localField": "customerId",
            "foreignField": "_id",
            "as": "customer",
        }
    }
    result = run_pipeline(with_documents(ORDERS, [lookup, {"$project": {"_id": 0, "orderId": 1, "customer.name": 1}}]), registry)
    assert result.docs == [
        {"orderId": 1, "customer": [{"name": "ada"}]},
        {"orderId": 2, "customer": [{"name": "bob"}]},
        {"orderId": 3, "customer": []},
    ]


def test_lookup_with_let_and_pipeline_and_a_failing_document(db, customers, registry):
    lookup = {
        "$lookup": {
            "from": {"db": db.name, "coll": "customers"},  # no connectionName: the registry's default
            "let": {"tier": "$tier", "share": {"$divide": [100, "$amount"]}},
            "pipeline": [
                {"$match": {"$expr": {"$eq": ["$tier", "$$tier"]}}},
                {"$project": {"_id": 0, "name": 1, "share": "$$share"}},
                {"$sort": {"name": 1}},
            ],
            "as": "peers",
        }
    }
    orders = [{**order, "tier": tier} for order, tier in zip(ORDERS, ["gold", "silver", "bronze"])]
    result = run_pipeline(with_documents(orders, [lookup, {"$project": {"_id": 0, "orderId": 1, "peers": 1}}]), registry)
    assert result.docs == [
        {"orderId": 1, "peers": [{"name": "ada", "share": 10.0}, {"name": "cy", "share": 10.0}]},
        {"orderId": 3, "peers": []},
    ]
    (record,) = result.dead  # order 2 divides by zero
    assert record["doc"]["orderId"] == 2 and "$lookup (stage 1)" in record["errInfo"]["reason"]


def test_cached_lookup(db, customers, registry):
    cached = {
        "$cachedLookup": {
            "from": {"connectionName": "atlas", "db": db.name, "coll": "customers"},
            "localField": "customerId",
            "foreignField": "_id",
            "ttl": {"size": 5, "unit": "minute"},
            "maxMemUsageBytes": 1_000_000,
            "as": "customer",
        }
    }
    orders = ORDERS * 3
    result = run_pipeline(with_documents(orders, [cached, {"$project": {"_id": 0, "customer.name": 1}}]), registry)
    assert result.docs == [{"customer": [{"name": "ada"}]}, {"customer": [{"name": "bob"}]}, {"customer": []}] * 3


def test_merge_with_dynamic_into_pipeline_and_mongodb_dlq(db, registry):
    db.red.insert_one({"_id": 1, "count": 1})
    processor = {
        "name": "router",
        "pipeline": with_documents(
            [{"_id": 1, "kind": "red", "count": 2}, {"_id": 2, "kind": "blue", "count": 5}, {"_id": 3, "count": 1}],
            [
                {
                    "$merge": {
                        "into": {"connectionName": "atlas", "db": db.name, "coll": "$kind"},
                        "whenMatched": [{"$set": {"count": {"$add": ["$count", "$$new.count"]}}}],
                        "whenNotMatched": "insert",
                    }
                }
            ],
        ),
        "options": {"dlq": {"connectionName": "atlas", "db": db.name, "coll": "dlq"}},
    }
    run_pipeline(processor, registry)
    assert db.red.find_one({"_id": 1}) == {"_id": 1, "count": 3}
    assert without_stream_fields(db.blue.find_one({"_id": 2})) == {"_id": 2, "kind": "blue", "count": 5}
    (record,) = list(db.dlq.find())
    assert record["doc"]["_id"] == 3 and record["processorName"] == "router"
    assert record["errInfo"]["reason"] == "$merge.into.coll: expected a valid coll name; got MISSING"


def test_merge_when_matched_expression_chooses_per_document(db, registry):
    db.target.insert_many([{"_id": 1, "v": 0}, {"_id": 2, "v": 0}])
    merge = {
        "$merge": {
            "into": {"db": db.name, "coll": "target"},
            "whenMatched": {"$cond": [{"$eq": ["$op", "delete"]}, "delete", "replace"]},
            "whenNotMatched": "discard",
        }
    }
    docs = [{"_id": 1, "op": "delete"}, {"_id": 2, "op": "update", "v": 1}, {"_id": 3, "op": "update"}]
    run_pipeline(with_documents(docs, [{"$project": {"_stream_meta": 0, "_ts": 0}}, merge]), registry)
    assert list(db.target.find()) == [{"_id": 2, "op": "update", "v": 1}]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"coll": "sales"}, "stage 0 ($source): coll needs a db"),
        ({"db": "store", "coll": "a", "collection": "b"}, "give coll or its alias collection, not both"),
        ({"db": "store", "config": {"fullDocument": "always"}}, "expected one of"),
        ({"db": "store", "config": {"startAfter": {"_data": "00"}, "startAtOperationTime": 1}}, "exclude each other"),
        ({"db": "store", "config": {"pipeline": [{"$match": {}, "$limit": 1}]}}, "each an object with one field"),
        ({"db": "store", "partitionIdleTimeout": {"size": 1, "unit": "second"}}, "does not apply to a change stream"),
    ],
)
def test_change_stream_source_errors_name_the_stage_and_field(registry, source, message):
    pipeline = parse_pipeline([{"$source": source}, {"$merge": {"into": {"db": "a", "coll": "b"}}}])
    with pytest.raises(PipelineValidationError, match=message.replace("$", r"\$").replace("(", r"\(").replace(")", r"\)")):
        plan(pipeline, registry)


def test_merge_and_lookup_errors_name_the_stage_and_field(registry):
    bad = parse_pipeline(
        [
            {"$source": {"documents": []}},
            {"$lookup": {"from": "customers", "localField": "a", "foreignField": "b", "as": "c"}},
            {"$cachedLookup": {"from": {"db": "d", "coll": "c"}, "localField": "a", "foreignField": "b", "as": "c",
                               "ttl": {"size": 0, "unit": "second"}}},
            {"$merge": {"into": {"db": "d", "coll": "$kind"}, "parallelism": 4}},
        ]
    )  # fmt: skip
    with pytest.raises(PipelineValidationError) as failure:
        plan(bad, registry)
    text = str(failure.value)
    assert "stage 1 ($lookup): from must be {connectionName, db, coll}, or pipeline must start with $documents" in text
    assert "stage 2 ($cachedLookup): size must be a positive number; got 0 at ttl.size" in text
    assert "stage 3 ($merge): parallelism must be 1 when into.db or into.coll is an expression" in text


def test_merge_let_variables_reach_the_when_matched_pipeline(db, registry):
    db.totals.insert_one({"_id": "a", "total": 10})
    merge = {
        "$merge": {
            "into": {"db": db.name, "coll": "totals"},
            "let": {"bonus": {"$multiply": ["$points", 2]}},
            "whenMatched": [{"$set": {"total": {"$add": ["$total", "$$bonus"]}, "last": "$$new.points"}}],
        }
    }
    docs = [{"_id": "a", "points": 3}, {"_id": "b", "points": 1}]
    run_pipeline(with_documents(docs, [{"$unset": ["_ts", "_stream_meta"]}, merge]), registry)
    assert list(db.totals.find().sort("_id", 1)) == [
        {"_id": "a", "total": 16, "last": 3},
        {"_id": "b", "points": 1},
    ]


def test_merge_parallelism_keeps_the_last_version_of_each_key(db, registry):
    merge = {"$merge": {"into": {"db": db.name, "coll": "latest"}, "parallelism": 4}}
    docs = [{"_id": i % 13, "v": i} for i in range(400)]
    pipeline = with_documents(docs, [{"$unset": ["_ts", "_stream_meta"]}, merge])
    assert "parallelism 4: up to 4 bulk writes at once" in explain(plan(parse_pipeline(pipeline), registry))
    run_pipeline(pipeline, registry)
    assert {doc["_id"]: doc["v"] for doc in db.latest.find()} == {doc["_id"]: doc["v"] for doc in docs}


# ---------------------------------------------------------------- $emit to a time-series collection

TIMESERIES = {"timeField": "ts", "metaField": "sensor", "granularity": "minutes"}


def test_emit_creates_a_time_series_collection_and_refuses_documents_without_a_date(db, registry):
    at = datetime(2026, 11, 1, tzinfo=timezone.utc)
    readings = [
        {"sensor": "a", "ts": at, "v": 1},
        {"sensor": "b", "v": 2},  # no ts
        {"sensor": "a", "ts": "yesterday", "v": 3},
        {"sensor": "b", "ts": at + timedelta(minutes=1), "v": 4},
    ]
    emit = {"$emit": {"connectionName": "atlas", "db": db.name, "coll": "readings", "timeseries": TIMESERIES}}
    processor = {
        "name": "meter",
        "pipeline": with_documents(readings, [{"$unset": "_stream_meta"}, emit]),
        "options": {"dlq": {"connectionName": "atlas", "db": db.name, "coll": "dlq"}},
    }
    run_pipeline(processor, registry)
    (info,) = db.list_collections(filter={"name": "readings"})
    assert info["options"]["timeseries"] == TIMESERIES
    stored = sorted(db.readings.find({}, {"_id": 0, "_ts": 0}), key=lambda doc: doc["v"])
    assert stored == [
        {"sensor": "a", "ts": at, "v": 1},
        {"sensor": "b", "ts": at + timedelta(minutes=1), "v": 4},
    ]
    reasons = {record["doc"]["v"]: record["errInfo"]["reason"] for record in db.dlq.find()}
    assert set(reasons) == {2, 3}
    assert reasons[2].endswith("'ts' must be present and contain a valid BSON UTC datetime value")
    assert reasons[2].startswith(f"$emit into time-series {db.name}.readings at mongodb://")
    run_pipeline(processor, registry)  # into the collection that now exists
    assert db.readings.count_documents({}) == 4


@pytest.mark.parametrize(
    ("emit", "message"),
    [
        ({"db": "d", "coll": "c"}, "stage 1 ($emit): missing required field 'timeseries'"),
        ({"db": "d", "coll": "c", "timeseries": {"metaField": "m"}}, "missing required field 'timeField' at timeseries"),
        ({"db": "d", "coll": "c", "timeseries": {"timeField": "a.b"}}, "timeField must name a top-level field; got 'a.b' at timeseries.timeField"),
        ({"db": "d", "coll": "c", "timeseries": {"timeField": "t", "metaField": "t"}}, "metaField must differ from timeField"),
        ({"db": "d", "coll": "c", "timeseries": {"timeField": "t", "granularity": "days"}}, "granularity must be one of seconds, minutes, hours"),
        ({"db": "d", "coll": "c", "timeseries": {"timeField": "t", "bucketMaxSpanSeconds": 60}}, "go together, equal"),
        ({"db": "d", "coll": "c", "timeseries": {"timeField": "t", "expireAfterSeconds": 60}}, "field 'expireAfterSeconds' does not apply to timeseries"),
        ({"db": "d.x", "coll": "c", "timeseries": {"timeField": "t"}}, "db must be a valid database name; got 'd.x' at db"),
        ({"db": "d", "coll": "c", "topic": "t", "timeseries": {"timeField": "t"}}, "field 'topic' does not apply to $emit to a time-series collection"),
        ({"connectionName": "kafka", "db": "d", "coll": "c", "timeseries": {"timeField": "t"}}, "writes to MongoDB"),
    ],
)
def test_emit_to_time_series_errors_name_the_field(mongodb_uri, emit, message):
    connections = {"atlas": {"type": "mongodb", "uri": mongodb_uri}, "kafka": {"type": "kafka", "bootstrapServers": "127.0.0.1:9"}}
    registry = parse_registry({"connections": connections, "default": "atlas"})
    with pytest.raises(PipelineValidationError) as failure:
        plan(parse_pipeline(with_documents([], [{"$emit": emit}])), registry)
    assert message in str(failure.value)
