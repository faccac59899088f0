"""String expression operators: MongoDB's documented examples plus edge cases, compared exactly.

https://www.mongodb.com/docs/manual/reference/operator/aggregation/#string-expression-operators
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from bson import Decimal128, Int64, Regex, Timestamp

from expression_cases import MISSING, assert_same, evaluate
from translator.errors import ExpressionError, SpecError
from translator._regex import pcre_to_python
from translator.expressions.string import DEFAULT_TRIM_CHARS

DECOMPOSED_E_ACUTE = "e\u0301"  # "e" + combining acute accent
DATE = datetime(2024, 3, 5, 7, 8, 9, 123000, tzinfo=timezone.utc)

# https://www.mongodb.com/docs/manual/reference/operator/aggregation/concat/
CONCAT = [
    ({"$concat": ["$item", " - ", "$description"]}, {"item": "ABC1", "description": "product 1"}, "ABC1 - product 1"),
    ({"$concat": ["$item", " - ", "$description"]}, {"item": "XYZ1", "description": None}, None),
    ({"$concat": ["$item", " - ", "$description"]}, {"item": "XYZ1"}, None),
    ({"$concat": []}, {}, ""),
    ({"$concat": "$a"}, {"a": "solo"}, "solo"),
    ({"$concat": ["寿", "司"]}, {}, "寿司"),
]

# https://www.mongodb.com/docs/manual/reference/operator/aggregation/indexOfBytes/
INDEX_OF_BYTES = [
    ({"$indexOfBytes": ["cafeteria", "e"]}, {}, 3),
    ({"$indexOfBytes": ["cafétéria", "é"]}, {}, 3),
    ({"$indexOfBytes": ["cafétéria", "e"]}, {}, -1),
    ({"$indexOfBytes": ["cafétéria", "t"]}, {}, 5),
    ({"$indexOfBytes": ["foo.bar.fi", ".", 5]}, {}, 7),
    ({"$indexOfBytes": ["vanilla", "ll", 0, 2]}, {}, -1),
    ({"$indexOfBytes": ["vanilla", "ll", 12]}, {}, -1),
    ({"$indexOfBytes": ["vanilla", "ll", 5, 2]}, {}, -1),
    ({"$indexOfBytes": ["vanilla", "nilla", 3]}, {}, -1),
    ({"$indexOfBytes": [None, "foo"]}, {}, None),
    # edge cases
    ({"$indexOfBytes": ["$missing", "foo"]}, {}, None),
    ({"$indexOfBytes": ["vanilla", "ll", 2.0, Int64(6)]}, {}, 4),
    ({"$indexOfBytes": ["vanilla", "ll", Decimal128("1"), 100]}, {}, 4),
    ({"$indexOfBytes": ["vanilla", "ll", 0, 5]}, {}, -1),  # the whole token must fit before the end
    ({"$indexOfBytes": ["abc", ""]}, {}, 0),
    ({"$indexOfBytes": ["abc", "", 3]}, {}, 3),
    ({"$indexOfBytes": ["abc", "", 4]}, {}, -1),
    ({"$indexOfBytes": ["", ""]}, {}, 0),
    ({"$indexOfBytes": ["寿司sushi", "s"]}, {}, 6),
    ({"$indexOfBytes": ["寿司sushi", "司"]}, {}, 3),
    ({"$indexOfBytes": ["寿司sushi", "s", 1]}, {}, 6),  # a start inside a code point is allowed
]

# https://www.mongodb.com/docs/manual/reference/operator/aggregation/indexOfCP/
INDEX_OF_CP = [
    ({"$indexOfCP": ["cafeteria", "e"]}, {}, 3),
    ({"$indexOfCP": ["cafétéria", "é"]}, {}, 3),
    ({"$indexOfCP": ["cafétéria", "e"]}, {}, -1),
    ({"$indexOfCP": ["cafétéria", "t"]}, {}, 4),
    ({"$indexOfCP": ["foo.bar.fi", ".", 5]}, {}, 7),
    ({"$indexOfCP": ["vanilla", "ll", 0, 2]}, {}, -1),
    ({"$indexOfCP": ["vanilla", "ll", 12]}, {}, -1),
    ({"$indexOfCP": ["vanilla", "ll", 5, 2]}, {}, -1),
    ({"$indexOfCP": ["vanilla", "nilla", 3]}, {}, -1),
    ({"$indexOfCP": [None, "foo"]}, {}, None),
    # edge cases
    ({"$indexOfCP": ["$missing", "foo"]}, {}, None),
    ({"$indexOfCP": ["寿司sushi", "s"]}, {}, 2),
    ({"$indexOfCP": ["寿司sushi", "s", 3]}, {}, 4),
    # mongod bounds the match's start only: "cde" starts at 2 < 3 although it ends past 3.
    ({"$indexOfCP": ["abcdef", "cde", 0, 3]}, {}, 2),
    ({"$indexOfCP": ["abc", ""]}, {}, 0),
    ({"$indexOfCP": ["abc", "", 2]}, {}, 2),
    ({"$indexOfCP": ["abc", "", 3]}, {}, -1),  # unlike $indexOfBytes
    ({"$indexOfCP": ["", ""]}, {}, 0),
    ({"$indexOfCP": ["", "", 0, 0]}, {}, 0),
    ({"$indexOfCP": ["vanilla", "ll", 2.0]}, {}, 4),
    ({"$indexOfCP": ["vanilla", "ll", 0, 5]}, {}, 4),  # contrast with $indexOfBytes
]

# https://www.mongodb.com/docs/manual/reference/operator/aggregation/strLenBytes/
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/strLenCP/
STR_LEN = [
    ({"$strLenBytes": "$name"}, {"name": "apple"}, 5),
    ({"$strLenBytes": "$name"}, {"name": "éclair"}, 7),
    ({"$strLenBytes": "$name"}, {"name": "jalapeño"}, 9),
    ({"$strLenBytes": "$name"}, {"name": "寿司"}, 6),
    ({"$strLenBytes": ""}, {}, 0),
    ({"$strLenBytes": "\U0001f600"}, {}, 4),
    ({"$strLenCP": "$name"}, {"name": "apple"}, 5),
    ({"$strLenCP": "$name"}, {"name": "éclair"}, 6),
    ({"$strLenCP": "$name"}, {"name": "jalapeño"}, 8),
    ({"$strLenCP": "$name"}, {"name": "寿司"}, 2),
    ({"$strLenCP": ["\U0001f600"]}, {}, 1),
    ({"$strLenCP": DECOMPOSED_E_ACUTE}, {}, 2),
]

# https://www.mongodb.com/docs/manual/reference/operator/aggregation/toLower/
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/toUpper/
CASE = [
    ({"$toLower": "$item"}, {"item": "ABC1"}, "abc1"),
    ({"$toLower": "$description"}, {"description": "PRODUCT 1"}, "product 1"),
    ({"$toLower": "$description"}, {"description": None}, ""),
    ({"$toUpper": "$item"}, {"item": "abc1"}, "ABC1"),
    ({"$toUpper": "$description"}, {"description": "Product 2"}, "PRODUCT 2"),
    ({"$toUpper": "$description"}, {"description": None}, ""),
    ({"$toUpper": "$missing"}, {}, ""),
    ({"$toUpper": ["éclair straße"]}, {}, "éCLAIR STRAßE"),  # ASCII letters only, as mongod
    ({"$toLower": "ÉCLAIR"}, {}, "Éclair"),
    ({"$toLower": 5}, {}, "5"),
    ({"$toLower": Int64(2**40)}, {}, "1099511627776"),
    ({"$toLower": 1.5}, {}, "1.5"),
    ({"$toLower": 1234567.0}, {}, "1.23457e+06"),  # C's %g
    ({"$toUpper": float("nan")}, {}, "NAN"),
    ({"$toUpper": float("-inf")}, {}, "-INF"),
    ({"$toLower": Decimal128("1.50")}, {}, "1.50"),
    ({"$toUpper": Decimal128("NaN")}, {}, "NAN"),
    ({"$toLower": DATE}, {}, "2024-03-05t07:08:09.123z"),
    ({"$toUpper": DATE}, {}, "2024-03-05T07:08:09.123Z"),
    ({"$toUpper": Timestamp(1700000000, 5)}, {}, "NOV 14 22:13:20:5"),
]

# https://www.mongodb.com/docs/manual/reference/operator/aggregation/strcasecmp/
STRCASECMP = [
    ({"$strcasecmp": ["$quarter", "13q4"]}, {"quarter": "13Q1"}, -1),
    ({"$strcasecmp": ["$quarter", "13q4"]}, {"quarter": "13Q4"}, 0),
    ({"$strcasecmp": ["$quarter", "13q4"]}, {"quarter": "14Q2"}, 1),
    ({"$strcasecmp": ["abc", "ABC"]}, {}, 0),
    ({"$strcasecmp": ["é", "É"]}, {}, 1),  # non-ASCII letters are not folded
    ({"$strcasecmp": [None, ""]}, {}, 0),
    ({"$strcasecmp": ["$missing", None]}, {}, 0),
    ({"$strcasecmp": [None, "a"]}, {}, -1),
    ({"$strcasecmp": [5, "5"]}, {}, 0),
    ({"$strcasecmp": [1.0, "1"]}, {}, 0),
    ({"$strcasecmp": ["a", "B"]}, {}, -1),
    ({"$strcasecmp": ["_", "a"]}, {}, 1),  # upper-cased "A" (0x41) sorts before "_" (0x5F)
    ({"$strcasecmp": ["z", "\U0001f600"]}, {}, -1),
]

# https://www.mongodb.com/docs/manual/reference/operator/aggregation/substrBytes/
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/substr/
FOODS = ["apple", "banana", "éclair", "hamburger", "jalapeño", "pizza", "tacos", "寿司sushi"]
SUBSTR_BYTES = [
    ({"$substrBytes": ["$quarter", 0, 2]}, {"quarter": "13Q1"}, "13"),
    ({"$substrBytes": ["$quarter", 2, -1]}, {"quarter": "13Q1"}, "Q1"),
    *[
        ({"$substrBytes": ["$name", 0, 3]}, {"name": name}, code)
        for name, code in zip(FOODS, ["app", "ban", "éc", "ham", "jal", "piz", "tac", "寿"])
    ],
    ({"$substr": ["$quarter", 0, 2]}, {"quarter": "13Q1"}, "13"),
    ({"$substr": ["$quarter", 2, -1]}, {"quarter": "13Q1"}, "Q1"),
    # edge cases
    ({"$substrBytes": [None, 0, 2]}, {}, ""),
    ({"$substrBytes": ["$missing", 0, 2]}, {}, ""),
    ({"$substrBytes": ["abc", 5, 2]}, {}, ""),
    ({"$substrBytes": ["abc", 1, 100]}, {}, "bc"),
    ({"$substrBytes": ["abc", 1.9, 1.9]}, {}, "b"),  # doubles truncate
    ({"$substrBytes": ["abc", Int64(1), Decimal128("1")]}, {}, "b"),
    ({"$substrBytes": [12345, 1, 3]}, {}, "234"),
    ({"$substrBytes": [2.5, 0, 2]}, {}, "2."),
    ({"$substrBytes": [DATE, 0, 10]}, {}, "2024-03-05"),
    ({"$substrBytes": ["寿司", 3, 3]}, {}, "司"),
    ({"$substrBytes": ["寿司", 3, -1]}, {}, "司"),
    ({"$substrBytes": ["寿司", 6, 1]}, {}, ""),
    ({"$substr": ["$s", "$i", "$n"]}, {"s": "hello", "i": 1, "n": 3}, "ell"),
]

# https://www.mongodb.com/docs/manual/reference/operator/aggregation/substrCP/
SUBSTR_CP = [
    ({"$substrCP": ["$quarter", 0, 2]}, {"quarter": "13Q1"}, "13"),
    (
        {"$substrCP": ["$quarter", 2, {"$subtract": [{"$strLenCP": "$quarter"}, 2]}]},
        {"quarter": "13Q1"},
        "Q1",
    ),
    *[
        ({"$substrCP": ["$name", 0, 3]}, {"name": name}, code)
        for name, code in zip(FOODS, ["app", "ban", "écl", "ham", "jal", "piz", "tac", "寿司s"])
    ],
    # edge cases
    ({"$substrCP": [None, 0, 2]}, {}, ""),
    ({"$substrCP": ["$missing", 1, 1]}, {}, ""),
    ({"$substrCP": ["寿司sushi", 1, 2]}, {}, "司s"),
    ({"$substrCP": ["abc", 10, 2]}, {}, ""),
    ({"$substrCP": ["abc", 1, 0]}, {}, ""),
    ({"$substrCP": ["abc", 1.0, Decimal128("2")]}, {}, "bc"),
    ({"$substrCP": ["abc", Int64(0), 2]}, {}, "ab"),
    ({"$substrCP": [123, 0, 2]}, {}, "12"),
    ({"$substrCP": ["$s", "$i", "$n"]}, {"s": "éclair", "i": 1, "n": 2}, "cl"),
]

# https://www.mongodb.com/docs/manual/reference/operator/aggregation/trim/
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/ltrim/
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/rtrim/
TRIM = [
    ({"$trim": {"input": "$description"}}, {"description": " product 1 "}, "product 1"),
    (
        {"$trim": {"input": "$description"}},
        {"description": "product 2 \n The product is in stock.  \n\n  "},
        "product 2 \n The product is in stock.",
    ),
    ({"$trim": {"input": "$description"}}, {"description": None}, None),
    ({"$trim": {"input": " \n good  bye \t "}}, {}, "good  bye"),
    ({"$trim": {"input": " ggood bye ", "chars": " g"}}, {}, "ood bye"),
    ({"$trim": {"input": "    ggggoodbyeeeee", "chars": "ge"}}, {}, "    ggggoodby"),
    ({"$trim": {"input": "    ggggoodbyeeeee", "chars": " ge"}}, {}, "oodby"),
    ({"$ltrim": {"input": "    \n good  bye \t    "}}, {}, "good  bye \t    "),
    ({"$ltrim": {"input": " ggood bye ", "chars": " g"}}, {}, "ood bye "),
    ({"$ltrim": {"input": "    ggggoodbyeeeee", "chars": "ge"}}, {}, "    ggggoodbyeeeee"),
    ({"$rtrim": {"input": "    \n good  bye \t    "}}, {}, "    \n good  bye"),
    ({"$rtrim": {"input": " ggood bye ", "chars": " e"}}, {}, " ggood by"),
    ({"$rtrim": {"input": "    ggggoodbyeeeee    ", "chars": "e"}}, {}, "    ggggoodbyeeeee    "),
    # mongod's default set: NUL and U+00A0, U+1680, U+2000..U+200A count; U+3000, U+2028, U+0085 do not.
    ({"$trim": {"input": "\0\u00a0\u1680\u2000\u200a x \u2009\x0b\x0c\r"}}, {}, "x"),
    ({"$trim": {"input": "\u3000x\u3000"}}, {}, "\u3000x\u3000"),
    ({"$trim": {"input": "\u2028x\u0085"}}, {}, "\u2028x\u0085"),
    ({"$trim": {"input": "\u200bx"}}, {}, "\u200bx"),  # zero-width space is not whitespace here
    ({"$trim": {"input": "$missing"}}, {}, None),
    ({"$trim": {"input": "xx", "chars": None}}, {}, None),
    ({"$trim": {"input": "xx", "chars": "$missing"}}, {}, None),
    ({"$trim": {"input": None, "chars": "$c"}}, {"c": 5}, None),  # a null input wins over bad chars
    ({"$trim": {"input": "abc", "chars": ""}}, {}, "abc"),
    ({"$trim": {"input": "", "chars": "a"}}, {}, ""),
    ({"$trim": {"input": "寿司寿", "chars": "寿"}}, {}, "司"),
    ({"$trim": {"input": "$s", "chars": "$c"}}, {"s": "--a-", "c": "-"}, "a"),
    ({"$ltrim": {"input": "$s", "chars": "$c"}}, {"s": "--a-", "c": "-"}, "a-"),
    ({"$rtrim": {"input": "$s", "chars": "$c"}}, {"s": "--a-", "c": "-"}, "--a"),
    ({"$trim": {"input": DECOMPOSED_E_ACUTE + "x", "chars": "\u0301e"}}, {}, "x"),
]

# https://www.mongodb.com/docs/manual/reference/operator/aggregation/split/
SPLIT = [
    ({"$split": ["June-15-2013", "-"]}, {}, ["June", "15", "2013"]),
    ({"$split": ["banana split", "a"]}, {}, ["b", "n", "n", " split"]),
    ({"$split": ["Hello World", " "]}, {}, ["Hello", "World"]),
    ({"$split": ["astronomical", "astro"]}, {}, ["", "nomical"]),
    ({"$split": ["pea green boat", "owl"]}, {}, ["pea green boat"]),
    ({"$split": ["$city", ", "]}, {"city": "Berkeley, CA"}, ["Berkeley", "CA"]),
    # edge cases
    ({"$split": [None, "-"]}, {}, None),
    ({"$split": ["a-b", None]}, {}, None),
    ({"$split": ["$missing", "-"]}, {}, None),
    ({"$split": [5, None]}, {}, None),  # null wins over a wrong type
    ({"$split": ["", "-"]}, {}, [""]),
    ({"$split": ["a,b,", ","]}, {}, ["a", "b", ""]),
    ({"$split": ["$s", "$d"]}, {"s": "a::b", "d": "::"}, ["a", "b"]),
    ({"$split": ["寿司寿司", "司"]}, {}, ["寿", "寿", ""]),
    ({"$split": [DECOMPOSED_E_ACUTE, "e"]}, {}, ["", "\u0301"]),
    ({"$split": ["é", "e"]}, {}, ["é"]),
]

# Regex delimiters (MongoDB 8.2+), rows from mongod's own tests:
# https://github.com/mongodb/mongo/blob/master/src/mongo/db/exec/expression/evaluate_split_test.cpp
SPLIT_REGEX = [
    ({"$split": ["a", Regex("x")]}, {}, ["a"]),
    ({"$split": ["", Regex("x")]}, {}, [""]),
    ({"$split": ["x", Regex("x")]}, {}, ["", ""]),
    ({"$split": ["..xyz..", Regex("xyz")]}, {}, ["..", ".."]),
    ({"$split": ["xyyyz", Regex("y")]}, {}, ["x", "", "", "z"]),
    ({"$split": ["x", Regex("x*")]}, {}, ["", "", ""]),
    ({"$split": ["..xyz..", Regex("[.y]*")]}, {}, ["", "", "x", "", "z", "", ""]),
    ({"$split": ["..xyz", Regex("[zxy]*")]}, {}, ["", ".", ".", "", ""]),
    ({"$split": ["xyzyz", Regex("y*")]}, {}, ["", "x", "", "z", "", "z", ""]),
    ({"$split": ["x-y", Regex("(-)")]}, {}, ["x", "-", "y"]),
    ({"$split": ["xyz", Regex("(x*)")]}, {}, ["", "x", "", "", "y", "", "z", "", ""]),
    ({"$split": ["xyz", Regex("((x+)*)")]}, {}, ["", "x", "x", "", "", "", "y", "", "", "z", "", "", ""]),
    ({"$split": [DECOMPOSED_E_ACUTE, Regex("e")]}, {}, ["", "\u0301"]),
    ({"$split": [None, Regex("x")]}, {}, None),
    ({"$split": ["a1b22c", Regex(r"\d+")]}, {}, ["a", "b", "c"]),
    ({"$split": ["aXbxc", Regex("x", "i")]}, {}, ["a", "b", "c"]),
    ({"$split": ["$s", "$d"]}, {"s": "a1b", "d": Regex(r"\d")}, ["a", "b"]),
    ({"$split": ["a1b", re.compile(r"\d")]}, {}, ["a", "b"]),
]

# https://www.mongodb.com/docs/manual/reference/operator/aggregation/replaceOne/
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/replaceAll/
PAINTS = ["blue paint", "blue and green paint", "blue paint with blue paintbrush", "blue paint with green paintbrush"]
REPLACE = [
    *[
        ({"$replaceOne": {"input": "$item", "find": "blue paint", "replacement": "red paint"}}, {"item": item}, out)
        for item, out in zip(
            PAINTS, ["red paint", "blue and green paint", "red paint with blue paintbrush", "red paint with green paintbrush"]
        )
    ],
    *[
        ({"$replaceAll": {"input": "$item", "find": "blue paint", "replacement": "red paint"}}, {"item": item}, out)
        for item, out in zip(
            PAINTS, ["red paint", "blue and green paint", "red paint with red paintbrush", "red paint with green paintbrush"]
        )
    ],
    # edge cases, several from mongod's evaluate_replace_test.cpp
    ({"$replaceOne": {"input": None, "find": "a", "replacement": "b"}}, {}, None),
    ({"$replaceOne": {"input": "a", "find": "$missing", "replacement": "b"}}, {}, None),
    ({"$replaceAll": {"input": "a", "find": "a", "replacement": None}}, {}, None),
    ({"$replaceOne": {"input": "", "find": "", "replacement": "abc"}}, {}, "abc"),
    ({"$replaceOne": {"input": "..", "find": "", "replacement": "abc"}}, {}, "abc.."),
    ({"$replaceAll": {"input": "..", "find": "", "replacement": "abc"}}, {}, "abc.abc.abc"),
    ({"$replaceAll": {"input": "寿司", "find": "", "replacement": "-"}}, {}, "-寿-司-"),
    ({"$replaceOne": {"input": "abc->defg->hij", "find": "->", "replacement": "."}}, {}, "abc.defg->hij"),
    ({"$replaceAll": {"input": "abc->defg->hij", "find": "->", "replacement": "."}}, {}, "abc.defg.hij"),
    ({"$replaceAll": {"input": "a.b.c", "find": ".", "replacement": ".."}}, {}, "a..b..c"),
    ({"$replaceAll": {"input": DECOMPOSED_E_ACUTE, "find": "e", "replacement": "a"}}, {}, "a\u0301"),
    ({"$replaceAll": {"input": "é", "find": "e", "replacement": "x"}}, {}, "é"),
    ({"$replaceAll": {"input": "$s", "find": "$f", "replacement": "$r"}}, {"s": "aXa", "f": "a", "r": "b"}, "bXb"),
    # regex 'find' (MongoDB 8.2+); the replacement stays literal
    ({"$replaceOne": {"input": "xyz", "find": Regex("x*"), "replacement": "a"}}, {}, "ayz"),
    ({"$replaceOne": {"input": "abcdefghij", "find": Regex("...."), "replacement": "<-->"}}, {}, "<-->efghij"),
    ({"$replaceOne": {"input": "abc->defg->hij", "find": Regex(".*"), "replacement": "a"}}, {}, "a"),
    ({"$replaceOne": {"input": "..", "find": Regex(""), "replacement": "abc"}}, {}, "abc.."),
    ({"$replaceAll": {"input": "xyz", "find": Regex("x*"), "replacement": "a"}}, {}, "aayaza"),
    ({"$replaceAll": {"input": "abcdefghij", "find": Regex("...."), "replacement": "<-->"}}, {}, "<--><-->ij"),
    ({"$replaceAll": {"input": "xyzxx", "find": Regex("x+"), "replacement": "abc"}}, {}, "abcyzabc"),
    ({"$replaceAll": {"input": "abc->defg->hij", "find": Regex(".*"), "replacement": "a"}}, {}, "aa"),
    ({"$replaceAll": {"input": "..", "find": Regex(""), "replacement": "abc"}}, {}, "abc.abc.abc"),
    ({"$replaceAll": {"input": "a1b2", "find": Regex(r"(\d)"), "replacement": "[$1]"}}, {}, "a[$1]b[$1]"),
    ({"$replaceAll": {"input": "AbA", "find": Regex("a", "i"), "replacement": "-"}}, {}, "-b-"),
    ({"$replaceAll": {"input": None, "find": Regex("a"), "replacement": "-"}}, {}, None),
    ({"$replaceAll": {"input": "a", "find": Regex("a"), "replacement": None}}, {}, None),
    ({"$replaceAll": {"input": "$s", "find": "$f", "replacement": "-"}}, {"s": "a1b", "f": Regex(r"\d")}, "a-b"),
]

# https://www.mongodb.com/docs/manual/reference/operator/aggregation/regexFind/
DESCRIPTIONS = [
    "Single LINE description.",
    "First lines\nsecond line",
    "Many spaces before     line",
    "Multiple\nline descriptions",
    "anchors, links and hyperlinks",
    "métier work vocation",
]


def _found(match: str, idx: int, captures: list | None = None) -> dict:
    return {"match": match, "idx": idx, "captures": captures or []}


def _per_description(expr: dict, results: list) -> list:
    return [(expr, {"description": d}, r) for d, r in zip(DESCRIPTIONS, results)]


REGEX_FIND = [
    *_per_description(
        {"$regexFind": {"input": "$description", "regex": Regex("line")}},
        [None, _found("line", 6), _found("line", 23), _found("line", 9), None, None],
    ),
    *_per_description(
        {"$regexFind": {"input": "$description", "regex": Regex("lin(e|k)")}},
        [None, _found("line", 6, ["e"]), _found("line", 23, ["e"]), _found("line", 9, ["e"]), _found("link", 9, ["k"]), None],
    ),
    *_per_description(
        {"$regexFind": {"input": "$description", "regex": Regex("line", "i")}},
        [_found("LINE", 7), _found("line", 6), _found("line", 23), _found("line", 9), None, None],
    ),
    *_per_description(
        {"$regexFind": {"input": "$description", "regex": "line", "options": "i"}},
        [_found("LINE", 7), _found("line", 6), _found("line", 23), _found("line", 9), None, None],
    ),
    *_per_description(
        {"$regexFind": {"input": "$description", "regex": Regex("^s", "im")}},
        [_found("S", 0), _found("s", 12), None, None, None, None],
    ),
    *_per_description(
        {"$regexFind": {"input": "$description", "regex": "lin(e|k) # matches line or link", "options": "x"}},
        [None, _found("line", 6, ["e"]), _found("line", 23, ["e"]), _found("line", 9, ["e"]), _found("link", 9, ["k"]), None],
    ),
    *_per_description(
        {"$regexFind": {"input": "$description", "regex": Regex("m.*line", "si")}},
        [None, None, _found("Many spaces before     line", 0), _found("Multiple\nline", 0), None, None],
    ),
    # idx counts code points, not bytes
    ({"$regexFind": {"input": "métier work vocation", "regex": "tier"}}, {}, _found("tier", 2)),
    ({"$regexFind": {"input": "寿司sushi", "regex": "s(u)"}}, {}, _found("su", 2, ["u"])),
    # unmatched groups are null
    ({"$regexFind": {"input": "Colleen", "regex": "(C(ar)*)ol"}}, {}, _found("Col", 0, ["C", None])),
    ({"$regexFind": {"input": {"$literal": "a"}, "regex": "(b)|a"}}, {}, _found("a", 0, [None])),
    ({"$regexFind": {"input": "ab", "regex": "(x)?b"}}, {}, _found("b", 1, [None])),
    # null and missing
    ({"$regexFind": {"input": None, "regex": "a"}}, {}, None),
    ({"$regexFind": {"input": "$missing", "regex": "a"}}, {}, None),
    ({"$regexFind": {"input": "a", "regex": None}}, {}, None),
    ({"$regexFind": {"input": "a", "regex": "$missing"}}, {}, None),
    ({"$regexFind": {"input": "a", "regex": "a", "options": None}}, {}, _found("a", 0)),
    ({"$regexFind": {"input": "A", "regex": Regex("a", "i"), "options": None}}, {}, _found("A", 0)),
    ({"$regexFind": {"input": "A", "regex": Regex("a"), "options": "i"}}, {}, _found("A", 0)),
    ({"$regexFind": {"input": "", "regex": ""}}, {}, _found("", 0)),
    ({"$regexFind": {"input": "$s", "regex": "$r", "options": "$o"}}, {"s": "xAy", "r": "a", "o": "i"}, _found("A", 1)),
    ({"$regexFind": {"input": "xAy", "regex": re.compile("a", re.IGNORECASE)}}, {}, _found("A", 1)),
    ({"$regexFind": {"input": "ab", "regex": "b", "options": "u"}}, {}, _found("b", 1)),
    # PCRE spellings that Python's re reads differently
    ({"$regexFind": {"input": "x١٢3", "regex": r"\d"}}, {}, _found("3", 3)),  # \d is ASCII-only
    ({"$regexFind": {"input": "éa", "regex": r"\w"}}, {}, _found("a", 1)),
    ({"$regexFind": {"input": "\u00a0 x", "regex": r"\s"}}, {}, _found(" ", 1)),
    ({"$regexFind": {"input": "éb b", "regex": r"\bb"}}, {}, _found("b", 1)),  # é is not a word char
    ({"$regexFind": {"input": "ab\n", "regex": r"b\Z"}}, {}, _found("b", 1)),
    ({"$regexFind": {"input": "ab\n", "regex": r"b\z"}}, {}, None),
    ({"$regexFind": {"input": "x2024-01", "regex": r"(?<year>\d{4})-(?'month'\d\d)"}}, {}, _found("2024-01", 1, ["2024", "01"])),
    ({"$regexFind": {"input": "abab", "regex": r"(?<p>ab)\k<p>"}}, {}, _found("abab", 0, ["ab"])),
    ({"$regexFind": {"input": "a.b*c", "regex": r"\Q.b*\E"}}, {}, _found(".b*", 1)),
    ({"$regexFind": {"input": "A1b", "regex": r"[[:alpha:]]+[[:digit:]]"}}, {}, _found("A1", 0)),
    ({"$regexFind": {"input": "é1", "regex": r"[\w]+"}}, {}, _found("1", 1)),
    ({"$regexFind": {"input": "é", "regex": r"\x{e9}"}}, {}, _found("é", 0)),
    ({"$regexFind": {"input": "a\ng", "regex": r"\xAg"}}, {}, _found("\ng", 1)),  # PCRE reads \xA (one digit), then "g"
    ({"$regexFind": {"input": "ab", "regex": r"a(?#a [comment)b"}}, {}, _found("ab", 0)),
    ({"$regexFind": {"input": "aaa", "regex": "a++a"}}, {}, None),  # possessive
    ({"$regexFind": {"input": "ÉCLAIR", "regex": "éclair", "options": "i"}}, {}, _found("ÉCLAIR", 0)),
    ({"$regexFind": {"input": "a\nb", "regex": "a.b"}}, {}, None),
    ({"$regexFind": {"input": "a\nb", "regex": "a.b", "options": "s"}}, {}, _found("a\nb", 0)),
    ({"$regexFind": {"input": "x&y", "regex": "[&|~]"}}, {}, _found("&", 1)),
    ({"$regexFind": {"input": "\x1c\u2003", "regex": r"\s"}}, {}, None),  # Python's \s would match both
    ({"$regexFind": {"input": "xABc", "regex": "(?i)abc"}}, {}, _found("ABc", 1)),
    ({"$regexFind": {"input": "xab", "regex": "(?x) a b # comment (?<not a group"}}, {}, _found("ab", 1)),
    ({"$regexFind": {"input": "xAb", "regex": "a(?i:B)", "options": "i"}}, {}, _found("Ab", 1)),
]

# https://www.mongodb.com/docs/manual/reference/operator/aggregation/regexFindAll/
REGEX_FIND_ALL = [
    *_per_description(
        {"$regexFindAll": {"input": "$description", "regex": Regex("line")}},
        [[], [_found("line", 6), _found("line", 19)], [_found("line", 23)], [_found("line", 9)], [], []],
    ),
    *_per_description(
        {"$regexFindAll": {"input": "$description", "regex": Regex("lin(e|k)")}},
        [
            [],
            [_found("line", 6, ["e"]), _found("line", 19, ["e"])],
            [_found("line", 23, ["e"])],
            [_found("line", 9, ["e"])],
            [_found("link", 9, ["k"]), _found("link", 24, ["k"])],
            [],
        ],
    ),
    (
        {"$regexFindAll": {"input": "$email", "regex": Regex(r"[a-z0-9_.+-]+@[a-z0-9_.+-]+\.[a-z0-9_.+-]+", "i")}},
        {"email": "Contact: 123@example.com or cc@EXAMPLE.org"},
        [_found("123@example.com", 9), _found("cc@EXAMPLE.org", 28)],
    ),
    # rows from mongod's tests:
    # https://github.com/mongodb/mongo/blob/master/src/mongo/db/exec/expression/evaluate_regex_test.cpp
    ({"$regexFindAll": {"input": "asdf", "regex": "^as"}}, {}, [_found("as", 0)]),
    ({"$regexFindAll": {"input": "FirstLine\nSecondLine", "regex": "^second", "options": "mi"}}, {},
     [_found("Second", 10)]),  # fmt: skip
    ({"$regexFindAll": {"input": "a1b2c3", "regex": "([a-c][1-3])"}}, {},
     [_found("a1", 0, ["a1"]), _found("b2", 2, ["b2"]), _found("c3", 4, ["c3"])]),  # fmt: skip
    ({"$regexFindAll": {"input": "a1b2c3", "regex": "ab"}}, {}, []),
    ({"$regexFindAll": {"input": "asdf", "regex": "(asdf)", "options": "$o"}}, {}, [_found("asdf", 0, ["asdf"])]),
    # empty matches step one code point; none is reported at the end of a non-empty input
    ({"$regexFindAll": {"input": "baaac", "regex": "a*"}}, {}, [_found("", 0), _found("aaa", 1), _found("", 4)]),
    ({"$regexFindAll": {"input": "ab", "regex": ""}}, {}, [_found("", 0), _found("", 1)]),
    ({"$regexFindAll": {"input": "", "regex": ""}}, {}, [_found("", 0)]),
    ({"$regexFindAll": {"input": "", "regex": "a"}}, {}, []),
    ({"$regexFindAll": {"input": "寿司", "regex": "."}}, {}, [_found("寿", 0), _found("司", 1)]),
    ({"$regexFindAll": {"input": "aaaa", "regex": "aa"}}, {}, [_found("aa", 0), _found("aa", 2)]),  # no overlap
    ({"$regexFindAll": {"input": "Carol Colleen", "regex": "(C(ar)*)o(l)"}}, {},
     [_found("Carol", 0, ["Car", "ar", "l"]), _found("Col", 6, ["C", None, "l"])]),  # fmt: skip
    ({"$regexFindAll": {"input": "a\nb", "regex": "^."}}, {}, [_found("a", 0)]),
    ({"$regexFindAll": {"input": "a\nb", "regex": "^.", "options": "m"}}, {}, [_found("a", 0), _found("b", 2)]),
    ({"$regexFindAll": {"input": None, "regex": "a"}}, {}, []),
    ({"$regexFindAll": {"input": "$missing", "regex": "a"}}, {}, []),
    ({"$regexFindAll": {"input": "a", "regex": None}}, {}, []),
]

# https://www.mongodb.com/docs/manual/reference/operator/aggregation/regexMatch/
REGEX_MATCH = [
    *_per_description(
        {"$regexMatch": {"input": "$description", "regex": Regex("line")}}, [False, True, True, True, False, False]
    ),
    *_per_description(
        {"$regexMatch": {"input": "$description", "regex": Regex("lin(e|k)")}}, [False, True, True, True, True, False]
    ),
    *_per_description(
        {"$regexMatch": {"input": "$description", "regex": Regex("line", "i")}}, [True, True, True, True, False, False]
    ),
    ({"$regexMatch": {"input": "$category", "regex": "cafe", "options": "i"}}, {"category": "Café Con Leche"}, False),
    ({"$regexMatch": {"input": "$category", "regex": "cafe", "options": "i"}}, {"category": "cafe con leche"}, True),
    ({"$regexMatch": {"input": None, "regex": "a"}}, {}, False),
    ({"$regexMatch": {"input": "$missing", "regex": "a"}}, {}, False),
    ({"$regexMatch": {"input": "a", "regex": None}}, {}, False),
    ({"$regexMatch": {"input": "", "regex": "^$"}}, {}, True),
    ({"$regexMatch": {"input": "$s", "regex": "$r"}}, {"s": "abc", "r": Regex("B", "i")}, True),
]

ROWS = (
    CONCAT + INDEX_OF_BYTES + INDEX_OF_CP + STR_LEN + CASE + STRCASECMP + SUBSTR_BYTES + SUBSTR_CP + TRIM
    + SPLIT + SPLIT_REGEX + REPLACE + REGEX_FIND + REGEX_FIND_ALL + REGEX_MATCH
)  # fmt: skip


@pytest.mark.parametrize(("expr", "doc", "expected"), ROWS)
def test_string_operator(expr, doc, expected):
    assert_same(evaluate(expr, doc), expected)


# Run-time failures: one document fails with mongod's reason.
RUNTIME_ERRORS = [
    ({"$concat": ["a", 1]}, {}, "$concat only supports strings, not int"),
    ({"$concat": [1, None]}, {}, "$concat only supports strings, not int"),  # mongod stops at the first bad operand
    ({"$concat": ["a", ["b"]]}, {}, "$concat only supports strings, not array"),
    ({"$indexOfBytes": [5, "a"]}, {}, "$indexOfBytes requires a string as the first argument, found: int"),
    ({"$indexOfBytes": ["a", "$missing"]}, {}, "$indexOfBytes requires a string as the second argument, found: missing"),
    ({"$indexOfCP": [{"a": 1}, "a"]}, {}, "$indexOfCP requires a string as the first argument, found: object"),
    ({"$strLenBytes": None}, {}, "$strLenBytes requires a string argument, found: null"),
    ({"$strLenBytes": "$missing"}, {}, "$strLenBytes requires a string argument, found: missing"),
    ({"$strLenBytes": 5}, {}, "$strLenBytes requires a string argument, found: int"),
    ({"$strLenCP": 1.5}, {}, "$strLenCP requires a string argument, found: double"),
    ({"$strLenCP": [[1]]}, {}, "$strLenCP requires a string argument, found: array"),
    ({"$toLower": True}, {}, "can't convert from BSON type bool to String"),
    ({"$toUpper": [["a"]]}, {}, "can't convert from BSON type array to String"),
    ({"$toUpper": {"a": 1}}, {}, "can't convert from BSON type object to String"),
    ({"$strcasecmp": ["a", True]}, {}, "can't convert from BSON type bool to String"),
    ({"$substrBytes": [{"a": 1}, 0, 1]}, {}, "can't convert from BSON type object to String"),
    ({"$substrBytes": ["寿司", 1, 2]}, {}, "$substrBytes:  Invalid range, starting index is a UTF-8 continuation byte."),
    (
        {"$substrBytes": ["寿司", 0, 2]},
        {},
        "$substrBytes:  Invalid range, ending index is in the middle of a UTF-8 character.",
    ),
    (
        {"$substrBytes": ["éclair", 0, 1]},
        {},
        "$substrBytes:  Invalid range, ending index is in the middle of a UTF-8 character.",
    ),
    ({"$substrCP": ["abc", 0, "$missing"]}, {}, "$substrCP: length must be a numeric type (is BSON type missing)"),
    ({"$substrCP": [True, 0, 1]}, {}, "can't convert from BSON type bool to String"),
    ({"$trim": {"input": 123}}, {}, "$trim requires its input to be a string, got 123 (of type int) instead."),
    (
        {"$ltrim": {"input": {"a": "b"}}},
        {},
        '$ltrim requires its input to be a string, got {a: "b"} (of type object) instead.',
    ),
    ({"$rtrim": {"input": [1, "x"]}}, {}, '$rtrim requires its input to be a string, got [1, "x"] (of type array) instead.'),
    (
        {"$trim": {"input": "a", "chars": "$c"}},
        {"c": ["x"]},
        "$trim requires 'chars' to be a string, got [\"x\"] (of type array) instead.",
    ),
    (
        {"$trim": {"input": "a", "chars": "$c"}},
        {"c": "x" * 4097},
        "$trim requires 'chars' to be not greater than 4096 bytes, got 4097 bytes instead.",
    ),
    ({"$split": [5, "-"]}, {}, "$split requires an expression that evaluates to a string as a first argument, found: int"),
    (
        {"$split": [Regex("a"), "-"]},
        {},
        "$split requires an expression that evaluates to a string as a first argument, found: regex",
    ),
    ({"$split": ["abc", "$d"]}, {"d": Regex("(")}, "Invalid Regex in $split: "),
    ({"$split": ["abc", "$d"]}, {"d": Regex("a", "l")}, "$split invalid flag in regex options: l"),
    ({"$replaceOne": {"input": 1, "find": None, "replacement": None}}, {}, "$replaceOne requires that 'input' be a string, found: 1"),
    (
        {"$replaceOne": {"input": None, "find": "$f", "replacement": None}},
        {"f": 1},
        "$replaceOne requires that 'find' be a string or regular expression, found: 1",
    ),
    (
        {"$replaceAll": {"input": None, "find": None, "replacement": "$r"}},
        {"r": 2.5},
        "$replaceAll requires that 'replacement' be a string, found: 2.5",
    ),
    (
        {"$replaceAll": {"input": "", "find": Regex("x"), "replacement": "$r"}},
        {"r": {"a": [1, "b"]}},
        "$replaceAll requires that 'replacement' be a string, found: {a: [1, \"b\"]}",
    ),
    (
        {"$replaceAll": {"input": "$s", "find": "a", "replacement": "b"}},
        {"s": DATE},
        "$replaceAll requires that 'input' be a string, found: 2024-03-05T07:08:09.123Z",
    ),
    ({"$regexFind": {"input": 5, "regex": "a"}}, {}, "$regexFind needs 'input' to be of type string"),
    ({"$regexFindAll": {"input": ["a"], "regex": "a"}}, {}, "$regexFindAll needs 'input' to be of type string"),
    ({"$regexMatch": {"input": 5, "regex": None}}, {}, "$regexMatch needs 'input' to be of type string"),
    ({"$regexFind": {"input": "a", "regex": "$r"}}, {"r": 5}, "$regexFind needs 'regex' to be of type string or regex"),
    ({"$regexFind": {"input": "a", "regex": "a", "options": "$o"}}, {"o": 1}, "$regexFind needs 'options' to be of type string"),
    (
        {"$regexFind": {"input": "a", "regex": "$r", "options": "i"}},
        {"r": Regex("a", "m")},
        "$regexFind: found regex option(s) specified in both 'regex' and 'option' fields",
    ),
    ({"$regexMatch": {"input": "a", "regex": "$r"}}, {"r": "("}, "Invalid Regex in $regexMatch: "),
    ({"$regexFindAll": {"input": "1", "regex": "$r"}}, {"r": "[0-9"}, "Invalid Regex in $regexFindAll: "),
    ({"$regexMatch": {"input": "a", "regex": "a", "options": "$o"}}, {"o": "ig"}, "$regexMatch invalid flag in regex options: g"),
    ({"$regexFind": {"input": 5, "regex": "$r"}}, {"r": 5}, "$regexFind needs 'regex' to be of type string or regex"),
]


@pytest.mark.parametrize(("expr", "doc", "reason"), RUNTIME_ERRORS)
def test_string_operator_runtime_error(expr, doc, reason):
    with pytest.raises(ExpressionError) as raised:
        evaluate(expr, doc)
    assert str(raised.value).startswith(reason), str(raised.value)


# Bad arguments: a constant one is refused at translation; the same value from a document field
# fails that document at run time, with the same message.
ARGUMENT_ERRORS = [
    ({"$indexOfBytes": ["a", None]}, "$indexOfBytes requires a string as the second argument, found: null"),
    (
        {"$indexOfBytes": ["vanilla", "ll", -1]},
        "$indexOfBytes requires a nonnegative starting index, found: -1",
    ),
    (
        {"$indexOfBytes": ["vanilla", "ll", 1.5]},
        "$indexOfBytesrequires an integral starting index, found a value of type: double, with value: 1.5",
    ),
    (
        {"$indexOfBytes": ["vanilla", "ll", 0, "x"]},
        '$indexOfBytesrequires an integral ending index, found a value of type: string, with value: "x"',
    ),
    (
        {"$indexOfBytes": ["vanilla", "ll", None]},
        "$indexOfBytesrequires an integral starting index, found a value of type: null, with value: null",
    ),
    (
        {"$indexOfBytes": ["vanilla", "ll", 2**40]},
        "$indexOfBytesrequires an integral starting index, found a value of type: long, with value: 1099511627776",
    ),
    ({"$indexOfCP": ["vanilla", "ll", -1]}, "$indexOfCP requires a nonnegative starting index, found: -1"),
    ({"$indexOfCP": ["a", 1]}, "$indexOfCP requires a string as the second argument, found: int"),
    ({"$indexOfCP": ["vanilla", "ll", 0, -2.0]}, "$indexOfCP requires a nonnegative ending index, found: -2"),
    ({"$substrBytes": ["abc", "0", 1]}, "$substrBytes:  starting index must be a numeric type (is BSON type string)"),
    ({"$substrBytes": ["abc", 0, None]}, "$substrBytes:  length must be a numeric type (is BSON type null)"),
    ({"$substr": ["abc", True, 1]}, "$substrBytes:  starting index must be a numeric type (is BSON type bool)"),
    ({"$substrBytes": ["abc", -1, 1]}, "$substrBytes:  starting index must be non-negative (got: -1)"),
    ({"$substrBytes": ["abc", float("nan"), 1]}, "Can't coerce out of range value nan to long"),
    ({"$substrBytes": ["abc", 1e300, 1]}, "Can't coerce out of range value 1e+300 to long"),
    ({"$substrCP": ["abc", "0", 1]}, "$substrCP: starting index must be a numeric type (is BSON type string)"),
    (
        {"$substrCP": ["abc", 0.5, 1]},
        "$substrCP: starting index cannot be represented as a 32-bit integral value: 0.5",
    ),
    (
        {"$substrCP": ["abc", 0, 2**31]},
        "$substrCP: length cannot be represented as a 32-bit integral value: 2147483648",
    ),
    ({"$substrCP": ["abc", 0, -1]}, "$substrCP: length must be a nonnegative integer."),
    ({"$substrCP": ["abc", -1, 1]}, "$substrCP: the starting index must be nonnegative integer."),
    ({"$split": ["abc", ""]}, "$split requires a non-empty separator"),
    (
        {"$split": ["headphone jack", 7]},
        "$split requires an expression that evaluates to a string or regular expression as a second argument, found: int",
    ),
]


def _through_fields(expr: dict) -> tuple:
    """The same operator with each positional operand read from a document field."""
    ((name, args),) = expr.items()
    return {name: [f"$a{i}" for i in range(len(args))]}, {f"a{i}": arg for i, arg in enumerate(args)}


@pytest.mark.parametrize(("expr", "reason"), ARGUMENT_ERRORS)
def test_string_operator_argument_error(expr, reason):
    with pytest.raises(SpecError) as refused:
        evaluate(expr)
    assert refused.value.message.startswith(reason), refused.value.message
    lifted, doc = _through_fields(expr)
    with pytest.raises(ExpressionError) as failed:
        evaluate(lifted, doc)
    assert str(failed.value).startswith(reason), str(failed.value)


# Translation-time failures: the pipeline is refused before it runs.
SPEC_ERRORS = [
    ({"$indexOfBytes": ["a"]}, "takes between 2 and 4 arguments"),
    ({"$indexOfCP": ["a", "b", 0, 1, 2]}, "takes between 2 and 4 arguments"),
    ({"$strLenBytes": ["a", "b"]}, "takes exactly 1 argument"),
    ({"$strLenCP": []}, "takes exactly 1 argument"),
    ({"$toLower": ["a", "b"]}, "takes exactly 1 argument"),
    ({"$strcasecmp": ["a"]}, "takes exactly 2 arguments"),
    ({"$substrBytes": ["a", 0]}, "takes exactly 3 arguments"),
    ({"$substr": ["a", 0]}, "takes exactly 3 arguments"),
    ({"$substrCP": ["a", 0, 1, 2]}, "takes exactly 3 arguments"),
    ({"$split": ["a"]}, "takes exactly 2 arguments"),
    ({"$trim": "abc"}, "$trim only supports an object as an argument, found string"),
    ({"$ltrim": {"chars": "a"}}, "$ltrim requires an 'input' field"),
    ({"$rtrim": {"input": "a", "char": "a"}}, "$rtrim found an unknown argument: char"),
    ({"$trim": {"input": "$a", "chars": "x" * 4097}}, "$trim requires 'chars' to be not greater than 4096 bytes"),
    ({"$trim": {"input": "a", "chars": 5}}, "$trim requires 'chars' to be a string, got 5 (of type int) instead."),
    ({"$replaceOne": ["a", "b", "c"]}, "$replaceOne requires an object as an argument, found: array"),
    ({"$replaceAll": {"input": "a", "find": "b"}}, "$replaceAll requires 'replacement' to be specified"),
    ({"$replaceAll": {"input": "a", "find": "b", "replacement": "c", "x": 1}}, "$replaceAll found an unknown argument: x"),
    ({"$replaceOne": {"input": "a", "find": Regex("("), "replacement": "c"}}, "Invalid Regex in $replaceOne: "),
    (
        {"$replaceOne": {"input": "$a", "find": 1, "replacement": "c"}},
        "$replaceOne requires that 'find' be a string or regular expression, found: 1",
    ),
    (
        {"$replaceAll": {"input": "$a", "find": "b", "replacement": ["c"]}},
        "$replaceAll requires that 'replacement' be a string, found: [\"c\"]",
    ),
    ({"$split": ["$a", Regex("[")]}, "Invalid Regex in $split: "),
    ({"$regexFind": "abc"}, "$regexFind expects an object of named arguments but found: string"),
    ({"$regexFind": {"regex": "a"}}, "$regexFind requires 'input' parameter"),
    ({"$regexFindAll": {"input": "a"}}, "$regexFindAll requires 'regex' parameter"),
    ({"$regexMatch": {"input": "a", "regex": "a", "flags": "i"}}, "$regexMatch found an unknown argument: flags"),
    # a constant regex is checked and compiled once, at translation time
    ({"$regexFind": {"input": "$a", "regex": "("}}, "Invalid Regex in $regexFind: "),
    ({"$regexFind": {"input": "$a", "regex": "a", "options": "g"}}, "$regexFind invalid flag in regex options: g"),
    (
        {"$regexFind": {"input": "$a", "regex": Regex("a", "i"), "options": "m"}},
        "$regexFind: found regex option(s) specified in both 'regex' and 'option' fields",
    ),
    ({"$regexMatch": {"input": "$a", "regex": 5}}, "$regexMatch needs 'regex' to be of type string or regex"),
    ({"$regexFindAll": {"input": "a", "regex": {"invalid": "regex"}}}, "needs 'regex' to be of type string or regex"),
    ({"$regexMatch": {"input": "$a", "regex": "a", "options": 1}}, "$regexMatch needs 'options' to be of type string"),
    ({"$regexMatch": {"input": "$a", "regex": "a\0b"}}, "$regexMatch: regular expression cannot contain an embedded null byte"),
    ({"$regexMatch": {"input": "$a", "regex": "a", "options": "i\0"}}, "$regexMatch: regular expression options cannot contain"),
    ({"$regexMatch": {"input": "$a", "regex": r"\p{L}"}}, "$regexMatch: sluice cannot run this regular expression"),
    ({"$regexMatch": {"input": "$a", "regex": r"(a)(?1)"}}, "$regexMatch: sluice cannot run this regular expression"),
    ({"$regexMatch": {"input": "$a", "regex": r"\u00e9"}}, "Invalid Regex in $regexMatch: "),
    ({"$regexMatch": {"input": "$a", "regex": "a(?i)b"}}, "sluice cannot run this regular expression: the inline option"),
    ({"$regexMatch": {"input": "$a", "regex": "(?U)a+"}}, "sluice cannot run this regular expression: the inline option"),
]


@pytest.mark.parametrize(("expr", "message"), SPEC_ERRORS)
def test_string_operator_spec_error(expr, message):
    with pytest.raises(SpecError) as raised:
        evaluate(expr)
    assert message in raised.value.message, raised.value.message


def test_default_trim_set_is_mongods():
    """Exactly the 20 code points mongod lists in str_trim_utils.h."""
    expected = {0x00, 0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0xA0, 0x1680, *range(0x2000, 0x200B)}
    assert {ord(c) for c in DEFAULT_TRIM_CHARS} == expected


def test_constant_regex_is_compiled_once(monkeypatch):
    """A constant regex compiles at translation time; evaluating documents never compiles again."""
    import translator.expressions.string as string_module

    compiled = string_module.compile_expression({"$regexMatch": {"input": "$s", "regex": "^a(b|c)$", "options": "i"}})

    def refuse(*args):
        raise AssertionError("regex compiled per document")

    monkeypatch.setattr(string_module, "compile_regex", refuse)
    assert [compiled({"s": s}, {}) for s in ("ab", "AC", "ad", None)] == [True, True, False, False]


@pytest.mark.parametrize(
    ("pcre", "python"),
    [
        (r"\d+", "[0-9]+"),
        (r"[^\s]", "[^\\t\\n\\x0b\\x0c\\r ]"),
        (r"(?<name>x)", "(?P<name>x)"),
        (r"(?<=a)(?<!b)", "(?<=a)(?<!b)"),
        (r"\Qa.b\E", "a\\.b"),
        (r"[]a]", "[\\]a]"),
        ("a # (?<x> not a group\nb", "a # (?<x> not a group\nb"),
    ],
)
def test_pcre_translation(pcre, python):
    extended = "#" in pcre
    assert pcre_to_python(pcre, extended) == python


def test_literal_and_missing_operands():
    assert evaluate({"$strLenCP": {"$literal": "x"}}) == 1
    assert evaluate({"$concat": ["$a", "b"]}, {"a": MISSING}) is None


def test_empty_find_all_result_is_a_new_list_each_time():
    """Downstream stages may mutate a result; a shared [] would leak between documents."""
    from translator.expressions import compile_expression

    find_all = compile_expression({"$regexFindAll": {"input": "$s", "regex": "a"}})
    first = find_all({}, {})
    first.append("changed")
    assert find_all({}, {}) == []
