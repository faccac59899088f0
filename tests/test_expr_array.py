"""Array expression operators: MongoDB's documented examples plus edge cases, row by row."""

from __future__ import annotations

import pytest
from bson import Decimal128, Int64, Regex

from expression_cases import MISSING, assert_same, evaluate
from translator.errors import ExpressionError, SpecError
from translator.expressions.array import describe, int32_of

NAN = float("nan")
ITEMS = [{"item_id": 43, "quantity": 2, "price": 10, "name": "pen"},
         {"item_id": 2, "quantity": 1, "price": 240, "name": "briefcase"},
         {"item_id": 23, "quantity": 3, "price": 110, "name": "notebook"},
         {"item_id": 38, "quantity": 1, "price": 300, "name": "printer"}]  # fmt: skip
TEAM = [{"name": "pat", "age": 30, "address": {"street": "12 Baker St", "city": "London"}},
        {"name": "dallas", "age": 36, "address": {"street": "12 Cowper St", "city": "Palo Alto"}},
        {"name": "charlie", "age": 42, "address": {"street": "12 French St", "city": "New Brunswick"}}]  # fmt: skip

ROWS = [
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/arrayElemAt/
    ({"$arrayElemAt": [[1, 2, 3], 0]}, {}, 1),
    ({"$arrayElemAt": [[1, 2, 3], -2]}, {}, 2),
    ({"$arrayElemAt": [[1, 2, 3], 15]}, {}, MISSING),
    ({"$arrayElemAt": ["$favorites", 0]}, {"favorites": ["chocolate", "cake", "butter", "apples"]}, "chocolate"),
    ({"$arrayElemAt": ["$favorites", -1]}, {"favorites": ["chocolate", "cake", "butter", "apples"]}, "apples"),
    ({"$arrayElemAt": ["$favorites", 0]}, {"favorites": []}, MISSING),
    # edge cases
    ({"$arrayElemAt": [[1, 2, 3], -3]}, {}, 1),
    ({"$arrayElemAt": [[1, 2, 3], -4]}, {}, MISSING),
    ({"$arrayElemAt": [[1, 2, 3], 1.0]}, {}, 2),
    ({"$arrayElemAt": [[1, 2, 3], Int64(2)]}, {}, 3),
    ({"$arrayElemAt": [[1, 2, 3], Decimal128("1")]}, {}, 2),
    ({"$arrayElemAt": [None, 0]}, {}, None),
    ({"$arrayElemAt": ["$nosuch", 0]}, {}, None),
    ({"$arrayElemAt": [[1], None]}, {}, None),
    ({"$arrayElemAt": [[1], "$nosuch"]}, {}, None),
    ({"$arrayElemAt": ["$a", "$i"]}, {"a": [[1, 2]], "i": 0}, [1, 2]),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/first-array-element/
    ({"$first": [[1, 2, 3]]}, {}, 1),
    ({"$first": [[[]]]}, {}, []),
    ({"$first": [[None]]}, {}, None),
    ({"$first": [[]]}, {}, MISSING),
    ({"$first": "$nosuch"}, {}, None),
    ({"$first": None}, {}, None),
    ({"$first": "$a"}, {"a": [{"x": 1}, 2]}, {"x": 1}),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/last-array-element/
    ({"$last": [[1, 2, 3]]}, {}, 3),
    ({"$last": [[[]]]}, {}, []),
    ({"$last": [[None]]}, {}, None),
    ({"$last": [[]]}, {}, MISSING),
    ({"$last": "$nosuch"}, {}, None),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/concatArrays/
    ({"$concatArrays": [["hello", " "], ["world"]]}, {}, ["hello", " ", "world"]),
    ({"$concatArrays": [["hello", " "], [["world"], "again"]]}, {}, ["hello", " ", ["world"], "again"]),
    ({"$concatArrays": ["$instock", "$ordered"]}, {"instock": ["chocolate"], "ordered": ["butter", "apples"]},
     ["chocolate", "butter", "apples"]),
    ({"$concatArrays": ["$instock", "$ordered"]}, {"instock": ["chocolate"]}, None),
    ({"$concatArrays": ["$instock", "$ordered"]}, {"instock": ["ice cream"], "ordered": []}, ["ice cream"]),
    # edge cases
    ({"$concatArrays": []}, {}, []),
    ({"$concatArrays": [[1], None]}, {}, None),
    ({"$concatArrays": [[NAN], [Int64(1)]]}, {}, [NAN, Int64(1)]),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/filter/
    ({"$filter": {"input": "$items", "as": "item", "cond": {"$gte": ["$$item.price", 100]}}}, {"items": ITEMS},
     ITEMS[1:]),
    ({"$filter": {"input": "$items", "as": "item", "cond": {"$gte": ["$$item.price", 100]}, "limit": 1}},
     {"items": ITEMS}, ITEMS[1:2]),
    ({"$filter": {"input": "$items", "as": "item", "cond": {"$gte": ["$$item.price", 100]}, "limit": 5}},
     {"items": ITEMS}, ITEMS[1:]),
    ({"$filter": {"input": "$items", "cond": {"$lte": ["$$this.price", 10]}}}, {"items": ITEMS}, ITEMS[:1]),
    ({"$filter": {"input": [1, "a", 2, None, 3.1, Int64(4), "5"], "as": "num",
                  "cond": {"$and": [{"$gte": ["$$num", Int64(-9223372036854775807)]},
                                    {"$lte": ["$$num", Int64(9223372036854775807)]}]}}},
     {}, [1, 2, 3.1, Int64(4)]),
    # edge cases
    ({"$filter": {"input": "$nosuch", "cond": True}}, {}, None),
    ({"$filter": {"input": None, "cond": True}}, {}, None),
    ({"$filter": {"input": [], "cond": True, "limit": 0}}, {}, []),
    ({"$filter": {"input": [1, 2, 3], "cond": True, "limit": None}}, {}, [1, 2, 3]),
    ({"$filter": {"input": [1, 2, 3], "cond": True, "limit": 2.0}}, {}, [1, 2]),
    ({"$filter": {"input": [0, 1, None, "", False], "cond": "$$this"}}, {}, [1, ""]),
    ({"$filter": {"input": [1, 2], "as": "x", "cond": {"$eq": ["$$x", "$want"]}}}, {"want": 2}, [2]),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/firstN-array-element/
    ({"$firstN": {"n": 3, "input": "$score"}}, {"score": [1, 2, 3, 4]}, [1, 2, 3]),
    ({"$firstN": {"n": 3, "input": "$score"}}, {"score": [12, 90]}, [12, 90]),
    ({"$firstN": {"n": {"$cond": {"if": {"$eq": ["$g", 1]}, "then": 1, "else": 2}}, "input": [5, 6, 7]}},
     {"g": 1}, [5]),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/lastN-array-element/
    ({"$lastN": {"n": 3, "input": "$score"}}, {"score": [1, 2, 3, 4]}, [2, 3, 4]),
    ({"$lastN": {"n": 3, "input": "$score"}}, {"score": [12, 90]}, [12, 90]),
    ({"$lastN": {"n": 1.0, "input": [None, 1, None]}}, {}, [None]),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/maxN-array-element/
    ({"$maxN": {"n": 2, "input": "$score"}}, {"score": [1, 3]}, [3, 1]),
    ({"$maxN": {"n": 2, "input": "$score"}}, {"score": [12, 90, 7, 89, 8]}, [90, 89]),
    ({"$maxN": {"n": 2, "input": "$score"}}, {"score": [None, 3, None]}, [3]),
    ({"$maxN": {"n": 2, "input": "$score"}}, {"score": [None]}, []),
    ({"$maxN": {"n": 3, "input": [1, "a", {"b": 1}, True]}}, {}, [True, {"b": 1}, "a"]),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/minN-array-element/
    ({"$minN": {"n": 2, "input": "$score"}}, {"score": [12, 90, 7, 89, 8]}, [7, 8]),
    ({"$minN": {"n": 2, "input": "$score"}}, {"score": [None, 3, None]}, [3]),
    ({"$minN": {"n": 4, "input": [NAN, 1, Decimal128("0.5"), -1.5]}}, {}, [NAN, -1.5, Decimal128("0.5"), 1]),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/in/
    ({"$in": [2, [1, 2, 3]]}, {}, True),
    ({"$in": ["abc", ["xyz", "abc"]]}, {}, True),
    ({"$in": ["xy", ["xyz", "abc"]]}, {}, False),
    ({"$in": [["a"], ["a"]]}, {}, False),
    ({"$in": [["a"], [["a"]]]}, {}, True),
    ({"$in": [Regex("^a"), ["a"]]}, {}, False),
    ({"$in": [Regex("^a"), [Regex("^a")]]}, {}, True),
    ({"$in": ["bananas", "$in_stock"]}, {"in_stock": ["apples", "bananas", "oranges"]}, True),
    ({"$in": ["bananas", "$in_stock"]}, {"in_stock": ["apples", "oranges"]}, False),
    # edge cases: BSON equality across numeric types, null versus missing
    ({"$in": [2.0, [1, 2]]}, {}, True),
    ({"$in": [Int64(2), [1, Decimal128("2.00")]]}, {}, True),
    ({"$in": [NAN, [NAN]]}, {}, True),
    ({"$in": [None, [None]]}, {}, True),
    ({"$in": ["$nosuch", [None]]}, {}, False),
    ({"$in": ["$nosuch", "$list"]}, {"list": [None]}, False),
    ({"$in": [True, [1]]}, {}, False),
    ({"$in": [{"a": 1, "b": 2}, [{"b": 2, "a": 1}]]}, {}, False),
    ({"$in": [{"a": 1.0}, "$list"]}, {"list": [{"a": 1}]}, True),
    ({"$in": [1, "$list"]}, {"list": [True, "1", [1]]}, False),
    ({"$in": [1, "$list"]}, {"list": [True, Decimal128("1.0")]}, True),
    ({"$in": [1.5, "$list"]}, {"list": [Int64(1), 1.5]}, True),
    ({"$in": [NAN, "$list"]}, {"list": [Decimal128("NaN")]}, True),
    ({"$in": ["a", "$list"]}, {"list": [["a"], "a"]}, True),
    ({"$in": ["a", "$list"]}, {"list": [["a"], Regex("a")]}, False),
    ({"$in": [True, "$list"]}, {"list": [1, True]}, True),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/indexOfArray/
    ({"$indexOfArray": [["a", "abc"], "a"]}, {}, 0),
    ({"$indexOfArray": [["a", "abc", "de", ["de"]], ["de"]]}, {}, 3),
    ({"$indexOfArray": [[1, 2], 5]}, {}, -1),
    ({"$indexOfArray": [[1, 2, 3], [1, 2]]}, {}, -1),
    ({"$indexOfArray": [[10, 9, 9, 8, 9], 9, 3]}, {}, 4),
    ({"$indexOfArray": [["a", "abc", "b"], "b", 0, 1]}, {}, -1),
    ({"$indexOfArray": [["a", "abc", "b"], "b", 1, 0]}, {}, -1),
    ({"$indexOfArray": [["a", "abc", "b"], "b", 20]}, {}, -1),
    ({"$indexOfArray": [[None, 1, 2], None]}, {}, 0),
    ({"$indexOfArray": [None, "foo"]}, {}, None),
    ({"$indexOfArray": ["$items", 2]}, {"items": ["one", "two", 2]}, 2),
    ({"$indexOfArray": ["$items", 2]}, {"items": [1, 2, 3]}, 1),
    ({"$indexOfArray": ["$items", 2]}, {"items": [2, 5, 6, 2]}, 0),
    ({"$indexOfArray": ["$items", 2]}, {"items": [[2], 2]}, 1),
    # edge cases
    ({"$indexOfArray": ["$nosuch", 1]}, {}, None),
    ({"$indexOfArray": [[1, 2], 2.0]}, {}, 1),
    ({"$indexOfArray": [[1, 2], 2, 1.0, Int64(5)]}, {}, 1),
    ({"$indexOfArray": [[None], "$nosuch"]}, {}, -1),
    ({"$indexOfArray": [["a", "b", "a"], "a", 1]}, {}, 2),
    ({"$indexOfArray": [[True, 1.0], 1]}, {}, 1),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/isArray/
    ({"$isArray": ["hello"]}, {}, False),
    ({"$isArray": [["hello", "world"]]}, {}, True),
    ({"$isArray": "$nosuch"}, {}, False),
    ({"$isArray": "$a"}, {"a": []}, True),
    ({"$isArray": [None]}, {}, False),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/map/
    ({"$map": {"input": "$quizzes", "as": "grade", "in": {"$add": ["$$grade", 2]}}}, {"quizzes": [5, 6, 7]},
     [7, 8, 9]),
    ({"$map": {"input": "$quizzes", "as": "grade", "in": {"$add": ["$$grade", 2]}}}, {"quizzes": []}, []),
    ({"$map": {"input": "$quizzes", "in": {"$multiply": ["$$this", 10]}}}, {"quizzes": [1, 2]}, [10, 20]),
    ({"$map": {"input": "$sizes", "as": "s", "in": "$$s.w"}}, {"sizes": [{"w": 1}, {"h": 2}]}, [1, None]),
    # edge cases
    ({"$map": {"input": "$nosuch", "in": 1}}, {}, None),
    ({"$map": {"input": None, "in": 1}}, {}, None),
    ({"$map": {"input": [1, 2], "as": "x", "in": {"$map": {"input": [10, 20], "as": "y", "in": {"$add": ["$$x", "$$y"]}}}}},
     {}, [[11, 21], [12, 22]]),
    ({"$map": {"input": [1], "in": "$$ROOT"}}, {"a": 1}, [{"a": 1}]),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/range/
    ({"$range": [0, 10, 2]}, {}, [0, 2, 4, 6, 8]),
    ({"$range": [10, 0, -2]}, {}, [10, 8, 6, 4, 2]),
    ({"$range": [0, 10, -2]}, {}, []),
    ({"$range": [0, 5]}, {}, [0, 1, 2, 3, 4]),
    ({"$range": [0, "$distance", 25]}, {"distance": 80}, [0, 25, 50, 75]),
    # edge cases
    ({"$range": [5, 5]}, {}, []),
    ({"$range": [0.0, Int64(3), Decimal128("1")]}, {}, [0, 1, 2]),
    ({"$range": [-2, 2]}, {}, [-2, -1, 0, 1]),
    ({"$range": [2147483646, 2147483647]}, {}, [2147483646]),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/reduce/
    ({"$reduce": {"input": ["a", "b", "c"], "initialValue": "", "in": {"$concat": ["$$value", "$$this"]}}}, {}, "abc"),
    ({"$reduce": {"input": [1, 2, 3, 4], "initialValue": {"sum": 5, "product": 2},
                  "in": {"sum": {"$add": ["$$value.sum", "$$this"]},
                         "product": {"$multiply": ["$$value.product", "$$this"]}}}},
     {}, {"sum": 15, "product": 48}),
    ({"$reduce": {"input": [[3, 4], [5, 6]], "initialValue": [1, 2], "in": {"$concatArrays": ["$$value", "$$this"]}}},
     {}, [1, 2, 3, 4, 5, 6]),
    ({"$reduce": {"input": "$probabilityArr", "initialValue": 1, "in": {"$multiply": ["$$value", "$$this"]}}},
     {"probabilityArr": [0.5, 0.5]}, 0.25),
    # edge cases
    ({"$reduce": {"input": [], "initialValue": "$nosuch", "in": 1}}, {}, MISSING),
    ({"$reduce": {"input": "$nosuch", "initialValue": 0, "in": 1}}, {}, None),
    ({"$reduce": {"input": [1, 2], "initialValue": 0, "in": {"$add": ["$$value", "$$this", "$k"]}}}, {"k": 10}, 23),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/reverseArray/
    ({"$reverseArray": {"$literal": [1, 2, 3]}}, {}, [3, 2, 1]),
    ({"$reverseArray": {"$slice": [[1, 2, 3, 4, 5], 1, 2]}}, {}, [3, 2]),
    ({"$reverseArray": {"$literal": []}}, {}, []),
    ({"$reverseArray": {"$literal": [[1, 2, 3], [4, 5, 6]]}}, {}, [[4, 5, 6], [1, 2, 3]]),
    ({"$reverseArray": "$favorites"}, {"favorites": ["chocolate", "cake"]}, ["cake", "chocolate"]),
    ({"$reverseArray": "$favorites"}, {}, None),
    ({"$reverseArray": None}, {}, None),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/size/
    ({"$size": "$colors"}, {"colors": ["blue", "black", "red"]}, 3),
    ({"$size": "$colors"}, {"colors": []}, 0),
    ({"$size": [[1, [2, 3]]]}, {}, 2),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/slice/
    ({"$slice": [[1, 2, 3], 1, 1]}, {}, [2]),
    ({"$slice": [[1, 2, 3], -2]}, {}, [2, 3]),
    ({"$slice": [[1, 2, 3], 15, 2]}, {}, []),
    ({"$slice": [[1, 2, 3], -15, 2]}, {}, [1, 2]),
    ({"$slice": ["$favorites", 3]}, {"favorites": ["chocolate", "cake", "butter", "apples"]},
     ["chocolate", "cake", "butter"]),
    # edge cases
    ({"$slice": [[1, 2, 3], 0]}, {}, []),
    ({"$slice": [[1, 2, 3], -15]}, {}, [1, 2, 3]),
    ({"$slice": [[1, 2, 3], 15]}, {}, [1, 2, 3]),
    ({"$slice": [[1, 2, 3], -1, 5]}, {}, [3]),
    ({"$slice": [[1, 2, 3], 2.0, Int64(1)]}, {}, [3]),
    ({"$slice": ["$nosuch", 1]}, {}, None),
    ({"$slice": [[1], None]}, {}, None),
    ({"$slice": [[1], 0, None]}, {}, None),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/sortArray/
    ({"$sortArray": {"input": "$team", "sortBy": {"name": 1}}}, {"team": TEAM}, [TEAM[2], TEAM[1], TEAM[0]]),
    ({"$sortArray": {"input": "$team", "sortBy": {"address.city": -1}}}, {"team": TEAM}, [TEAM[1], TEAM[2], TEAM[0]]),
    ({"$sortArray": {"input": "$team", "sortBy": {"age": -1, "name": 1}}}, {"team": TEAM}, [TEAM[2], TEAM[1], TEAM[0]]),
    ({"$sortArray": {"input": [1, 4, 1, 6, 12, 5], "sortBy": 1}}, {}, [1, 1, 4, 5, 6, 12]),
    ({"$sortArray": {"input": [1, 4, 1, 6, 12, 5], "sortBy": -1}}, {}, [12, 6, 5, 4, 1, 1]),
    ({"$sortArray": {"input": [20, 4, {"a": "Free"}, 6, 21, 5, "Gratis", {"a": None}, {"a": {"sale": True, "price": 19}},
                               Decimal128("10.23"), {"a": "On sale"}], "sortBy": 1}},
     {}, [4, 5, 6, Decimal128("10.23"), 20, 21, "Gratis", {"a": None}, {"a": "Free"}, {"a": "On sale"},
          {"a": {"sale": True, "price": 19}}]),
    # edge cases
    ({"$sortArray": {"input": "$nosuch", "sortBy": 1}}, {}, None),
    ({"$sortArray": {"input": [], "sortBy": {"a": 1}}}, {}, []),
    ({"$sortArray": {"input": [2.5, NAN, 1, -Int64(3)], "sortBy": 1}}, {}, [NAN, -Int64(3), 1, 2.5]),
    ({"$sortArray": {"input": ["b", "a", "B"], "sortBy": 1}}, {}, ["B", "a", "b"]),
    ({"$sortArray": {"input": [{"a": 2}, 7, {"b": 1}, {"a": 1}], "sortBy": {"a": 1}}}, {},
     [7, {"b": 1}, {"a": 1}, {"a": 2}]),
    ({"$sortArray": {"input": [{"a": 1, "b": 2}, {"a": 1, "b": 1}], "sortBy": {"a": 1}}}, {},
     [{"a": 1, "b": 2}, {"a": 1, "b": 1}]),
    ({"$sortArray": {"input": [{"a": [3, 1]}, {"a": [2]}], "sortBy": {"a": 1}}}, {}, [{"a": [2]}, {"a": [3, 1]}]),
    ({"$sortArray": {"input": [{"a": "x"}, {"a": 2}, {}, {"a": NAN}], "sortBy": {"a": -1}}}, {},
     [{"a": "x"}, {"a": 2}, {"a": NAN}, {}]),
    ({"$sortArray": {"input": [{"a": 2, "i": 0}, {"a": 1}, {"a": 2, "i": 1}], "sortBy": {"a": -1}}}, {},
     [{"a": 2, "i": 0}, {"a": 2, "i": 1}, {"a": 1}]),
    ({"$sortArray": {"input": [{"a": {"b": [5, 1]}}, {"a": {"b": 3}}], "sortBy": {"a.b.1": 1}}}, {},
     [{"a": {"b": 3}}, {"a": {"b": [5, 1]}}]),
    ({"$sortArray": {"input": [{"a": [9, 0]}, {"a": [5, 7]}], "sortBy": {"a.01": 1, "a.1": -1}}}, {},
     [{"a": [5, 7]}, {"a": [9, 0]}]),
    ({"$sortArray": {"input": [{"a": [{"b": 2}]}, {"a": [{"b": 1}]}], "sortBy": {"a.b": 1}}}, {},
     [{"a": [{"b": 2}]}, {"a": [{"b": 1}]}]),
    # arrayIndexAs (MongoDB 8.3): the element's index as a variable
    ({"$map": {"input": ["a", "b"], "arrayIndexAs": "i", "in": ["$$i", "$$this"]}}, {}, [[0, "a"], [1, "b"]]),
    ({"$filter": {"input": [5, 6, 7, 8], "arrayIndexAs": "i", "cond": {"$in": ["$$i", [0, 2]]}}}, {}, [5, 7]),
    ({"$reduce": {"input": [5, 6, 7], "initialValue": 0, "arrayIndexAs": "i",
                  "in": {"$add": ["$$value", {"$multiply": ["$$i", "$$this"]}]}}}, {}, 20),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/zip/
    ({"$zip": {"inputs": [["a"], ["b"], ["c"]]}}, {}, [["a", "b", "c"]]),
    ({"$zip": {"inputs": [["a"], ["b", "c"]]}}, {}, [["a", "b"]]),
    ({"$zip": {"inputs": [[1], [2, 3]], "useLongestLength": True}}, {}, [[1, 2], [None, 3]]),
    ({"$zip": {"inputs": [[1], [2, 3], [4]], "useLongestLength": True, "defaults": ["a", "b", "c"]}}, {},
     [[1, 2, 4], ["a", 3, "c"]]),
    ({"$zip": {"inputs": ["$matrix.0", "$matrix.1"]}}, {"matrix": {"0": [1, 2], "1": [3, 4]}}, [[1, 3], [2, 4]]),
    # edge cases
    ({"$zip": {"inputs": [[1, 2], "$nosuch"]}}, {}, None),
    ({"$zip": {"inputs": [[], [1]]}}, {}, []),
    ({"$zip": {"inputs": [[1, 2], [3, 4]], "useLongestLength": True, "defaults": [0, 0]}}, {}, [[1, 3], [2, 4]]),
    ({"$zip": {"inputs": [[1], []], "useLongestLength": True, "defaults": ["$nosuch", "$d"]}}, {"d": 9}, [[1, 9]]),
]  # fmt: skip

