"""Generated malformed pipelines (and the valid controls next to them) for ``sluice validate``.

Each case is ``(name, file bytes)``. The families: a wrong type at every field of every stage
(from the field table in ``translator/stages/_fields.py``), numbers out of range, non-UTF-8
files, deep nesting, huge arrays, bad Extended JSON, duplicate keys, ``$``-prefixed and dotted
field names, bad options, unsupported Atlas features.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

from translator.stages._fields import STAGE_FIELDS

MONGO_SOURCE = {"$source": {"connectionName": "mongo", "db": "d", "coll": "c"}}
KAFKA_SOURCE = {"$source": {"connectionName": "kafka", "topic": "t"}}
DOCS_SOURCE = {"$source": {"documents": [{"a": 1, "t": {"$date": "2024-01-01T00:00:00Z"}}]}}
NAMESPACE = {"connectionName": "mongo", "db": "d", "coll": "c"}
GROUP = [{"$group": {"_id": None, "n": {"$sum": 1}}}]
SECOND = {"size": 1, "unit": "second"}

REGISTRY = {
    "connections": {
        "mongo": {"type": "mongodb", "uri": "mongodb://localhost:27017"},
        "kafka": {"type": "kafka", "bootstrapServers": "localhost:9092"},
    },
    "default": "mongo",
}

# One valid pipeline per stage with fields; the stage under test is the last or the first.
BASES: dict[str, list] = {
    "$validate": [DOCS_SOURCE, {"$validate": {"validator": {"a": 1}}}],
    "$lookup": [DOCS_SOURCE, {"$lookup": {"from": NAMESPACE, "localField": "a", "foreignField": "b", "as": "x"}}],
    "$cachedLookup": [
        DOCS_SOURCE,
        {"$cachedLookup": {"from": NAMESPACE, "localField": "a", "foreignField": "b", "as": "x", "ttl": SECOND}},
    ],
    "$tumblingWindow": [DOCS_SOURCE, {"$tumblingWindow": {"interval": SECOND, "pipeline": GROUP}}],
    "$hoppingWindow": [DOCS_SOURCE, {"$hoppingWindow": {"interval": SECOND, "hopSize": SECOND, "pipeline": GROUP}}],
    "$sessionWindow": [DOCS_SOURCE, {"$sessionWindow": {"partitionBy": "$a", "gap": SECOND, "pipeline": GROUP}}],
    "$setWindowFields": [
        DOCS_SOURCE,
        {"$setWindowFields": {"sortBy": {"t": 1}, "output": {"s": {"$sum": "$a", "window": {"documents": [-1, 0]}}}}},
    ],
    "$merge": [DOCS_SOURCE, {"$merge": {"into": NAMESPACE}}],
    "$emit": [DOCS_SOURCE, {"$emit": {"connectionName": "kafka", "topic": "t"}}],
}
SOURCE_BASES = {"mongo": MONGO_SOURCE, "kafka": KAFKA_SOURCE, "documents": DOCS_SOURCE}
UNSUPPORTED_STAGES = {
    "$externalFunction": {"connectionName": "lambda", "functionName": "f", "as": "r"},
    "$iceberg": {"connectionName": "s3", "bucket": "b", "databaseName": "d", "tableName": "t"},
}

WRONG_VALUES = {
    "string": [5, True, None, [], {}],
    "number": ["5", True, None, [], {}],
    "bool": ["yes", 1, None],
    "object": ["x", 5, []],
    "array": ["x", 5, {}],
}


def encode(value: Any) -> bytes:
    return json.dumps(value).encode()


def wrong_values(check: Any) -> list:
    """Values the field check must refuse: every JSON type the field does not take."""
    if hasattr(check, "kinds"):
        if "any" in check.kinds:
            return []
        values = [v for kind, vs in WRONG_VALUES.items() if kind not in check.kinds for v in vs]
        taken = {"string": str, "number": (int, float), "bool": bool, "object": dict, "array": list}
        keep = []
        for value in values:
            kinds = [k for k, t in taken.items() if isinstance(value, t) and not (k == "number" and type(value) is bool)]
            if value is None or not set(kinds) & set(check.kinds):
                keep.append(value)
        return _unique(keep)[:4]
    if hasattr(check, "choices"):
        return [v for v in ("nope", 12345, True) if v not in check.choices]
    if hasattr(check, "fields"):
        return ["x", 5, []]
    if hasattr(check, "alternatives"):
        return [v for v in (12345, True) if all(_refuses(alt, v) for alt in check.alternatives)]
    return []


def _refuses(check: Any, value: Any) -> bool:
    try:
        check(value, ())
    except Exception:
        return True
    return False


def _unique(values: list) -> list:
    seen, out = set(), []
    for value in values:
        key = json.dumps(value)
        if key not in seen:
            seen.add(key)
            out.append(value)
    return out


def _field_paths(check: Any, prefix: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    for name, field_check in getattr(check, "fields", {}).items():
        yield (*prefix, name), field_check
        yield from _field_paths(field_check, (*prefix, name))


def _with(spec: dict, path: tuple, value: Any) -> dict:
    out = json.loads(json.dumps(spec))
    node = out
    for part in path[:-1]:
        node = node.setdefault(part, {}) if type(node.get(part)) is dict else node.setdefault(part, {})
        if type(node) is not dict:
            return out
    node[path[-1]] = value
    return out


def _pipeline_with(stage_name: str, pipeline: list, path: tuple, value: Any) -> list:
    index = next(i for i, stage in enumerate(pipeline) if stage_name in stage)
    out = list(pipeline)
    out[index] = {stage_name: _with(pipeline[index][stage_name], path, value)}
    return out


def wrong_type_cases() -> Iterator[tuple[str, bytes]]:
    """A wrong type at every field of every stage the field table knows."""
    for stage_name, check in STAGE_FIELDS.items():
        if stage_name == "$source":
            bases = [(f"{kind}:", [base, {"$match": {}}]) for kind, base in SOURCE_BASES.items()]
        elif stage_name in BASES:
            bases = [("", BASES[stage_name])]
        else:
            continue
        for label, base in bases:
            for path, field_check in _field_paths(check):
                for value in wrong_values(field_check):
                    pipeline = _pipeline_with(stage_name, base, path, value)
                    yield f"wrong-type {stage_name} {label}{'.'.join(path)}={json.dumps(value)}", encode(pipeline)


def _window(stage: str, **fields: Any) -> list:
    body = json.loads(json.dumps(BASES[stage][1][stage]))
    body.update(fields)
    return [DOCS_SOURCE, {stage: body}]


OUT_OF_RANGE = ["NaN", "Infinity", "-Infinity", "1e308", str(2**63), "-1", "0", "1e-9", '{"$numberDouble": "NaN"}']


def number_cases() -> Iterator[tuple[str, bytes]]:
    """Sizes and counts out of range; JSON's NaN/Infinity tokens are written literally."""
    sized = [
        ("$tumblingWindow", "interval", "ms"),
        ("$tumblingWindow", "interval", "second"),
        ("$hoppingWindow", "hopSize", "ms"),
        ("$sessionWindow", "gap", "ms"),
        ("$tumblingWindow", "allowedLateness", "second"),
        ("$tumblingWindow", "idleTimeout", "day"),
        ("$cachedLookup", "ttl", "minute"),
    ]
    for stage, field, unit in sized:
        for number in OUT_OF_RANGE:
            if field in ("allowedLateness", "idleTimeout") and number == "0":
                continue  # 0 is allowed there
            base = BASES[stage]
            text = json.dumps(_pipeline_with(stage, base, (field,), {"size": "@", "unit": unit}))
            yield f"number {stage}.{field}.size={number} {unit}", text.replace('"@"', number).encode()
    kafka = [KAFKA_SOURCE, {"$match": {}}]
    for number in OUT_OF_RANGE:
        text = json.dumps(_pipeline_with("$source", kafka, ("partitionIdleTimeout",), {"size": "@", "unit": "ms"}))
        yield f"number $source.partitionIdleTimeout.size={number}", text.replace('"@"', number).encode()
    for number in ["NaN", "Infinity", "1e308", str(2**63), "0", "17", "1.5", "-3"]:
        text = json.dumps(_pipeline_with("$merge", BASES["$merge"], ("parallelism",), "@"))
        yield f"number $merge.parallelism={number}", text.replace('"@"', number).encode()
    for number in ["NaN", "Infinity", "-1", str(2**63), "1e308"]:
        text = json.dumps(_pipeline_with("$cachedLookup", BASES["$cachedLookup"], ("maxMemUsageBytes",), "@"))
        yield f"number $cachedLookup.maxMemUsageBytes={number}", text.replace('"@"', number).encode()
    for number in ["1.5", "NaN", "Infinity", str(2**63)]:
        offset = {"offsetFromUtc": "@", "unit": "hour"}
        text = json.dumps(_pipeline_with("$tumblingWindow", BASES["$tumblingWindow"], ("offset",), offset))
        yield f"number $tumblingWindow.offset={number}", text.replace('"@"', number).encode()


