"""Stream processors on a real `sluice serve`, every command through pymongo, with SecantusDB and Kafka.

The seed's first pipeline is created, started, fed, sampled, stopped, fed while stopped, started
again, and dropped; a window's state survives a modify that adds a stateless stage; the instance
and one member of a two-process cluster are SIGKILLed mid-stream; ten clients work at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sqlite3
import os
import random
import re
import signal
import threading
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from bson import Int64
from instance_server import RunningInstance, wait_for
from pymongo.errors import OperationFailure
from test_kafka_connectors import committed, new_topic, produce

from runtime.ejson import dumps
from instance import supervisor
from instance.service import Instance
from translator.parse import load_pipeline

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent
SEED = load_pipeline(str(ROOT / "examples" / "high_value_sales.json"))
SEED_STAGES = [{stage.name: stage.spec} for stage in SEED.stages]


@pytest.fixture
def store(client):
    """The seed pipeline's database, emptied before and after."""
    client.drop_database("store")
    yield client.store
    client.drop_database("store")


@pytest.fixture
def registry_file(tmp_path, mongodb_uri, kafka_bootstrap) -> str:
    path = tmp_path / "connections.json"
    mongo = {"type": "mongodb", "uri": mongodb_uri}
    path.write_text(json.dumps({"connections": {"mongo": mongo, "kafka": {"type": "kafka", "bootstrapServers": kafka_bootstrap}},
                                "default": "mongo"}))  # fmt: skip
    return str(path)


@pytest.fixture
def serve(tmp_path, registry_file):
    """Start instances on ``tmp_path/data``; every one still running is stopped afterwards."""
    running: list[RunningInstance] = []

    def start(*flags: str) -> RunningInstance:
        instance = RunningInstance(registry_file, str(tmp_path / "data"), *flags)
        running.append(instance)
        return instance

    yield start
    for instance in running:
        instance.stop()


def command(client, body: dict) -> dict:
    return client.admin.command(body)


def processors(client, filter_: dict | None = None) -> dict:
    reply = command(client, {"listStreamProcessors": 1, "filter": filter_})
    return {entry["name"]: entry for entry in reply["streamProcessors"]}


def state(client, name: str) -> str:
    return processors(client)[name]["state"]


def stats(client, name: str, **options) -> dict:
    return command(client, {"getStreamProcessorStats": name, **options})


def wait_until_watching(store, probes: list) -> None:
    """The change stream starts at "now": probe sales show when it is open."""

    def seen() -> bool:
        probe = {"_id": f"probe-{len(probes)}", "amount": 5000, "probe": True}
        store.sales.insert_one(probe)
        probes.append(probe["_id"])
        return store.highValueSales.count_documents({"probe": True}) > 0

    wait_for(seen, "the processor's change stream to open", timeout=120, interval=0.5)


def sales(first: int, count: int) -> list[dict]:
    rng = random.Random(first)
    return [{"_id": i, "amount": rng.randrange(2000)} for i in range(first, first + count)]


def insert(store, docs: list[dict]) -> None:
    for start in range(0, len(docs), 500):
        store.sales.insert_many(docs[start : start + 500])


def high_value_exact(store, docs: list[dict]) -> bool:
    """highValueSales holds exactly the sales over 1000 (besides the probes the stream saw)."""
    expected = {doc["_id"] for doc in docs if doc["amount"] > 1000}
    found = [doc["_id"] for doc in store.highValueSales.find({"probe": {"$ne": True}}, {"_id": 1})]
    return len(found) == len(expected) and set(found) == expected


def sample(client, name: str, want: int = 1) -> list[dict]:
    cursor = command(client, {"startSampleStreamProcessor": name})["cursorId"]
    assert isinstance(cursor, Int64) and cursor != 0
    messages: list[dict] = []

    def more() -> bool:
        reply = command(client, {"getMoreSampleStreamProcessor": name, "cursorId": cursor})
        assert reply["cursorId"] == cursor
        messages.extend(reply["messages"])
        return len(messages) >= want

    wait_for(more, f"{want} sampled documents of {name}", interval=0.3)
    return messages