RUNTIME_ERRORS = [
    ({"$arrayElemAt": [1, 0]}, {}, "$arrayElemAt's first argument must be an array, but is int"),
    ({"$arrayElemAt": [[1], "0"]}, {}, "$arrayElemAt's second argument must be a numeric value, but is string"),
    ({"$arrayElemAt": [[1], 1.5]}, {}, "$arrayElemAt's second argument must be representable as a 32-bit integer: 1.5"),
    ({"$arrayElemAt": [[1], 2147483648]}, {}, "$arrayElemAt's second argument must be representable as a 32-bit integer: 2.14748e+09"),
    ({"$arrayElemAt": [[1], NAN]}, {}, "$arrayElemAt's second argument must be representable as a 32-bit integer: nan"),
    ({"$first": "$a"}, {"a": "x"}, "$first's argument must be an array, but is string"),
    ({"$last": "$a"}, {"a": {"b": 1}}, "$last's argument must be an array, but is object"),
    ({"$concatArrays": [[1], 1]}, {}, "$concatArrays only supports arrays, not int"),
    ({"$filter": {"input": "$a", "cond": True}}, {"a": "x"}, "input to $filter must be an array not string"),
    ({"$filter": {"input": [1], "cond": True, "limit": 0}}, {}, "$filter: limit must be greater than 0: 0"),
    ({"$filter": {"input": [1], "cond": True, "limit": -1}}, {}, "$filter: limit must be greater than 0: -1"),
    ({"$filter": {"input": [1], "cond": True, "limit": 1.5}}, {},
     "$filter: limit must be represented as a 32-bit integral value: 1.5"),
    ({"$filter": {"input": [1], "cond": True, "limit": "a"}}, {},
     '$filter: limit must be represented as a 32-bit integral value: "a"'),
    ({"$firstN": {"n": 0, "input": [1]}}, {}, "'n' must be greater than 0, found 0"),
    ({"$lastN": {"n": -2, "input": [1]}}, {}, "'n' must be greater than 0, found -2"),
    ({"$firstN": {"n": 1.5, "input": [1]}}, {}, "Value for 'n' must be of integral type, but found 1.5"),
    ({"$maxN": {"n": "a", "input": [1]}}, {}, "Value for 'n' must be of integral type, but found \"a\""),
    ({"$minN": {"n": None, "input": [1]}}, {}, "Value for 'n' must be of integral type, but found null"),
    ({"$firstN": {"n": 1, "input": "$nosuch"}}, {}, "Input must be an array"),
    ({"$maxN": {"n": 1, "input": 5}}, {}, "Input must be an array"),
    ({"$in": [1, 2]}, {}, "$in requires an array as a second argument, found: int"),
    ({"$in": [1, "$nosuch"]}, {}, "$in requires an array as a second argument, found: missing"),
    ({"$in": [1, None]}, {}, "$in requires an array as a second argument, found: null"),
    ({"$indexOfArray": ["x", 1]}, {}, "$indexOfArray requires an array as a first argument, found: string"),
    ({"$indexOfArray": [[1], 1, -1]}, {}, "$indexOfArray requires a nonnegative starting index, found: -1"),
    ({"$indexOfArray": [[1], 1, 0, -3]}, {}, "$indexOfArray requires a nonnegative ending index, found: -3"),
    ({"$indexOfArray": [[1], 1, 1.5]}, {},
     "$indexOfArrayrequires an integral starting index, found a value of type: double, with value: 1.5"),
    ({"$indexOfArray": [[1], 1, "a"]}, {},
     '$indexOfArrayrequires an integral starting index, found a value of type: string, with value: "a"'),
    ({"$map": {"input": 3, "in": 1}}, {}, "input to $map must be an array not int"),
    ({"$range": ["a", 1]}, {}, "$range requires a numeric starting value, found value of type: string"),
    ({"$range": [0, "b"]}, {}, "$range requires a numeric ending value, found value of type: string"),
    ({"$range": [0, 1, "c"]}, {}, "$range requires a numeric step value, found value of type:string"),
    ({"$range": [0, 1, 0]}, {}, "$range requires a non-zero step value"),
    ({"$range": [0.5, 1]}, {}, "$range requires a starting value that can be represented as a 32-bit integer, found value: 0.5"),
    ({"$range": [0, 1.5]}, {}, "$range requires an ending value that can be represented as a 32-bit integer, found value: 1.5"),
    ({"$range": [0, 10, 0.5]}, {}, "$range requires a step value that can be represented as a 32-bit integer, found value: 0.5"),
    ({"$range": ["$nosuch", 1]}, {}, "$range requires a numeric starting value, found value of type: missing"),
    ({"$range": [None, 1]}, {}, "$range requires a numeric starting value, found value of type: null"),
    ({"$range": [0, 2147483647]}, {},
     "$range would use too much memory (34359738392 bytes) and cannot spill to disk. Memory limit: 104857600 bytes"),
    ({"$reduce": {"input": "abc", "initialValue": 0, "in": 1}}, {}, "$reduce requires that 'input' be an array, found: \"abc\""),
    ({"$reverseArray": 1}, {}, "The argument to $reverseArray must be an array, but was of type: int"),
    ({"$size": "$nosuch"}, {}, "The argument to $size must be an array, but was of type: missing"),
    ({"$size": None}, {}, "The argument to $size must be an array, but was of type: null"),
    ({"$size": "$a"}, {"a": {"b": [1]}}, "The argument to $size must be an array, but was of type: object"),
    ({"$slice": ["a", 1]}, {}, "First argument to $slice must be an array, but is of type: string"),
    ({"$slice": [[1], "1"]}, {}, "Second argument to $slice must be a numeric value, but is of type: string"),
    ({"$slice": [[1], 0.5]}, {}, "Second argument to $slice can't be represented as a 32-bit integer: 0.5"),
    ({"$slice": [[1], 0, "1"]}, {}, "Third argument to $slice must be numeric, but is of type: string"),
    ({"$slice": [[1], 0, 1.5]}, {}, "Third argument to $slice can't be represented as a 32-bit integer: 1.5"),
    ({"$slice": [[1], 0, 0]}, {}, "Third argument to $slice must be positive: 0"),
    ({"$slice": [[1], 0, -1]}, {}, "Third argument to $slice must be positive: -1"),
    ({"$sortArray": {"input": "a", "sortBy": 1}}, {}, "The input argument to $sortArray must be an array, but was of type: string"),
    ({"$zip": {"inputs": [[1], "$a"]}}, {"a": 3}, "$zip found a non-array expression in input: 3"),
    ({"$zip": {"inputs": [[1], "$a"]}}, {"a": "x"}, '$zip found a non-array expression in input: "x"'),
]  # fmt: skip