EXTENDED_NUMBERS = [{"$numberLong": "10"}, {"$numberInt": "10"}, {"$numberDouble": "10.0"}, {"$numberDecimal": "10"}]


def number_controls() -> Iterator[tuple[str, bytes]]:
    """Extended JSON numbers are numbers wherever numbers go."""
    for number in EXTENDED_NUMBERS:
        shown = json.dumps(number)
        size = {"size": number, "unit": "ms"}
        yield f"ejson-number interval={shown}", encode(_window("$tumblingWindow", interval=size))
        yield f"ejson-number gap={shown}", encode(_window("$sessionWindow", gap=size))
        yield f"ejson-number parallelism={shown}", encode(
            _pipeline_with("$merge", BASES["$merge"], ("parallelism",), {**number, **{}} if "$numberDecimal" not in number else {"$numberDecimal": "2"})
        )
        yield f"ejson-number $match={shown}", encode([DOCS_SOURCE, {"$match": {"a": number}}])
        yield f"ejson-number $add={shown}", encode([DOCS_SOURCE, {"$addFields": {"b": {"$add": ["$a", number]}}}])


def encoding_cases() -> Iterator[tuple[str, bytes]]:
    text = json.dumps([{"$source": {"documents": [{"name": "Zoë"}]}}], ensure_ascii=False)
    yield "encoding latin-1", text.encode("latin-1")
    yield "encoding utf-16", text.encode("utf-16")
    yield "encoding utf-16-le", text.encode("utf-16-le")
    yield "encoding utf-32", text.encode("utf-32")
    yield "encoding binary", bytes(range(256)) * 4
    yield "encoding nul bytes", b"\x00" * 64
    yield "encoding gzip", b"\x1f\x8b\x08\x00" + bytes(range(60))
    yield "encoding invalid utf-8 in a string", text.encode()[:-6] + b'\xff\xfe"}]}}]'
    yield "encoding lone surrogate escape", b'[{"$source": {"documents": [{"a": "\\ud800"}]}}, {"$match": {"a": {"$regex": "\\udc00"}}}]'
    yield "encoding empty file", b""
    yield "encoding whitespace only", b" \n\t "
    yield "encoding truncated", text.encode()[:20]


