"""Miscellaneous and data-size operators, and Atlas's $currentDate, $createUUID and $meta."""

from __future__ import annotations

import datetime
import uuid

import bson
import pytest
from bson import Binary, Decimal128, Int64, ObjectId

from expression_cases import MISSING, assert_same, evaluate
from translator._types import NO_VARS
from translator.errors import ExpressionError, SpecError
from translator.expressions import compile_expression

STREAM_DOC = {"a": 1, "_stream_meta": {"source": {"type": "kafka", "topic": "t", "partition": 0, "offset": Int64(7)}}}

ROWS = [
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/binarySize/
    ({"$binarySize": "$image"}, {"image": Binary(b"\x00" * 16, 0)}, 16),
    ({"$binarySize": "abc"}, {}, 3),
    ({"$binarySize": "Hello World!"}, {}, 12),
    ({"$binarySize": "cafeteria"}, {}, 9),
    ({"$binarySize": "café"}, {}, 5),
    ({"$binarySize": {"$literal": "$€"}}, {}, 4),
    ({"$binarySize": "寿司"}, {}, 6),
    ({"$binarySize": None}, {}, None),
    ({"$binarySize": "$nosuch"}, {}, None),
    ({"$binarySize": ""}, {}, 0),
    ({"$binarySize": "$b"}, {"b": b"12345"}, 5),
    ({"$binarySize": "$u"}, {"u": Binary(uuid.UUID(int=1).bytes, 4)}, 16),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/bsonSize/
    ({"$bsonSize": {}}, {}, 5),
    ({"$bsonSize": {"$literal": {"a": 1}}}, {}, 12),
    ({"$bsonSize": "$$ROOT"}, {"_id": 1, "n": "x"}, 23),
    ({"$bsonSize": "$d"}, {"d": {"a": Int64(1)}}, 16),
    ({"$bsonSize": "$d"}, {"d": {"a": 2**31}}, 16),
    ({"$bsonSize": "$d"}, {"d": {"a": 1.5}}, 16),
    ({"$bsonSize": "$d"}, {"d": {"a": Decimal128("1")}}, 24),
    ({"$bsonSize": "$d"}, {"d": {"a": ObjectId("65a000000000000000000000")}}, 20),
    ({"$bsonSize": "$d"}, {"d": {"a": datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)}}, 16),
    ({"$bsonSize": "$d"}, {"d": {"a": [1, 2]}}, 27),
    ({"$bsonSize": None}, {}, None),
    ({"$bsonSize": "$nosuch"}, {}, None),
    # https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-meta/
    ({"$meta": "stream"}, STREAM_DOC, STREAM_DOC["_stream_meta"]),
    ({"$meta": "stream.source.topic"}, STREAM_DOC, "t"),
    ({"$meta": "stream.source.offset"}, STREAM_DOC, Int64(7)),
    ({"$meta": "stream.window.start"}, STREAM_DOC, MISSING),
    ({"$meta": "stream.source"}, {}, MISSING),
]  # fmt: skip

RUNTIME_ERRORS = [
    ({"$binarySize": 5}, {}, "$binarySize requires a string or BinData argument, found: int"),
    ({"$binarySize": "$d"}, {"d": {"a": 1}}, "$binarySize requires a string or BinData argument, found: object"),
    ({"$bsonSize": "abc"}, {}, "$bsonSize requires a document input, found: string"),
    ({"$bsonSize": [[1]]}, {}, "$bsonSize requires a document input, found: array"),
]

SPEC_ERRORS = [
    ({"$rand": {"seed": 1}}, "$rand does not currently accept arguments"),
    ({"$rand": 1}, "$rand does not currently accept arguments"),
    ({"$currentDate": {"tz": "UTC"}}, "$currentDate takes no arguments"),
    ({"$currentDate": None}, "$currentDate takes no arguments"),
    ({"$createUUID": []}, "$createUUID takes no arguments"),
    ({"$createUUID": {"v": 4}}, "$createUUID takes no arguments"),
    ({"$binarySize": ["a", "b"]}, "takes exactly 1 argument"),
    ({"$bsonSize": []}, "takes exactly 1 argument"),
    ({"$meta": "textScore"}, '$meta expects "stream"'),
    ({"$sampleRate": 0.5}, 'unknown expression operator "$sampleRate"'),
]


@pytest.mark.parametrize(("expr", "doc", "expected"), ROWS)
def test_misc_operator(expr, doc, expected):
    assert_same(evaluate(expr, doc), expected)


@pytest.mark.parametrize(("expr", "doc", "message"), RUNTIME_ERRORS)
def test_misc_operator_fails_the_document(expr, doc, message):
    with pytest.raises(ExpressionError) as caught:
        evaluate(expr, doc)
    assert str(caught.value) == message


@pytest.mark.parametrize(("expr", "fragment"), SPEC_ERRORS)
def test_misc_operator_rejects_the_spec(expr, fragment):
    with pytest.raises(SpecError) as caught:
        evaluate(expr, {})
    assert fragment in caught.value.message


def test_bson_size_matches_the_encoded_document():
    when = datetime.datetime.now(datetime.timezone.utc)
    doc = {"_id": ObjectId(), "name": "ünïcode", "tags": ["a", {"b": None}], "n": Int64(5), "when": when}
    assert evaluate({"$bsonSize": "$$ROOT"}, doc) == len(bson.encode(doc))


def test_rand_gives_a_fresh_double_in_the_unit_interval_each_time():
    fn = compile_expression({"$rand": {}})
    values = [fn({}, NO_VARS) for _ in range(200)]
    assert all(type(v) is float and 0.0 <= v < 1.0 for v in values)
    assert len(set(values)) > 190


def test_current_date_is_the_wall_clock_at_each_evaluation_in_milliseconds():
    fn = compile_expression({"$currentDate": {}})
    before = datetime.datetime.now(datetime.timezone.utc)
    first = fn({}, NO_VARS)
    later = [fn({}, NO_VARS) for _ in range(2000)]
    after = datetime.datetime.now(datetime.timezone.utc)
    assert type(first) is datetime.datetime and first.tzinfo is not None
    assert first.utcoffset() == datetime.timedelta(0)
    assert all(d.microsecond % 1000 == 0 for d in [first, *later])
    assert before - datetime.timedelta(milliseconds=1) <= first <= later[-1] <= after


def test_current_date_advances_between_evaluations():
    fn = compile_expression({"$currentDate": {}})
    first = fn({}, NO_VARS)
    deadline = first + datetime.timedelta(seconds=2)
    while (now := fn({}, NO_VARS)) == first and datetime.datetime.now(datetime.timezone.utc) < deadline:
        pass
    assert now > first


def test_create_uuid_gives_a_distinct_version_4_uuid_as_bindata_subtype_4():
    fn = compile_expression({"$createUUID": {}})
    values = [fn({}, NO_VARS) for _ in range(100)]
    assert all(type(v) is Binary and v.subtype == 4 and len(v) == 16 for v in values)
    assert all(uuid.UUID(bytes=bytes(v)).version == 4 for v in values)
    assert len(set(values)) == 100