SPEC_ERRORS = [
    ({"$arrayElemAt": [[1]]}, "takes exactly 2 arguments"),
    ({"$first": [[1], [2]]}, "takes exactly 1 argument"),
    ({"$first": [1, 2, 3]}, "takes exactly 1 argument"),
    ({"$isArray": [1, 2]}, "takes exactly 1 argument"),
    ({"$in": [1]}, "takes exactly 2 arguments"),
    ({"$indexOfArray": [[1]]}, "takes between 2 and 4 arguments"),
    ({"$slice": [[1], 1, 2, 3]}, "takes between 2 and 3 arguments"),
    ({"$range": [1]}, "takes between 2 and 3 arguments"),
    ({"$filter": [1]}, "$filter only supports an object as its argument"),
    ({"$filter": {"input": [1]}}, "Missing 'cond' parameter to $filter"),
    ({"$filter": {"cond": True}}, "Missing 'input' parameter to $filter"),
    ({"$filter": {"input": [], "cond": True, "bogus": 1}}, "Unrecognized parameter to $filter: bogus"),
    ({"$filter": {"input": [], "as": "Bad", "cond": True}}, "invalid variable name"),
    ({"$filter": {"input": [], "as": "x", "cond": "$$y"}}, "use of undefined variable: y"),
    ({"$map": "x"}, "$map only supports an object as its argument"),
    ({"$map": {"input": []}}, "Missing 'in' parameter to $map"),
    ({"$map": {"in": 1}}, "Missing 'input' parameter to $map"),
    ({"$map": {"input": [], "in": 1, "bogus": 1}}, "Unrecognized parameter to $map: bogus"),
    ({"$map": {"input": [], "as": "", "in": 1}}, "invalid variable name"),
    ({"$map": {"input": [], "as": "x", "in": "$$this"}}, "use of undefined variable: this"),
    ({"$reduce": []}, "$reduce requires an object as an argument, found: array"),
    ({"$reduce": {"input": [], "in": 1}}, "$reduce requires 'initialValue' to be specified"),
    ({"$reduce": {"input": [], "initialValue": 0}}, "$reduce requires 'in' to be specified"),
    ({"$reduce": {"initialValue": 0, "in": 1}}, "$reduce requires 'input' to be specified"),
    ({"$reduce": {"input": [], "initialValue": 0, "in": 1, "as": "x"}}, "$reduce found an unknown argument: as"),
    ({"$reduce": {"input": [], "initialValue": "$$this", "in": 1}}, "use of undefined variable: this"),
    ({"$firstN": [1]}, "specification must be an object; found [1]"),
    ({"$lastN": {"input": [1]}}, "Missing value for 'n'"),
    ({"$maxN": {"n": 1}}, "Missing value for 'input'"),
    ({"$minN": {"n": 1, "input": [], "x": 1}}, "Unknown argument for 'n' operator: x"),
    ({"$sortArray": [1]}, "$sortArray requires an object as an argument, found: array"),
    ({"$sortArray": {"input": []}}, "$sortArray requires 'sortBy' to be specified"),
    ({"$sortArray": {"sortBy": 1}}, "$sortArray requires 'input' to be specified"),
    ({"$sortArray": {"input": [], "sortBy": 1, "x": 1}}, "$sortArray found an unknown argument: x"),
    ({"$sortArray": {"input": [], "sortBy": 2}}, "The $sort element value must be either 1 or -1"),
    ({"$sortArray": {"input": [], "sortBy": {"a": 0}}}, "The $sort element value must be either 1 or -1"),
    ({"$sortArray": {"input": [], "sortBy": {}}}, "non-empty sortBy"),
    ({"$zip": [1]}, "$zip only supports an object as an argument, found array"),
    ({"$zip": {}}, "$zip requires at least one input array"),
    ({"$zip": {"inputs": "x"}}, "inputs must be an array of expressions, found string"),
    ({"$zip": {"inputs": [[1]], "useLongestLength": 1}}, "useLongestLength must be a bool, found object"),
    ({"$zip": {"inputs": [[1]], "defaults": [1]}}, "cannot specify defaults unless useLongestLength is true"),
    ({"$zip": {"inputs": [[1]], "useLongestLength": True, "defaults": [1, 2]}}, "defaults and inputs must have the same length"),
    ({"$zip": {"inputs": [[1]], "useLongestLength": True, "defaults": 1}}, "defaults must be an array of expressions, found int"),
    ({"$zip": {"inputs": [[1]], "bogus": 1}}, "$zip found an unknown argument: bogus"),
    ({"$map": {"input": [], "arrayIndexAs": "I", "in": 1}}, "invalid variable name"),
    ({"$filter": {"input": [], "cond": "$$i"}}, "use of undefined variable: i"),
]  # fmt: skip


