"""The generated segments (``translator.segment``) against the per-stage closures (``build.fuse``),
and the native primitives (``runtime._native``) against their pure-Python references.

Random documents (arrays, nested documents, missing fields, mixed types, any field order)
run through random ``$match``/``$project``/``$addFields``/``$unwind``/``$unset`` pipelines
both ways, with the native projection and without it; documents, their field order, and dead
letters must come out the same, and with stats on, so must every stage's counters.
"""

from __future__ import annotations

import copy
import gc
import importlib.util
import math
import random
from collections import OrderedDict
from datetime import datetime, timezone

import pytest
from bson import Decimal128, Int64

from runtime import stream_meta
from runtime.stats import FlowStats, StageInfo
from translator import plan, segment
from translator.fusion import fuse
from translator.parse import parse_pipeline
from translator.segment import compile_segment

FIELDS = ["a", "b", "c", "d", "_id", "amount"]
SCALARS = [
    0, 1, -3, 7, 100, 2**31 - 1, 2**31, -(2**31) - 1, 2**40, Int64(5), Int64(2**40), 1.5, -0.0, 250.25,
    math.nan, math.inf, Decimal128("2.5"), Decimal128("NaN"), "x", "abc", "", True, False, None,
]  # fmt: skip
NUMBERS = [0, 2, 100, -1, 2.5, 1.2, 2**31 - 1, 2**31 + 5]


def random_value(rng: random.Random, depth: int = 0):
    roll = rng.random()
    if depth < 2 and roll < 0.12:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if depth < 2 and roll < 0.24:
        return random_document(rng, depth + 1)
    return rng.choice(SCALARS)


def random_document(rng: random.Random, depth: int = 0) -> dict:
    keys = rng.sample(FIELDS, rng.randrange(len(FIELDS) + 1))
    doc = {key: random_value(rng, depth) for key in keys}
    if depth == 0 and rng.random() < 0.5:
        doc["_stream_meta"] = {"source": {"type": "generated"}}
    return doc


def random_path(rng: random.Random) -> str:
    first = rng.choice(FIELDS)
    return f"{first}.{rng.choice(FIELDS)}" if rng.random() < 0.25 else first


def random_expression(rng: random.Random):
    field = f"${random_path(rng)}"
    number = rng.choice(NUMBERS)
    return rng.choice(
        [
            field,
            {"$multiply": [field, number]},
            {"$add": [field, number]},
            {"$subtract": [field, number]},
            {"$gte": [field, number]},
            {"$lt": [field, number]},
            {"$eq": [field, rng.choice(SCALARS[:8])]},
            {"$concat": [field, "!"]},  # fails on non-strings: dead letters
            {"$literal": rng.choice(["k", 3])},
            "$$REMOVE",
        ]
    )


def random_match(rng: random.Random) -> dict:
    conditions = {}
    for _ in range(rng.randrange(1, 4)):
        literal = rng.choice([*NUMBERS, "x", None, Decimal128("2.5"), True, math.nan])
        operator = rng.choice(["$gt", "$gte", "$lt", "$lte", "$eq", "$ne", None])
        conditions[random_path(rng)] = literal if operator is None else {operator: literal}
    return {"$match": conditions}


def random_stage(rng: random.Random) -> dict:
    roll = rng.random()
    if roll < 0.3:
        return random_match(rng)
    if roll < 0.6:
        spec = {key: 1 for key in rng.sample(FIELDS, rng.randrange(1, 4))}
        for key in rng.sample([f"p{i}" for i in range(4)] + FIELDS, rng.randrange(3)):
            if key not in spec:
                spec[key] = random_expression(rng)
        if rng.random() < 0.2:
            spec["_id"] = 0
        return {"$project": spec}
    if roll < 0.85:
        keys = rng.sample([*FIELDS, "n1", "n2"], rng.randrange(1, 4))
        return {"$addFields": {key: random_expression(rng) for key in keys}}
    if roll < 0.93:
        return {"$unwind": f"${rng.choice(FIELDS)}"}
    return {"$unset": rng.choice(FIELDS)}