def encoding_controls() -> Iterator[tuple[str, bytes]]:
    text = json.dumps([{"$source": {"documents": [{"name": "Zoë"}]}}], ensure_ascii=False)
    yield "encoding utf-8", text.encode()
    yield "encoding utf-8 with BOM", text.encode("utf-8-sig")


def _nest(kind: str, depth: int) -> Any:
    """``depth`` levels of one construct, innermost first, built without recursion."""
    value: Any = "$a" if kind != "$elemMatch" else {"$gt": 1}
    for _ in range(depth):
        if kind == "$add":
            value = {"$add": [value, 1]}
        elif kind == "$cond":
            value = {"$cond": {"if": True, "then": value, "else": 0}}
        elif kind == "$elemMatch":
            value = {"$elemMatch": {"x": value}}
        elif kind == "object":
            value = {"x": value}
        elif kind == "array":
            value = [value]
    return value


def _nested_pipeline(kind: str, depth: int) -> list:
    if kind == "$elemMatch":
        return [DOCS_SOURCE, {"$match": {"a": _nest(kind, depth)}}]
    if kind == "$and":
        value: Any = {"a": 1}
        for _ in range(depth):
            value = {"$and": [value]}
        return [DOCS_SOURCE, {"$match": value}]
    if kind == "documents":
        value = 1
        for _ in range(depth):
            value = {"x": value}
        return [{"$source": {"documents": [value]}}]
    return [DOCS_SOURCE, {"$addFields": {"b": _nest(kind, depth)}}]