@pytest.mark.parametrize(("expr", "doc", "expected"), ROWS)
def test_array_operator(expr, doc, expected):
    assert_same(evaluate(expr, doc), expected)


@pytest.mark.parametrize(("expr", "doc", "message"), RUNTIME_ERRORS)
def test_array_operator_fails_the_document(expr, doc, message):
    with pytest.raises(ExpressionError) as caught:
        evaluate(expr, doc)
    assert str(caught.value) == message


@pytest.mark.parametrize(("expr", "fragment"), SPEC_ERRORS)
def test_array_operator_rejects_the_spec(expr, fragment):
    with pytest.raises(SpecError) as caught:
        evaluate(expr, {})
    assert fragment in caught.value.message


def test_map_does_not_leak_its_variable_into_the_caller():
    outer = {"$let": {"vars": {"x": 1}, "in": [{"$map": {"input": [5], "as": "x", "in": "$$x"}}, "$$x"]}}
    assert_same(evaluate(outer), [[5], 1])


def test_constant_in_list_answers_like_the_dynamic_one():
    doc = {"v": 2.0, "list": [1, 2, 3]}
    assert evaluate({"$in": ["$v", [1, 2, 3]]}, doc) is evaluate({"$in": ["$v", "$list"]}, doc) is True


@pytest.mark.parametrize(
    ("value", "expected"),
    [(5, 5), (Int64(7), 7), (3.0, 3), (3.5, None), (NAN, None), (2**31, None), (-(2**31), -(2**31)),
     (Decimal128("4"), 4), (Decimal128("4.1"), None), (Decimal128("Infinity"), None), (True, None), ("1", None)],
)  # fmt: skip
def test_int32_of_follows_mongods_integral_rule(value, expected):
    assert int32_of(value) == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [("a", '"a"'), (1.5, "1.5"), (1e20, "1e+20"), (None, "null"), (True, "true"), ([1, "b"], '[1, "b"]'),
     ({"a": [1]}, "{a: [1]}"), (MISSING, "MISSING")],
)  # fmt: skip
def test_describe_prints_values_as_mongod_messages_do(value, text):
    assert describe(value) == text