def comparable(chunks: list) -> str:
    """Documents with their field order and types; dead letters without their time."""
    return repr([[{k: v for k, v in item.items() if k != "dlqTime"} for item in chunk] for chunk in chunks])


def random_cases(seed: int, count: int):
    """``(stages, plans, chunks)``: random pipelines (source left out) and two chunks for each."""
    rng = random.Random(seed)
    for _ in range(count):
        stages = [random_stage(rng) for _ in range(rng.randrange(1, 5))]
        try:
            plans = plan(parse_pipeline([{"$source": {"documents": [{}]}}, *stages], "differential"))[1:]
        except Exception:  # noqa: BLE001  # a random spec may be invalid (a path collision)
            continue
        docs = [random_document(rng) for _ in range(rng.randrange(1, 40))]
        cut = rng.randrange(len(docs) + 1)
        yield stages, plans, [docs[:cut], docs[cut:]]


@pytest.fixture(params=["native", "pure Python"])
def projection(request, monkeypatch) -> str:
    """Run a test with the native inclusion projection, then with its in-place fallback."""
    if request.param == "pure Python":
        monkeypatch.setattr(segment, "NativeInclusion", None)
    return request.param


def test_native_extension_is_built():
    # setup.py builds it optional (the references run without it); the benches' figures and
    # the native half of these tests need it, so an install that silently lost it fails here.
    assert importlib.util.find_spec("runtime._native") is not None
    assert segment.NativeInclusion is not None
    assert stream_meta.stamped_copies is not stream_meta.stamped_copies_reference


def test_generated_segments_match_the_closures(projection):
    compared = specialised = 0
    for stages, plans, chunks in random_cases(16, 600):
        generated = compile_segment(plans)
        expected = comparable(fuse(plans)(copy.deepcopy(chunks)))
        assert comparable(generated(copy.deepcopy(chunks))) == expected, (stages, generated.source)
        compared += 1
        specialised += ".get(" in generated.source
    assert compared > 500
    assert specialised > 400  # most pipelines took the inlined paths, not only the fallbacks


@pytest.mark.parametrize(
    ("stage", "inlined"),
    [
        ({"$match": {"amount": {"$gt": 100}}}, {"native": "> c", "pure Python": "> c"}),
        ({"$project": {"_id": 1, "a": 1, "r": "$b.c"}}, {"native": "(doc)\n", "pure Python": "del doc["}),
        ({"$addFields": {"t": {"$multiply": ["$a", 1.2]}, "big": {"$gte": ["$a", 5]}}}, {"native": "* c", "pure Python": "* c"}),
    ],
)
def test_common_stages_are_inlined(stage, inlined, projection):
    plans = plan(parse_pipeline([{"$source": {"documents": [{}]}}, stage], "inlined"))[1:]
    assert inlined[projection] in compile_segment(plans).source


def test_native_inclusion_keeps_input_order_and_only_the_kept_fields():
    include = segment.NativeInclusion(("b", "x", 7), 3)
    ordered = OrderedDict(a=1, b=2, x=3)
    ordered.move_to_end("b")  # a subclass is projected in its own iteration order, as dict(doc)
    assert list(include(ordered).items()) == [("x", 3), ("b", 2)]
    assert list(include({"x": [], 7: None, "b": {}, "y": 1}).items()) == [("x", []), (7, None), ("b", {})]
    assert include({}) == {}
    with pytest.raises(TypeError):
        include([("b", 1)])


def test_native_stamped_copies_match_the_reference():
    rng = random.Random(5)
    now = datetime(2024, 5, 1, tzinfo=timezone.utc)
    docs = [random_document(rng) for _ in range(300)]
    docs += [{"_ts": 1, "a": 2}, OrderedDict(b=1, a=2), {}]  # an existing _ts keeps its place
    docs[-2].move_to_end("b")
    before = copy.deepcopy(docs)
    meta = {"source": {"type": "generated"}}
    native = stream_meta.stamped_copies(docs, "_ts", now, "_stream_meta", meta)
    reference = stream_meta.stamped_copies_reference(docs, "_ts", now, "_stream_meta", meta)
    assert [list(doc.items()) for doc in native] == [list(doc.items()) for doc in reference]
    assert all(type(doc) is dict for doc in native)
    assert all(copied is not original for copied, original in zip(native, docs))
    assert repr(docs) == repr(before)  # the pipeline's own documents stay as written