def test_seed_pipeline_lifecycle(serve, store):
    instance = serve()
    client = instance.client()
    with pytest.raises(OperationFailure) as bad:
        command(client, {"createStreamProcessor": "bad", "pipeline": [SEED_STAGES[0], {"$match": {"amount": {"$gtt": 1}}}]})
    assert bad.value.details["errmsg"] == 'stage 1 ($match): unknown query operator "$gtt" at amount.$gtt'
    assert command(client, {"createStreamProcessor": "highValueSales", "pipeline": SEED_STAGES}) == {"ok": 1}
    with pytest.raises(OperationFailure, match="already exists"):
        command(client, {"createStreamProcessor": "highValueSales", "pipeline": SEED_STAGES})
    created = processors(client)["highValueSales"]
    assert (created["state"], created["pipeline"], created["tier"]) == ("CREATED", SEED_STAGES, "SP10")
    idle = stats(client, "highValueSales", options={"verbose": True})
    assert idle["stats"]["inputMessageCount"] == Int64(0) and isinstance(idle["stats"]["inputMessageCount"], Int64)
    assert len(idle["stats"]["operatorStats"]) == 3

    assert command(client, {"startStreamProcessor": "highValueSales"}) == {"ok": 1}
    probes: list = []
    wait_until_watching(store, probes)
    first = sales(0, 5000)
    insert(store, first)
    wait_for(lambda: high_value_exact(store, first), "highValueSales to hold exactly the first 5,000 sales' matches")
    seen_probes = store.highValueSales.count_documents({"probe": True})
    matches = sum(doc["amount"] > 1000 for doc in first)

    def counted() -> dict:
        s = stats(client, "highValueSales", verbose=True)["stats"]
        return s if s["outputMessageCount"] == seen_probes + matches else None

    live = wait_for(counted, "the stats to count every output")
    assert live["inputMessageCount"] == seen_probes + len(first)
    assert live["status"] == "running" and isinstance(live["outputMessageCount"], Int64)
    assert "operatorStats" not in stats(client, "highValueSales")["stats"]

    more = sales(5000, 200)
    feeder = threading.Thread(target=lambda: [insert(store, more[i : i + 20]) or threading.Event().wait(0.1) for i in range(0, 200, 20)])
    feeder.start()
    sampled = sample(client, "highValueSales")
    feeder.join()
    assert all(doc["amount"] > 1000 for doc in sampled)
    first += more

    assert command(client, {"stopStreamProcessor": "highValueSales"}) == {"ok": 1}
    assert state(client, "highValueSales") == "STOPPED"
    assert stats(client, "highValueSales")["stats"]["status"] == "stopped"
    while_stopped = sales(6000, 1000)
    insert(store, while_stopped)
    assert command(client, {"startStreamProcessor": "highValueSales"}) == {"ok": 1}
    everything = first + while_stopped
    wait_for(lambda: high_value_exact(store, everything), "the sales inserted while stopped, once each")

    assert command(client, {"dropStreamProcessor": "highValueSales"}) == {"ok": 1}
    assert "highValueSales" not in processors(client)
    with pytest.raises(OperationFailure, match="does not exist"):
        command(client, {"getStreamProcessorStats": "highValueSales"})


T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def reading(seconds: int, amount: int) -> dict:
    return {"value": dumps({"customerId": "c1", "amount": amount, "t": T0 + timedelta(seconds=seconds)}).encode()}


def window_stages(topic: str, group: str, db: str, size: int = 10, extra: list | None = None) -> list:
    return [
        {"$source": {"connectionName": "kafka", "topic": topic, "timeField": "$t",
                     "config": {"auto_offset_reset": "earliest", "group_id": group}}},
        *(extra or []),
        {"$tumblingWindow": {"interval": {"size": size, "unit": "second"}, "pipeline": [
            {"$group": {"_id": "$customerId", "total": {"$sum": "$amount"}, "orders": {"$count": {}}}}]}},
        {"$merge": {"into": {"connectionName": "mongo", "db": db, "coll": "totals"}}},
    ]  # fmt: skip


