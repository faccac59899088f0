"""Query language: rows of (filter, document, matches?), from MongoDB's query docs and edge cases."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from bson import Binary, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex
from expression_cases import matches

from translator.errors import SpecError
from translator.query import compile_query

DATE = datetime(2024, 1, 1, tzinfo=timezone.utc)
INVENTORY = {"item": "journal", "qty": 25, "size": {"h": 14, "w": 21, "uom": "cm"}, "tags": ["blank", "red"], "dim_cm": [14, 21]}

# https://www.mongodb.com/docs/manual/reference/operator/query-comparison/
COMPARISON = [
    ({"qty": {"$eq": 25}}, INVENTORY, True),
    ({"qty": 25.0}, INVENTORY, True),
    ({"qty": Decimal128("25")}, INVENTORY, True),
    ({"qty": Int64(25)}, INVENTORY, True),
    ({"qty": "25"}, INVENTORY, False),
    ({"size": {"h": 14, "w": 21, "uom": "cm"}}, INVENTORY, True),
    ({"size": {"w": 21, "h": 14, "uom": "cm"}}, INVENTORY, False),  # field order matters
    ({"size.uom": "cm"}, INVENTORY, True),
    ({"tags": "red"}, INVENTORY, True),
    ({"tags": ["blank", "red"]}, INVENTORY, True),
    ({"tags": ["red", "blank"]}, INVENTORY, False),
    ({"dim_cm": {"$gt": 20}}, INVENTORY, True),
    ({"dim_cm": {"$gt": 15, "$lt": 20}}, INVENTORY, True),  # each clause may match a different element
    ({"dim_cm": {"$elemMatch": {"$gt": 15, "$lt": 20}}}, INVENTORY, False),
    ({"dim_cm.1": {"$gt": 20}}, INVENTORY, True),
    ({"dim_cm.0": {"$gt": 20}}, INVENTORY, False),
    ({"qty": {"$gt": 20}}, INVENTORY, True),
    ({"qty": {"$gte": 25}}, INVENTORY, True),
    ({"qty": {"$lt": 25}}, INVENTORY, False),
    ({"qty": {"$lte": 25}}, INVENTORY, True),
    ({"qty": {"$ne": 20}}, INVENTORY, True),
    ({"qty": {"$ne": 25}}, INVENTORY, False),
    ({"missing": {"$ne": 1}}, INVENTORY, True),
    ({"tags": {"$ne": "red"}}, INVENTORY, False),
    ({"qty": {"$in": [5, 25]}}, INVENTORY, True),
    ({"tags": {"$in": ["red", "x"]}}, INVENTORY, True),
    ({"tags": {"$in": [Regex("^bl")]}}, INVENTORY, True),
    ({"qty": {"$nin": [5, 15]}}, INVENTORY, True),
    ({"tags": {"$nin": ["red"]}}, INVENTORY, False),
    ({"missing": {"$nin": [1]}}, INVENTORY, True),
    ({"missing": {"$in": [None]}}, INVENTORY, True),
    ({"qty": {"$gt": "a"}}, INVENTORY, False),  # type bracketing: numbers never compare with strings
    ({"item": {"$gt": "a"}}, INVENTORY, True),
    ({"item": {"$lt": 5}}, INVENTORY, False),
    ({"qty": {"$gt": MinKey()}}, INVENTORY, True),
    ({"qty": {"$lt": MaxKey()}}, INVENTORY, True),
    ({"missing": {"$gte": None}}, INVENTORY, True),
    ({"missing": {"$gt": None}}, INVENTORY, False),
    ({"missing": None}, INVENTORY, True),
    ({"n": None}, {"n": None}, True),
    ({"n": {"$exists": True}}, {"n": None}, True),
    ({"n": {"$gt": 0}}, {"n": float("nan")}, False),
    ({"n": {"$lt": 0}}, {"n": float("nan")}, False),
    ({"n": float("nan")}, {"n": float("nan")}, True),
    ({"n": {"$gt": 1}}, {"n": Decimal128("1.5")}, True),
    ({"n": {"$lt": 2}}, {"n": Int64(1)}, True),
    ({"n": {"$gt": True}}, {"n": 1}, False),
    ({"n": True}, {"n": 1}, False),
    ({"d": {"$gte": DATE}}, {"d": DATE}, True),
    ({"d": {"$gt": 0}}, {"d": DATE}, False),
    ({"o": ObjectId("65a000000000000000000000")}, {"o": ObjectId("65a000000000000000000000")}, True),
    ({"b": Binary(b"\x01", 0)}, {"b": Binary(b"\x01", 0)}, True),
]

# https://www.mongodb.com/docs/manual/reference/operator/query-logical/
LOGICAL = [
    ({"$and": [{"qty": {"$gt": 20}}, {"item": "journal"}]}, INVENTORY, True),
    ({"$and": [{"qty": {"$gt": 20}}, {"item": "notebook"}]}, INVENTORY, False),
    ({"$or": [{"qty": {"$lt": 20}}, {"item": "journal"}]}, INVENTORY, True),
    ({"$or": [{"qty": {"$lt": 20}}, {"item": "x"}]}, INVENTORY, False),
    ({"$nor": [{"qty": 1}, {"item": "x"}]}, INVENTORY, True),
    ({"$nor": [{"qty": 25}]}, INVENTORY, False),
    ({"qty": {"$not": {"$gt": 30}}}, INVENTORY, True),
    ({"missing": {"$not": {"$gt": 30}}}, INVENTORY, True),
    ({"item": {"$not": Regex("^j")}}, INVENTORY, False),
    ({"item": {"$not": {"$regex": "^p"}}}, INVENTORY, True),
    ({}, INVENTORY, True),
    ({"$comment": "ignored", "qty": 25}, INVENTORY, True),
]

# https://www.mongodb.com/docs/manual/reference/operator/query-element/
ELEMENT = [
    ({"qty": {"$exists": True}}, INVENTORY, True),
    ({"qty": {"$exists": False}}, INVENTORY, False),
    ({"size.d": {"$exists": False}}, INVENTORY, True),
    ({"a.b": {"$exists": True}}, {"a": [{"c": 1}, {"b": None}]}, True),
    ({"qty": {"$type": "int"}}, INVENTORY, True),
    ({"qty": {"$type": 16}}, INVENTORY, True),
    ({"qty": {"$type": "number"}}, INVENTORY, True),
    ({"qty": {"$type": ["string", "double"]}}, INVENTORY, False),
    ({"tags": {"$type": "array"}}, INVENTORY, True),
    ({"tags": {"$type": "string"}}, INVENTORY, True),  # an element is a string
    ({"n": {"$type": "long"}}, {"n": Int64(3)}, True),
    ({"n": {"$type": "long"}}, {"n": 2**40}, True),
    ({"n": {"$type": "null"}}, {"n": None}, True),
    ({"n": {"$type": "null"}}, {}, False),
    ({"n": {"$type": "date"}}, {"n": DATE}, True),
    ({"n": {"$type": "decimal"}}, {"n": Decimal128("1")}, True),
    ({"n": {"$type": "object"}}, {"n": {}}, True),
    ({"n": {"$type": "bool"}}, {"n": False}, True),
]

# https://www.mongodb.com/docs/manual/reference/operator/query-evaluation/
EVALUATION = [
    ({"item": {"$regex": "our"}}, INVENTORY, True),
    ({"item": {"$regex": "^JOUR", "$options": "i"}}, INVENTORY, True),
    ({"item": {"$regex": "^JOUR"}}, INVENTORY, False),
    ({"item": Regex("nal$")}, INVENTORY, True),
    ({"s": {"$regex": "^b", "$options": "m"}}, {"s": "a\nb"}, True),
    ({"s": {"$regex": "a.b", "$options": "s"}}, {"s": "a\nb"}, True),
    ({"s": {"$regex": "a b # comment", "$options": "x"}}, {"s": "ab"}, True),
    ({"qty": {"$regex": "2"}}, INVENTORY, False),
    ({"qty": {"$mod": [4, 1]}}, INVENTORY, True),
    ({"qty": {"$mod": [4, 0]}}, INVENTORY, False),
    ({"n": {"$mod": [4, -1]}}, {"n": -5}, True),
    ({"n": {"$mod": [4, 1]}}, {"n": 5.9}, True),  # the value truncates toward zero
    ({"n": {"$mod": [4, 1]}}, {"n": "5"}, False),
    ({"$expr": {"$gt": ["$qty", "$size.h"]}}, INVENTORY, True),
    ({"$expr": {"$lt": ["$qty", 10]}}, INVENTORY, False),
    ({"$jsonSchema": {"required": ["item", "qty"], "properties": {"qty": {"bsonType": "int", "minimum": 0}}}}, INVENTORY, True),
    ({"$jsonSchema": {"properties": {"qty": {"bsonType": "string"}}}}, INVENTORY, False),
    ({"$jsonSchema": {"properties": {"qty": {"type": "integer"}}}}, INVENTORY, True),
    ({"$jsonSchema": {"properties": {"n": {"bsonType": "long"}}}}, {"n": Int64(1)}, True),
    ({"$jsonSchema": {"properties": {"d": {"bsonType": "date"}}}}, {"d": DATE}, True),
    ({"$jsonSchema": {"properties": {"tags": {"bsonType": "array", "items": {"enum": ["blank", "red"]}}}}}, INVENTORY, True),
    ({"$jsonSchema": {"additionalProperties": False, "properties": {"item": {}}}}, {"item": 1}, True),
    ({"$jsonSchema": {"additionalProperties": False, "properties": {"item": {}}}}, INVENTORY, False),
]

# https://www.mongodb.com/docs/manual/reference/operator/query-array/
ARRAY = [
    ({"tags": {"$all": ["red", "blank"]}}, INVENTORY, True),
    ({"tags": {"$all": ["red", "plain"]}}, INVENTORY, False),
    ({"tags": {"$all": []}}, INVENTORY, False),
    ({"tags": {"$all": ["red"]}}, {"tags": "red"}, True),
    ({"qty": {"$all": [{"$elemMatch": {"size": "M", "num": {"$gt": 50}}}]}}, {"qty": [{"size": "M", "num": 100}]}, True),
    ({"results": {"$elemMatch": {"product": "xyz", "score": {"$gte": 8}}}}, {"results": [{"product": "abc", "score": 10}, {"product": "xyz", "score": 5}]}, False),
    ({"results": {"$elemMatch": {"product": "xyz", "score": {"$gte": 8}}}}, {"results": [{"product": "xyz", "score": 9}]}, True),
    ({"results": {"$elemMatch": {"$gte": 80, "$lt": 85}}}, {"results": [82, 85, 88]}, True),
    ({"results": {"$elemMatch": {"$gte": 80, "$lt": 85}}}, {"results": [75, 88, 89]}, False),
    ({"results": {"$elemMatch": {"$gte": 80}}}, {"results": 82}, False),
    ({"tags": {"$size": 2}}, INVENTORY, True),
    ({"tags": {"$size": 1}}, INVENTORY, False),
    ({"tags": {"$size": 0}}, {"tags": []}, True),
    ({"tags": {"$size": 0}}, {}, False),
]

# https://www.mongodb.com/docs/manual/reference/operator/query-bitwise/
BITWISE = [
    ({"a": {"$bitsAllSet": [1, 5]}}, {"a": 54}, True),
    ({"a": {"$bitsAllSet": 50}}, {"a": 54}, True),
    ({"a": {"$bitsAllSet": [0]}}, {"a": 54}, False),
    ({"a": {"$bitsAnySet": [0, 1]}}, {"a": 54}, True),
    ({"a": {"$bitsAllClear": [0, 3]}}, {"a": 54}, True),
    ({"a": {"$bitsAnyClear": [1, 5]}}, {"a": 54}, False),
    ({"a": {"$bitsAllSet": [63, 100]}}, {"a": -1}, True),  # negative: sign-extended
    ({"a": {"$bitsAllSet": [1]}}, {"a": 2.5}, False),  # not integral
    ({"a": {"$bitsAllSet": [1]}}, {"a": 2.0}, True),
    ({"a": {"$bitsAnySet": Binary(b"\x30", 0)}}, {"a": Binary(b"\x20", 0)}, True),
    ({"a": {"$bitsAllSet": [1]}}, {"a": "2"}, False),
]


@pytest.mark.parametrize(
    ("query", "doc", "expected"),
    COMPARISON + LOGICAL + ELEMENT + EVALUATION + ARRAY + BITWISE,
)
def test_query(query: dict, doc: dict, expected: bool) -> None:
    assert matches(query, doc) is expected


DOTTED = {"a": [{"b": 1}, {"b": [2, 3]}, {"c": 4}, 5]}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"a.b": 1}, True),
        ({"a.b": 3}, True),  # leaf arrays are searched
        ({"a.b": [2, 3]}, True),
        ({"a.b": None}, True),  # an element without b
        ({"a.c": {"$exists": True}}, True),
        ({"a.d": {"$exists": True}}, False),
        ({"a.1.b": 2}, True),
        ({"a.3": 5}, True),
        ({"a.b": {"$size": 2}}, True),
        ({"a.b": {"$gt": 2}}, True),
        ({"a.b": {"$gt": 3}}, False),
    ],
)
def test_dotted_paths_follow_mongod(query: dict, expected: bool) -> None:
    assert matches(query, DOTTED) is expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"a": {"$size": -1}}, "$size needs a whole, non-negative number; got -1"),
        ({"a": {"$size": 1.5}}, "$size needs a whole, non-negative number; got 1.5"),
        ({"a": {"$mod": [0, 1]}}, "$mod's divisor cannot be 0"),
        ({"a": {"$mod": [1]}}, "$mod needs an array of two numbers: [divisor, remainder]"),
        ({"a": {"$all": 1}}, "$all needs an array"),
        ({"a": {"$elemMatch": 1}}, "$elemMatch needs an object"),
        ({"a": {"$bitsAllSet": -1}}, "expected a non-negative whole number, an array of bit positions, or BinData"),
        ({"a": {"$options": "i"}}, "$options needs a $regex"),
        ({"a": {"$in": [{"$gt": 1}]}}, "cannot use an operator expression inside $in"),
        ({"$jsonSchema": {"properties": {"a": {"format": "email"}}}}, "$jsonSchema keyword 'format' is not supported by MongoDB"),
        ({"$jsonSchema": {"type": "nothing"}}, "invalid $jsonSchema: 'nothing' is not valid under any of the given schemas"),
        ({"a": {"$near": [0, 0]}}, (
                "$near sorts by distance with a database server's geospatial index and is not supported in a stream;"
                " to filter by distance use $geoWithin with $center or $centerSphere"
            ),),
        ({"$sampleRate": 2}, "$sampleRate needs a number between 0 and 1"),
    ],
)
def test_query_errors(query: dict, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        compile_query(query)
    assert caught.value.message == message


def test_sample_rate_samples() -> None:
    keep = compile_query({"$sampleRate": 0.5})
    kept = sum(keep({}) for _ in range(4000))
    assert 1600 < kept < 2400
    assert not any(compile_query({"$sampleRate": 0})({}) for _ in range(100))