NESTING_KINDS = ("$add", "$cond", "$elemMatch", "$and", "object", "array", "documents")


def _dumps_deep(value: Any) -> bytes:
    """json.dumps recurses; this writes arbitrarily deep values without recursion."""
    out, stack = [], [value]
    while stack:
        item = stack.pop()
        if type(item) is str and item.startswith("\0"):
            out.append(item[1:])
        elif type(item) is dict:
            out.append("{")
            parts: list = []
            for i, (key, inner) in enumerate(item.items()):
                parts += ["\0, " if i else "\0", "\0" + json.dumps(key) + ": ", inner]
            stack += ["\0}", *reversed(parts)]
        elif type(item) is list:
            out.append("[")
            parts = []
            for i, inner in enumerate(item):
                parts += ["\0, " if i else "\0", inner]
            stack += ["\0]", *reversed(parts)]
        else:
            out.append(json.dumps(item))
    return "".join(out).encode()


def nesting_cases() -> Iterator[tuple[str, bytes]]:
    for kind in NESTING_KINDS:
        for depth in (100, 200, 250, 1000, 100000):
            if kind in ("object", "array", "documents", "$and") and depth < 200:
                continue  # two JSON levels per operator level elsewhere; one here
            yield f"nesting {kind} {depth}", _dumps_deep(_nested_pipeline(kind, depth))
    yield "nesting raw brackets 100000", b"[" * 100000 + b"]" * 100000
    yield "nesting unclosed brackets", b"[" * 100000


def nesting_controls() -> Iterator[tuple[str, bytes]]:
    for kind in NESTING_KINDS:
        depth = 40 if kind in ("$add", "$cond", "$elemMatch", "$and") else 80
        yield f"nesting {kind} {depth}", _dumps_deep(_nested_pipeline(kind, depth))


def huge_cases() -> Iterator[tuple[str, bytes]]:
    many = list(range(50000))
    yield "huge $in with a bad operator after it", encode([DOCS_SOURCE, {"$match": {"a": {"$in": many, "$bad": 1}}}])
    yield "huge $and with a bad last clause", encode(
        [DOCS_SOURCE, {"$match": {"$and": [{"a": i} for i in range(20000)] + [{"a": {"$nope": 1}}]}}]
    )
    yield "huge $concat with a bad argument", encode([DOCS_SOURCE, {"$addFields": {"s": {"$concat": ["x"] * 50000 + [{"$nope": 1}]}}}])
    yield "huge $switch with a bad branch", encode(
        [DOCS_SOURCE, {"$addFields": {"s": {"$switch": {"branches": [{"case": True, "then": i} for i in range(10000)] + [{"case": 1}]}}}}]
    )
    yield "huge documents with a non-document at the end", encode([{"$source": {"documents": [{"a": i} for i in range(50000)] + [5]}}])
    yield "huge pipeline of 20000 stages with a bad one", encode([DOCS_SOURCE] + [{"$match": {}}] * 20000 + [{"$nope": {}}])
    yield "huge file over 16 MiB", encode([{"$source": {"documents": [{"s": "x" * (1 << 20)} for _ in range(17)]}}])
    yield "huge field name", encode([DOCS_SOURCE, {"$addFields": {"x" * 1000000 + ".": 1}}])


def huge_controls() -> Iterator[tuple[str, bytes]]:
    yield "huge $in", encode([DOCS_SOURCE, {"$match": {"a": {"$in": list(range(50000))}}}])
    yield "huge documents", encode([{"$source": {"documents": [{"a": i} for i in range(50000)]}}])


