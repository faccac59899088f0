"""Object expression operators: MongoDB's documented examples plus edge cases, row by row."""

from __future__ import annotations

import pytest
from bson import Int64

from expression_cases import MISSING, assert_same, evaluate
from translator.errors import ExpressionError, SpecError

ORDER = {"_id": 1, "item": "abc", "price": 12, "ordered": 2}
ITEM = {"_id": 1, "item": "abc", "description": "product 1", "instock": 120}
DIMENSIONS_KV = [{"k": "l", "v": 25}, {"k": "w", "v": 10}, {"k": "uom", "v": "cm"}]
PRICE = {"_id": 1, "item": "sweatshirt", "price.usd": 45.99, "qty": 300}
DOLLAR_PRICE = {"_id": 1, "item": "sweatshirt", "$price": 45.99, "qty": 300}

ROWS = [
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/mergeObjects/
    ({"$mergeObjects": [{"a": 1}, None]}, {}, {"a": 1}),
    ({"$mergeObjects": [None, None]}, {}, {}),
    ({"$mergeObjects": [{"a": 1}, {"a": 2, "b": 2}, {"a": 3, "c": 3}]}, {}, {"a": 3, "b": 2, "c": 3}),
    ({"$mergeObjects": [{"a": 1}, {"a": 2, "b": 2}, {"a": 3, "b": None, "c": 3}]}, {}, {"a": 3, "b": None, "c": 3}),
    ({"$mergeObjects": [{"$arrayElemAt": ["$fromItems", 0]}, "$$ROOT"]}, {**ORDER, "fromItems": [ITEM]},
     {**ITEM, **ORDER, "fromItems": [ITEM]}),
    ({"$mergeObjects": "$quantity"}, {"quantity": [{"2017Q1": 500}, {"2017Q2": 500}, {"2017Q1": 150}]},
     {"2017Q1": 150, "2017Q2": 500}),
    # edge cases
    ({"$mergeObjects": []}, {}, {}),
    ({"$mergeObjects": "$nosuch"}, {}, {}),
    ({"$mergeObjects": None}, {}, {}),
    ({"$mergeObjects": {"a": 1}}, {}, {"a": 1}),
    ({"$mergeObjects": ["$a", "$nosuch", "$b"]}, {"a": {"x": 1, "y": 1}, "b": {"x": Int64(2)}}, {"x": Int64(2), "y": 1}),
    ({"$mergeObjects": [[{"a": 1}]]}, {}, {"a": 1}),
    ({"$mergeObjects": "$list"}, {"list": [{"a": 1}, None, {"b": 2}]}, {"a": 1, "b": 2}),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/objectToArray/
    ({"$objectToArray": {"item": "foo", "qty": 25}}, {}, [{"k": "item", "v": "foo"}, {"k": "qty", "v": 25}]),
    ({"$objectToArray": {"item": "foo", "qty": 25, "size": {"len": 25, "w": 10, "uom": "cm"}}}, {},
     [{"k": "item", "v": "foo"}, {"k": "qty", "v": 25}, {"k": "size", "v": {"len": 25, "w": 10, "uom": "cm"}}]),
    ({"$objectToArray": "$dimensions"}, {"dimensions": {"l": 25, "w": 10, "uom": "cm"}}, DIMENSIONS_KV),
    # edge cases
    ({"$objectToArray": {}}, {}, []),
    ({"$objectToArray": "$nosuch"}, {}, None),
    ({"$objectToArray": None}, {}, None),
    ({"$objectToArray": "$a"}, {"a": {"x.y": None, "$z": [1]}}, [{"k": "x.y", "v": None}, {"k": "$z", "v": [1]}]),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/arrayToObject/
    ({"$arrayToObject": [[{"k": "item", "v": "abc123"}, {"k": "qty", "v": 25}]]}, {}, {"item": "abc123", "qty": 25}),
    ({"$arrayToObject": {"$literal": [["item", "abc123"], ["qty", 25]]}}, {}, {"item": "abc123", "qty": 25}),
    ({"$arrayToObject": {"$literal": [["item", "abc123"], ["qty", 25], ["item", 50]]}}, {}, {"item": 50, "qty": 25}),
    ({"$arrayToObject": "$dimensions"}, {"dimensions": DIMENSIONS_KV}, {"l": 25, "w": 10, "uom": "cm"}),
    ({"$arrayToObject": "$dimensions"}, {"dimensions": [["l", 50], ["w", 25], ["uom", "cm"]]},
     {"l": 50, "w": 25, "uom": "cm"}),
    ({"$arrayToObject": "$dimensions"}, {"dimensions": [{"k": "l", "v": 50}, {"k": "l", "v": 25}]}, {"l": 25}),
    ({"$arrayToObject": {"$objectToArray": "$d"}}, {"d": {"a": 1, "b": [2]}}, {"a": 1, "b": [2]}),
    # edge cases
    ({"$arrayToObject": [[]]}, {}, {}),
    ({"$arrayToObject": "$nosuch"}, {}, None),
    ({"$arrayToObject": [None]}, {}, None),
    ({"$arrayToObject": {"$literal": [["a", None], ["b.c", "$x"]]}}, {}, {"a": None, "b.c": "$x"}),
    ({"$arrayToObject": [[{"v": 1, "k": "x"}]]}, {}, {"x": 1}),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/getField/
    ({"$getField": "price.usd"}, PRICE, 45.99),
    ({"$getField": {"$literal": "$price"}}, DOLLAR_PRICE, 45.99),
    ({"$getField": {"field": {"$literal": "$small"}, "input": "$quantity"}}, {"quantity": {"$small": 4, "$large": 9}}, 4),
    ({"$gt": [{"$getField": "price.usd"}, 200]}, PRICE, False),
    # edge cases: null input gives null, missing or non-object input gives missing
    ({"$getField": "a"}, {"a": None}, None),
    ({"$getField": "nosuch"}, {}, MISSING),
    ({"$getField": {"field": "a", "input": None}}, {}, None),
    ({"$getField": {"field": "a", "input": "$nosuch"}}, {}, MISSING),
    ({"$getField": {"field": "a", "input": 5}}, {}, MISSING),
    ({"$getField": {"field": "a", "input": [{"a": 1}]}}, {}, MISSING),
    ({"$getField": {"field": "a.b", "input": {"a": {"b": 1}}}}, {}, MISSING),
    ({"$getField": {"field": "$name", "input": {"k": 1, "j": 2}}}, {"name": "k"}, 1),
    ({"$getField": "$name"}, {"name": "name"}, "name"),
    ({"$getField": {"$concat": ["a", "b"]}}, {"ab": Int64(3)}, Int64(3)),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/setField/
    ({"$setField": {"field": "price.usd", "input": "$$ROOT", "value": 49.99}}, {"_id": 1, "price.usd": 45.99},
     {"_id": 1, "price.usd": 49.99}),
    ({"$setField": {"field": {"$literal": "$price"}, "input": "$$ROOT", "value": 49.99}}, DOLLAR_PRICE,
     {**DOLLAR_PRICE, "$price": 49.99}),
    ({"$setField": {"field": "price.usd", "input": "$$ROOT", "value": "$$REMOVE"}}, PRICE,
     {"_id": 1, "item": "sweatshirt", "qty": 300}),
    ({"$setField": {"field": {"$literal": "$price"}, "input": "$$ROOT", "value": "$$REMOVE"}}, DOLLAR_PRICE,
     {"_id": 1, "item": "sweatshirt", "qty": 300}),
    ({"$setField": {"field": "new", "input": {"a": 1}, "value": {"$add": [1, "$n"]}}}, {"n": 2}, {"a": 1, "new": 3}),
    # edge cases
    ({"$setField": {"field": "a", "input": None, "value": 1}}, {}, None),
    ({"$setField": {"field": "a", "input": "$nosuch", "value": 1}}, {}, None),
    ({"$setField": {"field": "a", "input": {"a": 1, "b": 2}, "value": None}}, {}, {"a": None, "b": 2}),
    ({"$setField": {"field": "a", "input": {"b": 2}, "value": "$nosuch"}}, {}, {"b": 2}),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/unsetField/
    ({"$unsetField": {"field": "price.usd", "input": "$$ROOT"}}, PRICE, {"_id": 1, "item": "sweatshirt", "qty": 300}),
    ({"$unsetField": {"field": {"$literal": "$price"}, "input": "$$ROOT"}}, DOLLAR_PRICE,
     {"_id": 1, "item": "sweatshirt", "qty": 300}),
    ({"$setField": {"field": "price", "input": "$$ROOT",
                    "value": {"$unsetField": {"field": "euro", "input": {"$getField": "price"}}}}},
     {"_id": 3, "price": {"usd": 12, "euro": 10}}, {"_id": 3, "price": {"usd": 12}}),
    # edge cases
    ({"$unsetField": {"field": "x", "input": {"a": 1}}}, {}, {"a": 1}),
    ({"$unsetField": {"field": "x", "input": None}}, {}, None),
]  # fmt: skip

