"""Set expression operators: MongoDB's documented examples plus edge cases, row by row.

mongod leaves the order of set results unspecified; sluice returns them in ascending BSON
order (as mongod's ordered sets happen to), so the rows below pin that order.
"""

from __future__ import annotations

import datetime

import pytest
from bson import Binary, Decimal128, Int64, ObjectId, Regex

from expression_cases import assert_same, evaluate
from translator.errors import ExpressionError, SpecError
from translator.expressions.set import bson_key

NAN = float("nan")

ROWS = [
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/allElementsTrue/
    ({"$allElementsTrue": [[True, 1, "someString"]]}, {}, True),
    ({"$allElementsTrue": [[[False]]]}, {}, True),
    ({"$allElementsTrue": [[]]}, {}, True),
    ({"$allElementsTrue": [[None, False, 0]]}, {}, False),
    ({"$allElementsTrue": "$responses"}, {"responses": [1, True, "seven"]}, True),
    ({"$allElementsTrue": "$responses"}, {"responses": [True, False]}, False),
    ({"$allElementsTrue": "$responses"}, {"responses": [0.0]}, False),
    ({"$allElementsTrue": [[Decimal128("0")]]}, {}, False),
    ({"$allElementsTrue": [[NAN]]}, {}, True),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/anyElementTrue/
    ({"$anyElementTrue": [[True, False]]}, {}, True),
    ({"$anyElementTrue": [[[False]]]}, {}, True),
    ({"$anyElementTrue": [[None, False, 0]]}, {}, False),
    ({"$anyElementTrue": [[]]}, {}, False),
    ({"$anyElementTrue": "$responses"}, {"responses": [0, None, ""]}, True),
    ({"$anyElementTrue": [[0, 0.0, Decimal128("-0")]]}, {}, False),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/setDifference/
    ({"$setDifference": ["$B", "$A"]}, {"A": ["red", "blue"], "B": ["red", "blue"]}, []),
    ({"$setDifference": ["$B", "$A"]}, {"A": ["red", "blue"], "B": ["blue", "red", "blue"]}, []),
    ({"$setDifference": ["$B", "$A"]}, {"A": ["red", "blue"], "B": ["red", "blue", "green"]}, ["green"]),
    ({"$setDifference": ["$B", "$A"]}, {"A": ["red", "blue"], "B": ["green", "red"]}, ["green"]),
    ({"$setDifference": ["$B", "$A"]}, {"A": ["red", "blue"], "B": []}, []),
    ({"$setDifference": ["$B", "$A"]}, {"A": ["red", "blue"], "B": [["red"], ["blue"]]}, [["red"], ["blue"]]),
    ({"$setDifference": ["$B", "$A"]}, {"A": ["red", "blue"], "B": [["red", "blue"]]}, [["red", "blue"]]),
    ({"$setDifference": ["$B", "$A"]}, {"A": [], "B": []}, []),
    ({"$setDifference": ["$B", "$A"]}, {"A": [], "B": ["red"]}, ["red"]),
    # edge cases: first-array order kept, repeats dropped, numbers equal across types
    ({"$setDifference": [[3, 1, 3, 2], [2.0]]}, {}, [3, 1]),
    ({"$setDifference": [[1, 1.0, Int64(1)], []]}, {}, [1]),
    ({"$setDifference": [[NAN, Decimal128("NaN")], []]}, {}, [NAN]),
    ({"$setDifference": [None, [1]]}, {}, None),
    ({"$setDifference": [[1], "$nosuch"]}, {}, None),
    ({"$setDifference": [[{"a": 1}, {"a": 1.0}], []]}, {}, [{"a": 1}]),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/setEquals/
    ({"$setEquals": [["a", "b", "a"], ["b", "a"]]}, {}, True),
    ({"$setEquals": [["a", "b"], [["a", "b"]]]}, {}, False),
    ({"$setEquals": ["$cakes", "$cupcakes"]}, {"cakes": ["chocolate", "vanilla"], "cupcakes": ["vanilla", "chocolate"]},
     True),
    ({"$setEquals": ["$cakes", "$cupcakes"]}, {"cakes": ["chocolate", "vanilla"], "cupcakes": ["vanilla"]}, False),
    ({"$setEquals": ["$cakes", "$cupcakes"]}, {"cakes": ["vanilla", "lemon"], "cupcakes": []}, False),
    # edge cases
    ({"$setEquals": [[1, 2], [2.0, 1], [Decimal128("1"), Int64(2), 2]]}, {}, True),
    ({"$setEquals": [[], []]}, {}, True),
    ({"$setEquals": [[None], [None, None]]}, {}, True),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/setIntersection/
    ({"$setIntersection": [["a", "b", "a"], ["b", "a"]]}, {}, ["a", "b"]),
    ({"$setIntersection": [["a", "b"], [["a", "b"]]]}, {}, []),
    ({"$setIntersection": ["$flowerFieldA", "$flowerFieldB"]},
     {"flowerFieldA": ["rose", "orchid"], "flowerFieldB": ["rose", "orchid", "jasmine"]}, ["orchid", "rose"]),
    ({"$setIntersection": ["$flowerFieldA", "$flowerFieldB"]},
     {"flowerFieldA": ["rose", "orchid"], "flowerFieldB": []}, []),
    # edge cases
    ({"$setIntersection": []}, {}, []),
    ({"$setIntersection": [[3, 1, 2, 1]]}, {}, [1, 2, 3]),
    ({"$setIntersection": [[1, "a", None], [1.0, None]]}, {}, [None, 1.0]),
    ({"$setIntersection": [[1], None]}, {}, None),
    ({"$setIntersection": [[], "$nosuch"]}, {}, None),
    ({"$setIntersection": [[1, 2], [2], [3]]}, {}, []),
    ({"$setIntersection": [[1.0, 2.0, 3.0], [Int64(1)]]}, {}, [Int64(1)]),
    ({"$setIntersection": [[1.0], [1, 2]]}, {}, [1.0]),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/setIsSubset/
    ({"$setIsSubset": [["a", "b", "a"], ["b", "a"]]}, {}, True),
    ({"$setIsSubset": [["a", "b"], [["a", "b"]]]}, {}, False),
    ({"$setIsSubset": ["$A", "$B"]}, {"A": ["red", "blue"], "B": ["green", "red", "blue"]}, True),
    ({"$setIsSubset": ["$A", "$B"]}, {"A": ["red", "blue"], "B": ["green", "red"]}, False),
    ({"$setIsSubset": ["$A", "$B"]}, {"A": [], "B": ["red"]}, True),
    ({"$setIsSubset": [[1, 1.0], [Decimal128("1.000")]]}, {}, True),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/setUnion/
    ({"$setUnion": [["a", "b", "a"], ["b", "a"]]}, {}, ["a", "b"]),
    ({"$setUnion": [["a", "b"], [["a", "b"]]]}, {}, ["a", "b", ["a", "b"]]),
    ({"$setUnion": ["$flowerFieldA", "$flowerFieldB"]},
     {"flowerFieldA": ["rose", "orchid"], "flowerFieldB": ["rose", "orchid", "jasmine"]}, ["jasmine", "orchid", "rose"]),
    # edge cases: BSON order across types, the first of equal values kept
    ({"$setUnion": []}, {}, []),
    ({"$setUnion": [[3, "a", None, True, {"x": 1}], [2.5, 3.0]]}, {}, [None, 2.5, 3, "a", {"x": 1}, True]),
    ({"$setUnion": [[1.0], [1, Int64(1)]]}, {}, [1.0]),
    ({"$setUnion": [[1], None]}, {}, None),
    ({"$setUnion": ["$nosuch", [1]]}, {}, None),
    ({"$setUnion": [[NAN, -1, NAN]]}, {}, [NAN, -1]),
]  # fmt: skip