BAD_EXTENDED_JSON = [
    '{"$oid": "zz"}',
    '{"$oid": 5}',
    '{"$numberDecimal": "x"}',
    '{"$numberDecimal": 5}',
    '{"$numberLong": "abc"}',
    '{"$numberLong": 10}',
    '{"$numberLong": "99999999999999999999"}',
    '{"$numberInt": "1e3"}',
    '{"$numberInt": "4294967296"}',
    '{"$numberDouble": "fast"}',
    '{"$date": 1e300}',
    '{"$date": "notadate"}',
    '{"$date": {"$numberLong": "x"}}',
    '{"$date": [1]}',
    '{"$binary": {"base64": "!!!", "subType": "00"}}',
    '{"$binary": {"base64": "AA==", "subType": "zz"}}',
    '{"$binary": "AA=="}',
    '{"$uuid": "xyz"}',
    '{"$timestamp": {"t": -1, "i": 0}}',
    '{"$timestamp": {"t": "a"}}',
    '{"$regularExpression": {"pattern": "a", "options": 5}}',
    '{"$minKey": 2}',
    '{"$maxKey": "x"}',
    '{"$symbol": 1}',
    '{"$dbPointer": {"$ref": 1}}',
    '{"$code": 5}',
    '{"$undefined": false}',
]


def extended_json_cases() -> Iterator[tuple[str, bytes]]:
    for bad in BAD_EXTENDED_JSON:
        yield f"ejson in documents {bad}", f'[{{"$source": {{"documents": [{{"a": {bad}}}]}}}}]'.encode()
        yield f"ejson in $match {bad}", f'[{{"$source": {{"documents": []}}}}, {{"$match": {{"a": {bad}}}}}]'.encode()


def duplicate_key_cases() -> Iterator[tuple[str, bytes]]:
    src = json.dumps(DOCS_SOURCE)
    yield "duplicate stage name", f'[{src}, {{"$match": {{"a": 1}}, "$match": {{"b": 1}}}}]'.encode()
    yield "duplicate $source field", b'[{"$source": {"connectionName": "kafka", "topic": "a", "topic": "b"}}]'
    yield "duplicate in $project", f'[{src}, {{"$project": {{"a": 1, "a": 0}}}}]'.encode()
    yield "duplicate in $addFields", f'[{src}, {{"$addFields": {{"a": 1, "a": 2}}}}]'.encode()
    yield "duplicate operator in expression", f'[{src}, {{"$addFields": {{"b": {{"$add": [1, 2], "$add": [3]}}}}}}]'.encode()
    yield "duplicate in $merge.into", f'[{src}, {{"$merge": {{"into": {{"connectionName": "mongo", "db": "a", "db": "b", "coll": "c"}}}}}}]'.encode()
    yield "duplicate processor field", f'{{"name": "a", "name": "b", "pipeline": [{src}]}}'.encode()
    yield "duplicate options.dlq", f'{{"pipeline": [{src}], "options": {{"dlq": {{"connectionName": "mongo", "db": "a", "coll": "b"}}, "dlq": {{}}}}}}'.encode()
    yield "duplicate window interval", (
        f'[{src}, {{"$tumblingWindow": {{"interval": {{"size": 1, "unit": "second"}}, '
        f'"interval": {{"size": 2, "unit": "second"}}, "pipeline": []}}}}]'
    ).encode()
    yield "duplicate in a document", b'[{"$source": {"documents": [{"a": 1, "a": 2}]}}]'