RUNTIME_ERRORS = [
    ({"$mergeObjects": [{"a": 1}, 5]}, {}, "$mergeObjects requires object inputs, but input 5 is of type int"),
    ({"$mergeObjects": "$list"}, {"list": [{"a": 1}, "x"]}, '$mergeObjects requires object inputs, but input "x" is of type string'),
    ({"$objectToArray": [[1]]}, {}, "$objectToArray requires a document input, found: array"),
    ({"$arrayToObject": "x"}, {}, "$arrayToObject requires an array input, found: string"),
    ({"$arrayToObject": [[1]]}, {}, "Unrecognised input type format for $arrayToObject: int"),
    ({"$arrayToObject": {"$literal": [["a", 1], {"k": "b", "v": 2}]}}, {},
     "$arrayToObject requires a consistent input format. Elements mustall be arrays or all be objects. "
     "Array was detected, now found: object"),
    ({"$arrayToObject": {"$literal": [{"k": "b", "v": 2}, ["a", 1]]}}, {},
     "$arrayToObject requires a consistent input format. Elements mustall be arrays or all be objects. "
     "Object was detected, now found: array"),
    ({"$arrayToObject": {"$literal": [["a", 1, 2]]}}, {},
     "$arrayToObject requires an array of size 2 arrays,found array of size: 3"),
    ({"$arrayToObject": {"$literal": [[1, 2]]}}, {},
     "$arrayToObject requires an array of key-value pairs, where the key must be of type string. Found key type: int"),
    ({"$arrayToObject": {"$literal": [{"k": "a"}]}}, {},
     "$arrayToObject requires an object keys of 'k' and 'v'. Found incorrect number of keys:1"),
    ({"$arrayToObject": {"$literal": [{"k": "a", "x": 1}]}}, {},
     "$arrayToObject requires an object with keys 'k' and 'v'. Missing either or both keys from: {k: \"a\", x: 1}"),
    ({"$arrayToObject": {"$literal": [{"k": 1, "v": 1}]}}, {},
     "$arrayToObject requires an object with keys 'k' and 'v', where the value of 'k' must be of type string. "
     "Found type: int"),
    ({"$arrayToObject": {"$literal": [["a\0b", 1]]}}, {}, "Key field cannot contain an embedded null byte"),
    ({"$getField": "$name"}, {"name": 5}, "$getField requires 'field' to evaluate to type String, but got int"),
    ({"$getField": "$name"}, {}, "$getField requires 'field' to evaluate to type String, but got missing"),
    ({"$setField": {"field": "a", "input": 5, "value": 1}}, {}, "$setField requires 'input' to evaluate to type Object"),
    ({"$unsetField": {"field": "a", "input": [1]}}, {}, "$unsetField requires 'input' to evaluate to type Object"),
]  # fmt: skip