RUNTIME_ERRORS = [
    ({"$allElementsTrue": [1]}, "$allElementsTrue's argument must be an array, but is int"),
    ({"$allElementsTrue": "$nosuch"}, "$allElementsTrue's argument must be an array, but is missing"),
    ({"$anyElementTrue": [None]}, "$anyElementTrue's argument must be an array, but is null"),
    ({"$setDifference": [1, [1]]}, "both operands of $setDifference must be arrays. First argument is of type: int"),
    ({"$setDifference": [[1], "x"]}, "both operands of $setDifference must be arrays. Second argument is of type: string"),
    ({"$setEquals": [[1], None]}, "All operands of $setEquals must be arrays. 2-th argument is of type: null"),
    ({"$setEquals": ["$nosuch", [1]]}, "All operands of $setEquals must be arrays. 1-th argument is of type: missing"),
    ({"$setIntersection": [[1], 2]}, "All operands of $setIntersection must be arrays. One argument is of type: int"),
    ({"$setIsSubset": [None, [1]]}, "both operands of $setIsSubset must be arrays. First argument is of type: null"),
    ({"$setIsSubset": [[1], "$nosuch"]}, "both operands of $setIsSubset must be arrays. Second argument is of type: missing"),
    ({"$setUnion": [[1], {"a": 1}]}, "All operands of $setUnion must be arrays. One argument is of type: object"),
]  # fmt: skip

SPEC_ERRORS = [
    ({"$allElementsTrue": [[1], [2]]}, "takes exactly 1 argument"),
    ({"$anyElementTrue": []}, "takes exactly 1 argument"),
    ({"$setDifference": [[1]]}, "takes exactly 2 arguments"),
    ({"$setIsSubset": [[1], [2], [3]]}, "takes exactly 2 arguments"),
    ({"$setEquals": [[1]]}, "$setEquals needs at least two arguments had: 1"),
]


@pytest.mark.parametrize(("expr", "doc", "expected"), ROWS)
def test_set_operator(expr, doc, expected):
    assert_same(evaluate(expr, doc), expected)


@pytest.mark.parametrize(("expr", "message"), RUNTIME_ERRORS)
def test_set_operator_fails_the_document(expr, message):
    with pytest.raises(ExpressionError) as caught:
        evaluate(expr, {})
    assert str(caught.value) == message


@pytest.mark.parametrize(("expr", "fragment"), SPEC_ERRORS)
def test_set_operator_rejects_the_spec(expr, fragment):
    with pytest.raises(SpecError) as caught:
        evaluate(expr, {})
    assert fragment in caught.value.message


WHEN = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
OID = ObjectId("65a000000000000000000000")


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [(1, 1.0, True), (Int64(2), Decimal128("2.0"), True), (-0.0, 0, True), (NAN, Decimal128("NaN"), True),
     (True, 1, False), (None, False, False), ("1", 1, False), ({"a": 1, "b": 2}, {"b": 2, "a": 1}, False),
     ({"a": [1, 2.0]}, {"a": [1.0, 2]}, True), (WHEN, WHEN.astimezone(datetime.timezone(datetime.timedelta(hours=2))), True),
     (Binary(b"x", 0), b"x", True), (Binary(b"x", 4), b"x", False), (Regex("a", "i"), Regex("a", "i"), True),
     (Regex("a", "i"), Regex("a"), False), (OID, ObjectId(str(OID)), True), ([1], (1,), True)],
)  # fmt: skip
def test_bson_key_is_equal_exactly_when_bson_values_are(a, b, equal):
    assert (bson_key(a) == bson_key(b)) is equal
    if equal:
        assert hash(bson_key(a)) == hash(bson_key(b))
