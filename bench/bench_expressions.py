"""Compiled queries and expressions against hand-written Python doing the same, same run.

A realistic ``$match`` and ``$addFields`` (nested paths, ``$cond``, string and date operators,
``$dateTrunc``) are compiled once and applied to every document; the hand-written function
computes the same result with no framework. Goal (issue 3): compiled ≥ 50% of hand-written.
A second pair does the same for regular expressions (``$regex`` in ``$match``, ``$regexFind``),
whose every match is bounded in time as PCRE's match limit bounds mongod's (issue 10).

    python bench/bench_expressions.py [--docs 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import re
import time
from datetime import datetime, timedelta, timezone

from translator import plan
from translator.parse import parse_pipeline

START = datetime(2024, 1, 1, tzinfo=timezone.utc)
MATCH = {"$match": {"status": {"$in": ["paid", "shipped"]}, "customer.tier": {"$gte": 2}, "total": {"$gt": 50}}}
ADD_FIELDS = {
    "$addFields": {
        "hour": {"$dateTrunc": {"date": "$createdAt", "unit": "hour"}},
        "band": {"$cond": [{"$gte": ["$total", 500]}, "high", "normal"]},
        "label": {"$concat": [{"$toUpper": "$customer.name"}, "-", "$status"]},
        "net": {"$subtract": ["$total", {"$ifNull": ["$discount", 0]}]},
    }
}

REGEX_MATCH = {"$match": {"customer.name": {"$regex": "^cust[0-9]*7$"}}}
REGEX_ADD_FIELDS = {"$addFields": {"code": {"$regexFind": {"input": "$customer.name", "regex": "([0-9]+)"}}}}
_NAME_TAIL = re.compile(r"^cust[0-9]*7$")
_DIGITS = re.compile(r"([0-9]+)")


def generate(count: int) -> list[dict]:
    rng = random.Random(11)
    statuses = ["paid", "shipped", "cancelled", "pending"]
    docs = []
    for i in range(count):
        doc = {
            "_id": i,
            "status": rng.choice(statuses),
            "total": rng.randrange(1000),
            "createdAt": START + timedelta(milliseconds=rng.randrange(86_400_000)),
            "customer": {"name": f"cust{rng.randrange(5000)}", "tier": rng.randrange(4)},
        }
        if rng.random() < 0.3:
            doc["discount"] = rng.randrange(20)
        docs.append(doc)
    return docs


def hand_written_match(doc: dict) -> bool:
    customer = doc.get("customer")
    tier = customer.get("tier") if type(customer) is dict else None
    return doc.get("status") in ("paid", "shipped") and type(tier) is int and tier >= 2 and doc.get("total", 0) > 50


def hand_written_add_fields(doc: dict) -> dict:
    out = dict(doc)
    created = doc["createdAt"]
    out["hour"] = created.replace(minute=0, second=0, microsecond=0)
    out["band"] = "high" if doc["total"] >= 500 else "normal"
    out["label"] = doc["customer"]["name"].upper() + "-" + doc["status"]
    out["net"] = doc["total"] - (doc.get("discount") or 0)
    return out


def hand_written_regex(doc: dict) -> dict | None:
    name = doc["customer"]["name"]
    if _NAME_TAIL.search(name) is None:
        return None
    out = dict(doc)
    found = _DIGITS.search(name)
    out["code"] = {"match": found.group(), "idx": found.start(), "captures": list(found.groups())}
    return out


def run_compiled(docs: list, match, add_fields) -> int:
    return len([add_fields(doc) for doc in docs if match(doc)])


def run_hand_written(docs: list) -> int:
    return len([hand_written_add_fields(doc) for doc in docs if hand_written_match(doc)])


def best_rate(run, docs: list, repeat: int) -> tuple[float, int]:
    best, kept = float("inf"), 0
    for _ in range(repeat):
        start = time.process_time()  # CPU time: steady when other processes share the cores
        kept = run(docs)
        best = min(best, time.process_time() - start)
    return len(docs) / best, kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    plans = plan(parse_pipeline([{"$source": {"documents": []}}, MATCH, ADD_FIELDS]))
    match, add_fields = plans[1].doc_fn, plans[2].doc_fn
    docs = generate(args.docs)
    assert [add_fields(d) for d in docs[:2000] if match(d)] == [hand_written_add_fields(d) for d in docs[:2000] if hand_written_match(d)]
    compiled, kept = best_rate(lambda d: run_compiled(d, match, add_fields), docs, args.repeat)
    hand, hand_kept = best_rate(run_hand_written, docs, args.repeat)
    assert kept == hand_kept
    print(f"compiled     {compiled:>12,.0f} docs/s  ({kept:,} kept)")
    print(f"hand-written {hand:>12,.0f} docs/s")
    print(f"compiled / hand-written = {compiled / hand:.2f}x  (goal >= 0.50x)")
    plans = plan(parse_pipeline([{"$source": {"documents": []}}, REGEX_MATCH, REGEX_ADD_FIELDS]))
    match, add_fields = plans[1].doc_fn, plans[2].doc_fn
    assert [add_fields(d) for d in docs[:2000] if match(d)] == [out for out in map(hand_written_regex, docs[:2000]) if out]
    compiled, kept = best_rate(lambda d: run_compiled(d, match, add_fields), docs, args.repeat)
    hand, hand_kept = best_rate(lambda d: len([out for out in map(hand_written_regex, d) if out]), docs, args.repeat)
    assert kept == hand_kept
    print(f"regex compiled / hand-written re = {compiled / hand:.2f}x  ({compiled:,.0f} vs {hand:,.0f} docs/s)")


if __name__ == "__main__":
    main()