def test_modify_keeps_window_state_and_refuses_a_changed_window(serve, db, kafka_bootstrap):
    instance = serve()
    client = instance.client()
    topic, group = new_topic(kafka_bootstrap, 1), f"g{uuid.uuid4().hex[:8]}"
    produce(kafka_bootstrap, topic, [reading(s, 10) for s in range(5)])
    command(client, {"createStreamProcessor": "totals", "pipeline": window_stages(topic, group, db.name)})
    command(client, {"startStreamProcessor": "totals"})
    wait_for(lambda: committed(kafka_bootstrap, group, topic, 1)[0] == 5, "a checkpoint past the first five readings")
    command(client, {"stopStreamProcessor": "totals"})

    added = window_stages(topic, group, db.name, extra=[{"$addFields": {"checked": True}}])
    assert command(client, {"modifyStreamProcessor": "totals", "pipeline": added, "resumeFromCheckpoint": True}) == {"ok": 1}
    assert processors(client)["totals"]["pipeline"] == added
    command(client, {"startStreamProcessor": "totals"})
    produce(kafka_bootstrap, topic, [reading(s, 1) for s in range(5, 8)] + [reading(25, 0)])
    wait_for(lambda: db.totals.find_one({"_id": "c1"}), "the first window's total")
    total = db.totals.find_one({"_id": "c1"})
    assert (total["total"], total["orders"]) == (53, 8), "the five readings before the modify count too"

    with pytest.raises(OperationFailure, match="must be stopped"):
        command(client, {"modifyStreamProcessor": "totals", "pipeline": added})
    command(client, {"stopStreamProcessor": "totals"})
    changed = window_stages(topic, group, db.name, size=20, extra=[{"$addFields": {"checked": True}}])
    with pytest.raises(OperationFailure, match=r"stage 2 \(\$tumblingWindow\) changed"):
        command(client, {"modifyStreamProcessor": "totals", "pipeline": changed})
    assert command(client, {"modifyStreamProcessor": "totals", "pipeline": changed, "resumeFromCheckpoint": False}) == {"ok": 1}
    assert command(client, {"modifyStreamProcessor": "totals", "name": "renamed"}) == {"ok": 1}
    assert set(processors(client, {"name": {"$regex": "^ren"}, "state": {"$in": ["STOPPED", "FAILED"]}})) == {"renamed"}


