"""The seed's first pipeline (change stream → ``$match`` amount > 1000 → ``$merge``) against
the hand-written code it replaces, and against the server's own bulk-write rate, same run.

Each contender processes the same backlog: N sales inserted into ``store.sales`` after a
resume token was taken, then read back from that token.
(a) sluice: the seed pipeline through the translator (plus ``config.startAfter``, so
    that every contender starts at the same event), run by Bytewax in this process.
(b) option 1 of the seed: ``watch()`` and one ``insert_one`` per matching sale.
(c) the server's bulk rate for the same writes: ``insert_many`` of the very documents
    (a) writes, unordered, in chunks of 1000, without reading any change stream.
(d) for reference, reading the change stream alone (no writes): every contender must
    read all N events to find the matching ones, so (d) bounds (a) and (b).
(e) sluice's $merge writer alone on the same documents (no change stream): its cost
    over (c) is what the sink adds to the server's bulk rate.
(f) the server's bound for the whole job: one server process both serves the change
    stream and applies the writes, so no client beats (d) followed by (c).
(g) the replay guard: the $merge writer inserting, then updating, documents that carry a
    change event's position (each write filtered on the stored position and recording
    its own) against the same documents without one (unguarded), best of 3 each.
    Goal (issue 14): the guard costs at most 10%.
Rates are matching documents written per second of wall time (the server is the
bottleneck, and it runs in another process). Goal (issue 4): (a) ≥ 10× (b), ≥ 80% of (c).

    python bench/bench_mongodb_merge.py [--sales 10000] [--uri mongodb://...]

Without ``--uri`` a SecantusDB starts on a free port and stops at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from bytewax.testing import run_main

from connectors.mongodb_merge import MergeWriter
from connectors.mongodb_support import connect
from translator import translate
from translator.connections import parse_registry
from translator.parse import parse_pipeline

SEED = [
    {"$source": {"collection": "sales", "db": "store"}},
    {"$match": {"amount": {"$gt": 1000}}},
    {"$merge": {"into": {"db": "store", "coll": "highValueSales"}}},
]


def start_server() -> tuple[str, subprocess.Popen]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    secantusd = str(Path(sys.executable).with_name("secantusd-py"))
    proc = subprocess.Popen(
        [secantusd, "--host", "127.0.0.1", "--port", str(port), "--storage-path", ":memory:"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    uri = f"mongodb://127.0.0.1:{port}/?replicaSet=secantus"
    client = connect(uri)
    deadline = time.monotonic() + 30
    while True:
        try:
            client.admin.command("ping")
            return uri, proc
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def make_sales(count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    return [
        {"_id": i, "amount": rng.randrange(2000), "customer": f"c{rng.randrange(1000)}", "item": "x" * 40}
        for i in range(count)
    ]


def backlog(client, sales: list[dict]) -> dict:
    """A fresh store.sales holding ``sales`` as change events after the returned token."""
    client.drop_database("store")
    client.store.create_collection("sales")
    with client.store.sales.watch() as stream:
        token = stream.resume_token
    for start in range(0, len(sales), 1000):
        client.store.sales.insert_many([dict(doc) for doc in sales[start : start + 1000]])
    return token


def wait_for_doc(collection, doc_id: object, timeout: float = 600) -> None:
    """Poll for the last document the stream delivers.

    Every 50 ms: each read takes about 1.5 ms of the single server process, so polling
    every 10 ms took 15% of the server from the contender being timed.
    """
    deadline = time.monotonic() + timeout
    while collection.find_one({"_id": doc_id}, {"_id": 1}) is None:
        if time.monotonic() > deadline:
            msg = f"{collection.full_name}: document {doc_id!r} never arrived"
            raise TimeoutError(msg)
        time.sleep(0.05)


def run_option_1(client, token: dict, count: int) -> None:
    """The seed's hand-written code, in Python: one insert_one per matching insert event."""
    sales, high = client.store.sales, client.store.highValueSales
    seen = 0
    with sales.watch(start_after=token) as stream:
        for change in stream:
            seen += 1
            if change["operationType"] == "insert" and change["fullDocument"]["amount"] > 1000:
                high.insert_one(change["fullDocument"])
            if seen == count:
                return


def run_read_only(client, token: dict, count: int) -> None:
    seen = 0
    with client.store.sales.watch(start_after=token) as stream:
        for _ in stream:
            seen += 1
            if seen == count:
                return


def run_bulk(client, docs: list[dict]) -> None:
    for start in range(0, len(docs), 1000):
        client.store.bulkTarget.insert_many(docs[start : start + 1000], ordered=False)


def run_merge_writer(uri: str, docs: list[dict]) -> None:
    writer = MergeWriter(uri, db="store", coll="writerTarget")
    for start in range(0, len(docs), 1000):
        writer.write(docs[start : start + 1000])
    writer.close()


def with_positions(docs: list[dict], first: int) -> list[dict]:
    """The documents as a change stream delivers them: each with its own, growing position."""
    return [
        {**doc, "_stream_meta": {"source": {"type": "atlas", "position": f"{first + n:016x}000000"}}}
        for n, doc in enumerate(docs)
    ]