SPEC_ERRORS = [
    ({"$objectToArray": [{}, {}]}, "takes exactly 1 argument"),
    ({"$arrayToObject": [[], []]}, "takes exactly 1 argument"),
    ({"$getField": 5}, "$getField requires 'field' to evaluate to type String, but got int"),
    ({"$getField": {"field": True, "input": {}}}, "$getField requires 'field' to evaluate to type String, but got bool"),
    ({"$getField": {"field": "a"}}, "$getField requires 'input'"),
    ({"$getField": {"input": {}}}, "$getField requires 'field'"),
    ({"$getField": {"field": "a", "input": {}, "x": 1}}, "$getField found an unknown argument: x"),
    ({"$setField": "a"}, "$setField only supports an object as its argument"),
    ({"$setField": {"field": "a", "input": {}}}, "$setField requires 'value'"),
    ({"$setField": {"field": "a", "value": 1}}, "$setField requires 'input'"),
    ({"$setField": {"input": {}, "value": 1}}, "$setField requires 'field'"),
    ({"$setField": {"field": "a", "input": {}, "value": 1, "x": 1}}, "$setField found an unknown argument: x"),
    ({"$setField": {"field": 1, "input": {}, "value": 1}}, "$setField requires 'field' to evaluate to type String, but got int"),
    ({"$setField": {"field": "$a", "input": {}, "value": 1}},
     "A field path reference which is not allowed in this context. Did you mean {$literal: '$a'}?"),
    ({"$setField": {"field": {"$concat": ["a", "$b"]}, "input": {}, "value": 1}},
     "$setField requires 'field' to evaluate to a constant, but got a non-constant argument"),
    ({"$unsetField": {"field": "a", "input": {}, "value": 1}}, "$unsetField found an unknown argument: value"),
    ({"$unsetField": {"input": {}}}, "$unsetField requires 'field'"),
    ({"$unsetField": 3}, "$unsetField only supports an object as its argument"),
]  # fmt: skip


@pytest.mark.parametrize(("expr", "doc", "expected"), ROWS)
def test_object_operator(expr, doc, expected):
    assert_same(evaluate(expr, doc), expected)


@pytest.mark.parametrize(("expr", "doc", "message"), RUNTIME_ERRORS)
def test_object_operator_fails_the_document(expr, doc, message):
    with pytest.raises(ExpressionError) as caught:
        evaluate(expr, doc)
    assert str(caught.value) == message


@pytest.mark.parametrize(("expr", "fragment"), SPEC_ERRORS)
def test_object_operator_rejects_the_spec(expr, fragment):
    with pytest.raises(SpecError) as caught:
        evaluate(expr, {})
    assert fragment in caught.value.message


def test_set_field_leaves_its_input_unchanged():
    doc = {"a": 1, "b": 2}
    assert_same(evaluate({"$unsetField": {"field": "a", "input": "$$ROOT"}}, doc), {"b": 2})
    assert doc == {"a": 1, "b": 2}


def test_merge_objects_leaves_its_inputs_unchanged():
    doc = {"x": {"a": 1}, "y": {"b": 2}}
    evaluate({"$mergeObjects": ["$x", "$y"]}, doc)
    assert doc == {"x": {"a": 1}, "y": {"b": 2}}