def flow_stats(plans: list) -> FlowStats:
    """Counters for the source (position 0, never counted here) and ``plans``."""
    stages = [StageInfo(0, "$source", "source", "source"), *(StageInfo(p.stage.index, p.stage.name, p.role, p.stage.step_id) for p in plans)]
    return FlowStats("differential", stages)


def counters(stats: FlowStats) -> tuple:
    (worker,) = stats.workers()
    return worker.into, worker.out, worker.dlq, worker.dlq_bytes, worker.state


def test_generated_segments_count_as_the_closures(projection):
    compared = 0
    for stages, plans, chunks in random_cases(12, 400):
        generated_stats, reference_stats = flow_stats(plans), flow_stats(plans)
        generated = compile_segment(plans, generated_stats)
        expected = comparable(fuse(plans, reference_stats)(copy.deepcopy(chunks)))
        assert comparable(generated(copy.deepcopy(chunks))) == expected, (stages, generated.source)
        assert counters(generated_stats) == counters(reference_stats), (stages, generated.source)
        (worker,) = generated_stats.workers()
        # Each chunk's time goes to the stages in proportion to the documents they received.
        assert worker.seconds[0] == 0
        assert [seconds > 0 for seconds in worker.seconds[1:]] == [received > 0 for received in worker.into[1:]]
        compared += 1
    assert compared > 300


def test_a_cycle_through_a_native_document_stays_collectable():
    """The native documents start untracked by the cycle collector (only atoms and values that
    predate them inside); a document a stage makes refer to itself is tracked again."""
    now = datetime(2024, 5, 1, tzinfo=timezone.utc)
    (doc,) = stream_meta.stamped_copies([{"a": 1, "b": 2}], "_ts", now, "_stream_meta", {"source": {}})
    assert not gc.is_tracked(doc)
    stages = [{"$project": {"a": 1}}, {"$addFields": {"me": "$$ROOT"}}]
    plans = plan(parse_pipeline([{"$source": {"documents": [{}]}}, *stages], "cycle"))[1:]
    ((out,),) = compile_segment(plans)([[doc]])
    assert out["me"] is out
    assert gc.is_tracked(out)


def test_native_window_sums_match_the_python_loop(monkeypatch):
    """``$sum`` of a field by a field in a window: the native fold against the Python loop, over
    keys and values of every kind (missing, null, bool, int past 64 bits, doubles, decimals)."""
    from translator.windows import group as window_group

    rng = random.Random(9)
    kinds = [*SCALARS, 2**70, [1, 2], {"k": 1}, "k1", "k2", 3, 3.0]
    docs = []
    for _ in range(2000):
        doc = {}
        if rng.random() < 0.9:
            doc["key"] = rng.choice(kinds[-6:]) if rng.random() < 0.7 else rng.choice(kinds)
        if rng.random() < 0.9:
            doc["amount"] = rng.choice([1, 2, 7, 2**62, 2**63 - 1, 1.5]) if rng.random() < 0.7 else rng.choice(kinds)
        docs.append(doc if rng.random() < 0.99 else OrderedDict(doc))  # a dict subclass: its own get
    spec = {"_id": "$key", "total": {"$sum": "$amount"}}
    native_groups, python_groups = {}, {}
    compiled = window_group.Group(spec)
    assert window_group.native_sum_by_key is not None
    assert compiled._plain_fields == ("key", "amount")  # the fold both take
    for start in range(0, len(docs), 300):
        compiled.add_documents(native_groups, docs[start : start + 300])
    monkeypatch.setattr(window_group, "native_sum_by_key", None)
    for start in range(0, len(docs), 300):
        compiled.add_documents(python_groups, docs[start : start + 300])
    assert repr(native_groups) == repr(python_groups)
    assert repr(compiled.results(native_groups)) == repr(compiled.results(python_groups))