def run_guard_pair(uri: str, docs: list[dict]) -> dict[str, float]:
    """Seconds to merge ``docs`` twice (inserts, then updates of every key), guarded and not."""
    updates = [{**doc, "amount": doc["amount"] + 1} for doc in docs]
    runs = {
        "guarded": (with_positions(docs, 0), with_positions(updates, len(docs))),
        "unguarded": (docs, updates),
    }
    best = {name: float("inf") for name in runs}
    client = connect(uri)
    for attempt in range(3):
        for name, (first, second) in runs.items():
            client.store.drop_collection("guardTarget")
            writer = MergeWriter(uri, db="store", coll="guardTarget")
            start = time.perf_counter()
            for batch in (first, second):
                for at in range(0, len(batch), 1000):
                    writer.write([dict(doc) for doc in batch[at : at + 1000]])
            best[name] = min(best[name], time.perf_counter() - start)
            writer.close()
    client.close()
    return best


def start_sluice(uri: str, token: dict) -> None:
    """The translated seed pipeline; its thread stays behind when the measure is done."""
    pipeline = [{"$source": {**SEED[0]["$source"], "config": {"startAfter": token}}}, *SEED[1:]]
    registry = parse_registry({"connections": {"atlas": {"type": "mongodb", "uri": uri}}, "default": "atlas"})
    flow = translate(parse_pipeline(pipeline, "bench"), registry).flow
    threading.Thread(target=run_main, args=(flow,), daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sales", type=int, default=10_000)
    parser.add_argument("--uri", help="a MongoDB replica set to use instead of a fresh SecantusDB")
    args = parser.parse_args()
    server = None
    uri = args.uri
    if uri is None:
        uri, server = start_server()
    try:
        client = connect(uri)
        sales = make_sales(args.sales, seed=1)
        matching = [doc for doc in sales if doc["amount"] > 1000]
        rates = {}

        token = backlog(client, sales)
        start = time.perf_counter()
        run_read_only(client, token, len(sales))
        rates["read"] = len(matching) / (time.perf_counter() - start)

        start = time.perf_counter()
        run_option_1(client, token, len(sales))
        rates["option 1"] = len(matching) / (time.perf_counter() - start)

        # The writes sluice will issue are the matching sales themselves (fullDocument).
        start = time.perf_counter()
        run_bulk(client, [dict(doc) for doc in matching])
        rates["bulk"] = len(matching) / (time.perf_counter() - start)

        start = time.perf_counter()
        run_merge_writer(uri, [dict(doc) for doc in matching])
        rates["writer"] = len(matching) / (time.perf_counter() - start)

        guard = run_guard_pair(uri, [dict(doc) for doc in matching])

        # Measured last: its flow keeps polling the server until the process exits.
        token = backlog(client, sales)
        start = time.perf_counter()
        start_sluice(uri, token)
        wait_for_doc(client.store.highValueSales, matching[-1]["_id"])
        rates["sluice"] = len(matching) / (time.perf_counter() - start)
        assert client.store.highValueSales.count_documents({}) == len(matching)

        # One server process does both the change-stream reads and the writes, so no client
        # can go faster than reading alone followed by bulk-writing alone.
        rates["bound"] = 1 / (1 / rates["read"] + 1 / rates["bulk"])

        print(f"{args.sales} sales, {len(matching)} with amount > 1000, written to store.highValueSales")
        seconds = {name: len(matching) / rate for name, rate in rates.items()}
        print(f"  (a) sluice, seed pipeline          {rates['sluice']:7.0f} docs/s  {seconds['sluice']:6.2f} s")
        print(f"  (b) option 1, insert_one per doc   {rates['option 1']:7.0f} docs/s  {seconds['option 1']:6.2f} s")
        print(f"  (c) server bulk insert, same docs  {rates['bulk']:7.0f} docs/s  {seconds['bulk']:6.2f} s")
        print(f"  (d) change stream read alone       {rates['read']:7.0f} docs/s  {seconds['read']:6.2f} s")
        print(f"  (e) $merge writer alone, same docs {rates['writer']:7.0f} docs/s  {seconds['writer']:6.2f} s")
        print(f"  (f) server bound: (d) then (c)     {rates['bound']:7.0f} docs/s  {seconds['bound']:6.2f} s")
        print(f"  (a)/(b) = {rates['sluice'] / rates['option 1']:.1f}x   (goal >= 10x)")
        print(f"  (a)/(c) = {rates['sluice'] / rates['bulk']:.0%}   (goal >= 80%)")
        print(f"  (e)/(c) = {rates['writer'] / rates['bulk']:.0%}   (a)/(f) = {rates['sluice'] / rates['bound']:.0%}")
        docs_written = 2 * len(matching)
        for name in ("guarded", "unguarded"):
            print(f"  (g) $merge {name:9} insert+update  {docs_written / guard[name]:7.0f} docs/s  {guard[name]:6.2f} s")
        print(f"  (g) guarded/unguarded time = {guard['guarded'] / guard['unguarded']:.2f}   (goal <= 1.10)", flush=True)
    finally:
        if server is not None:
            server.kill()
            server.wait()
    # The flow's source never ends: leave without waiting for its thread.
    os._exit(0)


if __name__ == "__main__":
    main()