def field_name_cases() -> Iterator[tuple[str, bytes]]:
    yield "dollar field in $addFields", encode([DOCS_SOURCE, {"$addFields": {"$a": 1}}])
    yield "dollar field in $set", encode([DOCS_SOURCE, {"$set": {"b.$c": 1}}])
    yield "dollar field in $project", encode([DOCS_SOURCE, {"$project": {"$a": 1}}])
    yield "dotted field in an expression object", encode([DOCS_SOURCE, {"$addFields": {"b": {"$mergeObjects": [{"c.d": "$a"}]}}}])
    yield "dollar field in an expression object", encode([DOCS_SOURCE, {"$addFields": {"b": {"x": 1, "$c": "$a"}}}])
    yield "dollar field in a documents source", encode([{"$source": {"documents": [{"$a": 1}]}}])
    yield "dotted field in a documents source", encode([{"$source": {"documents": [{"a.b": 1}]}}])
    yield "empty field name in $addFields", encode([DOCS_SOURCE, {"$addFields": {"": 1}}])
    yield "dollar field in $group", encode(_window("$tumblingWindow", pipeline=[{"$group": {"_id": None, "$n": {"$sum": 1}}}]))
    yield "dotted field in $group", encode(_window("$tumblingWindow", pipeline=[{"$group": {"_id": None, "a.b": {"$sum": 1}}}]))
    yield "dollar as field path", encode([DOCS_SOURCE, {"$addFields": {"b": "$"}}])
    yield "dollar field in $unset", encode([DOCS_SOURCE, {"$unset": "$a"}])
    yield "dollar field in $lookup as", encode(_pipeline_with("$lookup", BASES["$lookup"], ("as",), "$x"))
    yield "dollar stage-like field in $match value", encode([DOCS_SOURCE, {"$match": {"a": {"$eq": 1, "b": 2}}}])


def options_cases() -> Iterator[tuple[str, bytes]]:
    pipeline = [DOCS_SOURCE]
    dlq = {"connectionName": "mongo", "db": "d", "coll": "dlq"}
    bad_options = [
        ("typo DLQ", {"DLQ": dlq}),
        ("unknown option", {"parallelism": 4}),
        ("dlq not object", {"dlq": "mongo"}),
        ("dlq bad db name", {"dlq": {**dlq, "db": "a/b"}}),
        ("dlq db with dot", {"dlq": {**dlq, "db": "a.b"}}),
        ("dlq bad coll name", {"dlq": {**dlq, "coll": "a$b"}}),
        ("dlq empty coll", {"dlq": {**dlq, "coll": ""}}),
        ("dlq system coll", {"dlq": {**dlq, "coll": "system.x"}}),
        ("dlq unknown field", {"dlq": {**dlq, "colll": "x"}}),
        ("dlq missing coll", {"dlq": {"connectionName": "mongo", "db": "d"}}),
        ("dlq unknown connection", {"dlq": {**dlq, "connectionName": "nowhere"}}),
        ("dlq kafka missing topic", {"dlq": {"connectionName": "kafka"}}),
        ("dlq numeric db", {"dlq": {**dlq, "db": 5}}),
        ("tier unknown", {"tier": "SP7"}),
        ("tier not string", {"tier": 10}),
        ("options not object", []),
        ("options null dlq", {"dlq": None}),
    ]
    for label, options in bad_options:
        yield f"options {label}", encode({"name": "p", "pipeline": pipeline, "options": options})
    yield "processor name not string", encode({"name": 5, "pipeline": pipeline})
    yield "processor name empty", encode({"name": "", "pipeline": pipeline})
    yield "processor unknown field", encode({"name": "p", "pipeline": pipeline, "opts": {}})


def options_controls() -> Iterator[tuple[str, bytes]]:
    pipeline = [DOCS_SOURCE]
    yield "options mongo dlq", encode({"name": "p", "pipeline": pipeline, "options": {"dlq": NAMESPACE}})
    yield "options kafka dlq", encode({"name": "p", "pipeline": pipeline, "options": {"dlq": {"connectionName": "kafka", "topic": "dlq"}}})
    yield "options empty", encode({"name": "p", "pipeline": pipeline, "options": {}})