def bytewax_processes(processor_id: str) -> dict[int, int]:
    """Process index (``-i``, 0 when alone) → pid of the processor's running Bytewax processes."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as file:
                argv = file.read().decode(errors="replace").split("\0")
            with open(f"/proc/{entry}/environ", "rb") as file:
                environ = file.read().decode(errors="replace")
        except OSError:
            continue
        if "bytewax.run" in argv and f"SLUICE_FLOW_ID={processor_id}" in environ:
            found[int(argv[argv.index("-i") + 1]) if "-i" in argv else 0] = int(entry)
    return found


def checkpointed(data: Path, processor_id: str) -> bool:
    """A checkpoint holds a change-stream resume token: a restart resumes from there, not from "now".

    (Before a processor's first checkpoint, a restart opens its change stream afresh.)
    """
    for part in (data / "processors" / processor_id / "recovery").glob("part-*.sqlite3"):
        with contextlib.closing(sqlite3.connect(part)) as db:
            query = "SELECT count(*) FROM snaps WHERE step_id LIKE '%.00_source' AND length(ser_change) > 32"
            if db.execute(query).fetchone()[0]:
                return True
    return False


class Feeder(threading.Thread):
    """Inserts ``docs`` in batches with pauses, so that a kill lands mid-stream."""

    def __init__(self, store, docs: list[dict], pause: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.store, self.docs, self.pause = store, docs, pause
        self.inserted = 0

    def run(self) -> None:
        for start in range(0, len(self.docs), 100):
            self.store.sales.insert_many(self.docs[start : start + 100])
            self.inserted = start + 100
            threading.Event().wait(self.pause)


def test_instance_sigkilled_mid_stream_resumes_its_processors(serve, store, tmp_path):
    running = [instance := serve()]
    client = instance.client()
    command(client, {"createStreamProcessor": "highValueSales", "pipeline": SEED_STAGES})
    command(client, {"createStreamProcessor": "idle", "pipeline": SEED_STAGES})
    command(client, {"startStreamProcessor": "highValueSales"})
    wait_until_watching(store, [])
    docs = sales(0, 5000)
    feeder = Feeder(store, docs)
    feeder.start()
    wait_for(lambda: store.highValueSales.count_documents({}) > 500, "output to flow")
    wait_for(lambda: checkpointed(tmp_path / "data", processors(client)["highValueSales"]["id"]), "a first checkpoint")
    instance.process.send_signal(signal.SIGKILL)
    instance.process.wait(30)
    running.append(serve())
    entry = processors(client := running[-1].client())["highValueSales"]
    assert entry["state"] == "STARTED" and processors(client)["idle"]["state"] == "CREATED"
    feeder.join()
    wait_for(lambda: high_value_exact(store, docs), "highValueSales exact after the instance's SIGKILL", timeout=120)

    assert running[-1].stop() == 0  # SIGTERM: the processor stops with a last checkpoint, stays STARTED
    later = sales(5000, 500)
    insert(store, later)
    client = serve().client()
    assert state(client, "highValueSales") == "STARTED"
    wait_for(lambda: high_value_exact(store, docs + later), "the sales inserted while the instance was down")


def test_a_killed_member_restarts_the_whole_cluster(serve, store, tmp_path):
    client = serve().client()
    command(client, {"createStreamProcessor": "pair", "pipeline": SEED_STAGES, "options": {"workers": 2}})
    command(client, {"startStreamProcessor": "pair"})
    processor_id = processors(client)["pair"]["id"]
    members = wait_for(lambda: (found := bytewax_processes(processor_id)) and len(found) == 2 and found, "two processes")
    wait_until_watching(store, [])
    docs = sales(0, 3000)
    feeder = Feeder(store, docs)
    feeder.start()
    wait_for(lambda: store.highValueSales.count_documents({}) > 300, "output to flow")
    wait_for(lambda: checkpointed(tmp_path / "data", processor_id), "a first checkpoint")
    os.kill(members[1], signal.SIGKILL)
    restarted = wait_for(
        lambda: (found := bytewax_processes(processor_id)) and len(found) == 2 and members[0] not in found.values() and found,
        "the cluster to restart as a whole",
    )
    assert members[1] not in restarted.values()
    feeder.join()
    wait_for(lambda: high_value_exact(store, docs), "highValueSales exact after a member's SIGKILL", timeout=120)
    assert state(client, "pair") == "STARTED"


def test_ten_clients_create_start_list_and_sample_at_once(serve):
    instance = serve()
    errors: list = []
    solar = [{"$source": {"connectionName": "sample_stream_solar"}}, {"$project": {"_stream_meta": 0}}]

    def work(n: int) -> None:
        try:
            client = instance.client()
            name = f"solar{n}"
            command(client, {"createStreamProcessor": name, "pipeline": solar, "options": {"tier": "SP2"}})
            command(client, {"startStreamProcessor": name})
            assert name in processors(client)
            assert all("device_id" in doc for doc in sample(client, name, want=2))
            assert processors(client, {"name": name, "state": "STARTED"})[name]["tier"] == "SP2"
        except Exception as exc:  # reported below, with which client failed
            errors.append((n, exc))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    assert errors == []
    client = instance.client()
    assert set(processors(client, {"state": "STARTED"})) == {f"solar{n}" for n in range(10)}
    for n in range(10):
        command(client, {"dropStreamProcessor": f"solar{n}"})
    assert processors(client) == {}


def test_process_streams_output_and_dead_letters_then_goes(serve):
    client = serve().client()
    pipeline = [{"$source": {"documents": [{"a": 1}, {"a": 0}, {"a": 4}]}}, {"$project": {"_id": 0, "b": {"$divide": [1, "$a"]}}}]
    reply = command(client, {"processStreamProcessor": pipeline})
    name, cursor = reply["name"], reply["cursorId"]
    messages: list = []

    def drained() -> bool:
        more = command(client, {"getMoreSampleStreamProcessor": name, "cursorId": cursor})
        messages.extend(more["messages"])
        return more["cursorId"] == 0

    wait_for(drained, "the sp.process() loop to end", interval=0.3)
    outputs = sorted(m["b"] for m in messages if "_dlqMessage" not in m)
    dead = [m["_dlqMessage"] for m in messages if "_dlqMessage" in m]
    assert outputs == [0.25, 1.0]
    assert [d["doc"]["a"] for d in dead] == [0] and "divide by zero" in dead[0]["errInfo"]["reason"]
    assert name not in processors(client)
    with pytest.raises(OperationFailure, match="does not exist"):
        command(client, {"dropStreamProcessor": name})  # what the shell sends, ignoring the error


def test_commands_refuse_bad_input_and_never_show_secrets(serve, registry_file, mongodb_uri):
    client = serve().client()
    for body, message in [
        ({"startStreamProcessor": "nope"}, "does not exist"),
        ({"createStreamProcessor": "", "pipeline": SEED_STAGES}, "nonempty string name"),
        ({"createStreamProcessor": "x", "pipeline": []}, "nonempty array of stages"),
        ({"createStreamProcessor": "x", "pipeline": SEED_STAGES, "options": {"tier": "SP7"}}, "unknown tier"),
        ({"createStreamProcessor": "x", "pipeline": SEED_STAGES, "options": {"colour": 1}}, "unknown option 'colour'"),
        ({"listStreamProcessors": 1, "filter": {"state": {"$bogus": 1}}}, "filter: unknown query operator"),
    ]:
        with pytest.raises(OperationFailure, match=message):
            command(client, body)
    dlq = {"dlq": {"connectionName": "mongo", "db": "store", "coll": "dlq"}}
    command(client, {"createStreamProcessor": "x", "pipeline": SEED_STAGES, "options": dlq})
    assert set(processors(client, {"options.dlq.connectionName": "mongo"})) == {"x"}
    with pytest.raises(OperationFailure, match="not started"):
        command(client, {"stopStreamProcessor": "x"})
    with pytest.raises(OperationFailure, match="unknown option 'colour'"):
        command(client, {"startStreamProcessor": "x", "colour": 1})
    scaled = stats(client, "x", options={"scale": 1024, "verbose": True})["stats"]
    assert scaled["scaleFactor"] == Int64(1024) and "operatorStats" in scaled
    connections = command(client, {"listStreamConnections": 1, "filter": None})["connections"]
    assert {"name": "mongo", "type": "atlas"} in connections and {"name": "kafka", "type": "kafka"} in connections
    assert mongodb_uri not in str(connections)
    defaults = command(client, {"listWorkspaceDefaults": 1})
    assert (defaults["defaultTierSize"], defaults["maxTierSize"]) == ("SP10", "SP50")


def http_get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


def test_metrics_and_healthz_cover_every_processor(serve):
    instance = serve("--metrics-port", "0")
    url = next(re.search(r"metrics on (http://\S+)", line).group(1) for line in instance.stderr if "metrics on" in line)
    client = instance.client()
    solar = [{"$source": {"connectionName": "sample_stream_solar"}}, {"$match": {"obs.watts": {"$gte": 0}}}]
    command(client, {"createStreamProcessor": "solar", "pipeline": solar})
    command(client, {"startStreamProcessor": "solar"})
    series = re.compile(r'^sluice_input_messages_total\{processor="solar",worker="0"\} ([0-9.e+]+)$', re.M)
    wait_for(lambda: (found := series.search(http_get(url)[1])) and float(found.group(1)) > 0, "solar's input in /metrics")
    assert 'sluice_stage_messages_total{direction="out",processor="solar",stage="1:$match",worker="0"}' in http_get(url)[1]
    assert http_get(url.replace("/metrics", "/healthz")) == (200, "ok\n")


def test_a_processor_that_keeps_failing_ends_failed_with_its_error(tmp_path, registry_file, monkeypatch):
    """Its processes cannot read the registry any more: every restart fails the same way."""
    monkeypatch.setattr(supervisor, "BACKOFF_SECONDS", 0.05)
    registry = str(tmp_path / "doomed.json")
    shutil.copy(registry_file, registry)

    async def scenario() -> dict:
        instance = Instance(registry, str(tmp_path / "data"))
        await instance.start()
        try:
            await instance.run_command({"createStreamProcessor": "doomed", "pipeline": SEED_STAGES}, 1)
            os.remove(registry)
            await instance.run_command({"startStreamProcessor": "doomed"}, 1)
            for _ in range(600):
                (entry,) = (await instance.run_command({"listStreamProcessors": 1}, 1))["streamProcessors"]
                if entry["state"] != "STARTED":
                    return entry
                await asyncio.sleep(0.1)
            return entry
        finally:
            await instance.stop()

    entry = asyncio.run(scenario())
    assert entry["state"] == "FAILED"
    assert "cannot read connection registry" in entry["errorMsg"] and "\n" not in entry["errorMsg"]


def test_a_sample_expires_when_its_client_goes_away(serve, tmp_path):
    instance = serve()
    client = instance.client()
    solar = [{"$source": {"connectionName": "sample_stream_solar"}}]
    command(client, {"createStreamProcessor": "solar", "pipeline": solar})
    command(client, {"startStreamProcessor": "solar"})
    samples = tmp_path / "data" / "processors" / processors(client)["solar"]["id"] / "samples"
    sampler = instance.client()
    assert sample(sampler, "solar", want=1)
    assert list(samples.glob("open-*")) and list(samples.glob("*.bson"))
    sampler.close()  # as mongosh does on Ctrl-C: sockets closed, no command
    wait_for(lambda: not any(samples.iterdir()), "the sample's files to go with its client")


def test_stats_count_from_the_first_start_across_restarts(serve, store):
    instance = serve()
    client = instance.client()
    command(client, {"createStreamProcessor": "highValueSales", "pipeline": SEED_STAGES})
    command(client, {"startStreamProcessor": "highValueSales"})
    wait_until_watching(store, [])
    insert(store, sales(0, 300))

    def input_count(sales_count: int):
        """Every probe the stream saw (each one an output) and ``sales_count`` sales, counted."""
        return lambda: stats(client, "highValueSales")["stats"]["inputMessageCount"] == probes() + sales_count

    def probes() -> int:
        return store.highValueSales.count_documents({"probe": True})

    wait_for(input_count(300), "the first run's stats")
    command(client, {"stopStreamProcessor": "highValueSales"})
    command(client, {"startStreamProcessor": "highValueSales"})
    insert(store, sales(300, 200))
    wait_for(input_count(500), "the stats to add up the runs before and after a stop")

    assert instance.stop() == 0  # the instance restarts: its processor resumes, its counts go on
    instance = serve()
    client = instance.client()
    insert(store, sales(500, 100))
    wait_for(input_count(600), "the stats to add up the runs across an instance restart")
    verbose = stats(client, "highValueSales", verbose=True)["stats"]
    assert verbose["operatorStats"][0]["inputMessageCount"] == probes() + 600
    assert verbose["outputMessageCount"] == store.highValueSales.count_documents({})

    command(client, {"stopStreamProcessor": "highValueSales"})
    command(client, {"startStreamProcessor": "highValueSales", "resumeFromCheckpoint": False})
    assert stats(client, "highValueSales")["stats"]["inputMessageCount"] == 0


def test_a_change_stream_killed_before_its_first_checkpoint_misses_nothing(serve, db, tmp_path):
    """The restart reads from the processor's start (to the second: its own database, so that
    nothing happened in it in the second before)."""
    client = serve().client()
    stages = [{"$source": {"db": db.name, "collection": "sales"}}, SEED_STAGES[1],
              {"$merge": {"into": {"db": db.name, "coll": "highValueSales"}}}]  # fmt: skip
    command(client, {"createStreamProcessor": "highValueSales", "pipeline": stages})
    command(client, {"startStreamProcessor": "highValueSales"})
    processor_id = processors(client)["highValueSales"]["id"]
    docs = sales(0, 400)
    insert(db, docs)  # while the processor's process starts, before its stream is even open
    pid = wait_for(lambda: bytewax_processes(processor_id).get(0), "the processor's process", interval=0.01)
    assert not checkpointed(tmp_path / "data", processor_id)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: (found := bytewax_processes(processor_id).get(0)) and found != pid, "the supervisor's restart")
    wait_for(lambda: high_value_exact(db, docs), "every sale since the start in highValueSales", timeout=120)
    assert state(client, "highValueSales") == "STARTED"