def unsupported_cases() -> Iterator[tuple[str, bytes]]:
    for stage, body in UNSUPPORTED_STAGES.items():
        yield f"unsupported {stage}", encode([DOCS_SOURCE, {stage: body}])
    yield "$setStreamMeta not an object", encode([DOCS_SOURCE, {"$setStreamMeta": 5}])
    yield "$https unknown connection", encode([DOCS_SOURCE, {"$https": {"connectionName": "api", "path": "/x", "as": "r"}}])
    yield "unsupported schemaRegistry source", encode([{"$source": {**KAFKA_SOURCE["$source"], "schemaRegistry": {"connectionName": "sr"}}}])
    yield "unsupported partitions", encode([{"$source": {**KAFKA_SOURCE["$source"], "partitions": {"min": 1, "max": 2}}}])
    yield "unsupported kinesis source", encode([{"$source": {"connectionName": "kafka", "stream": "s"}}])
    yield "unsupported kinesis emit", encode([DOCS_SOURCE, {"$emit": {"connectionName": "kafka", "stream": "s", "partitionKey": "$a"}}])
    yield "unsupported s3 emit", encode([DOCS_SOURCE, {"$emit": {"connectionName": "kafka", "bucket": "b", "path": "p", "region": "r"}}])
    yield "unsupported schemaRegistry emit", encode(
        [DOCS_SOURCE, {"$emit": {"connectionName": "kafka", "topic": "t", "schemaRegistry": {"connectionName": "sr"}}}]
    )
    for stage in ("$facet", "$bucket", "$out", "$graphLookup", "$densify", "$fill", "$sample"):
        yield f"unknown stage {stage}", encode([DOCS_SOURCE, {stage: {}}])


def documents_evaluation_controls() -> Iterator[tuple[str, bytes]]:
    """``documents`` expressions that would take forever or everything if validate ran them:
    validate compiles them and answers at once."""
    yield "documents $range 1e12", encode([{"$source": {"documents": {"$map": {"input": {"$range": [0, 1000000000000]}, "in": {"a": "$$this"}}}}}])
    catastrophic = {"$regexMatch": {"input": "a" * 40 + "!", "regex": "^(a+)+$"}}
    yield "documents catastrophic regex", encode([{"$source": {"documents": {"$cond": [catastrophic, [{"a": 1}], "x"]}}}])


def documents_evaluation_cases() -> Iterator[tuple[str, bytes]]:
    yield "documents evaluates to a number", encode([{"$source": {"documents": {"$add": [1, 2]}}}])
    yield "documents evaluates to a string", encode([{"$source": {"documents": {"$literal": "ab"}}}])


def folding_cases() -> Iterator[tuple[str, bytes]]:
    """Constant expressions that would be unbounded work if folded at validate time."""
    yield "fold $pow of huge ints then bad", encode([DOCS_SOURCE, {"$addFields": {"b": {"$pow": [10, 100000000]}, "c": {"$nope": 1}}}])
    doubling = {"$reduce": {"input": {"$range": [0, 40]}, "initialValue": "ab", "in": {"$concat": ["$$value", "$$value"]}}}
    yield "fold $concat doubling then bad", encode([DOCS_SOURCE, {"$addFields": {"b": doubling, "c": {"$nope": 1}}}])
    yield "fold $range then bad", encode([DOCS_SOURCE, {"$addFields": {"b": {"$size": {"$range": [0, 10**12]}}, "c": {"$nope": 1}}}])


def malformed_cases() -> list[tuple[str, bytes]]:
    families = (
        wrong_type_cases, number_cases, encoding_cases, nesting_cases, huge_cases, extended_json_cases,
        duplicate_key_cases, field_name_cases, options_cases, unsupported_cases, documents_evaluation_cases,
        folding_cases,
    )  # fmt: skip
    return [case for family in families for case in family()]


def valid_cases() -> list[tuple[str, bytes]]:
    controls = [(f"base {name}", encode(base)) for name, base in BASES.items()]
    controls += [(f"base $source {kind}", encode([base, {"$match": {}}])) for kind, base in SOURCE_BASES.items()]
    families = (number_controls, encoding_controls, nesting_controls, huge_controls, options_controls, documents_evaluation_controls)
    for family in families:
        controls += list(family())
    controls.append(("documents expression", encode([{"$source": {"documents": {"$map": {"input": [1, 2], "in": {"a": "$$this"}}}}}])))
    controls.append(("dotted field in $addFields", encode([DOCS_SOURCE, {"$addFields": {"b.c": 1}}])))
    return controls
