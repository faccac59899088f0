"""Type expression operators: $convert (with Atlas's binData forms), $toX shorthands, $type, $isNumber."""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from bson import Binary, Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp

from expression_cases import MISSING, assert_same, evaluate
from translator.errors import ExpressionError, SpecError
from translator.expressions import compile_expression
from translator.expressions.type import format_double, parse_date_string


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


def ms(millis: int) -> datetime:
    return utc(1970, 1, 1) + timedelta(milliseconds=millis)


OID = ObjectId("0123456789abcdef01234567")
UUID_TEXT = "867dee52-c331-484e-92d1-c56479b8e67e"
UUID_BYTES = uuid.UUID(UUID_TEXT).bytes
NAN = float("nan")
INF = float("inf")


def convert(value, to, **options):
    return {"$convert": {"input": {"$literal": value}, "to": to, **options}}


def _plain(argument):
    """The constant an operator argument stands for, or MISSING when it is an expression."""
    if type(argument) is dict:
        return argument["$literal"] if list(argument) == ["$literal"] else MISSING
    if type(argument) is list or (type(argument) is str and argument.startswith("$")):
        return MISSING
    return argument


def via_document(expr):
    """The same expression reading its constant input from a document field, so nothing folds."""
    ((name, argument),) = expr.items()
    value = _plain(argument["input"] if name == "$convert" else argument)
    if value is MISSING:
        return expr, {}
    rewritten = {**argument, "input": "$v"} if name == "$convert" else "$v"
    return {name: rewritten}, {"v": value}


def evaluate_both(expr):
    """Evaluate folded at compile time and per document; both must agree (type included)."""
    folded = evaluate(expr)
    per_document, doc = via_document(expr)
    assert_same(evaluate(per_document, doc), folded)
    return folded


# One row per supported conversion, from mongod's jstests/aggregation/expressions/convert.js
# (https://github.com/mongodb/mongo/blob/master/jstests/aggregation/expressions/convert.js), which the
# $convert page summarises: https://www.mongodb.com/docs/manual/reference/operator/aggregation/convert/
CONVERSION_MATRIX = [
    (1.9, "double", 1.9),
    (1.9, "string", "1.9"),
    (1.9, "bool", True),
    (1.9, "date", ms(1)),
    (1.9, "int", 1),
    (1.9, "long", Int64(1)),
    (1.9, "decimal", Decimal128("1.90000000000000")),
    ("1.9", "double", 1.9),
    ("str", "string", "str"),
    ("0123456789abcdef01234567", "objectId", OID),
    ("", "bool", True),
    ("1970-01-01T00:00:00.001Z", "date", ms(1)),
    ("1", "int", 1),
    ("1", "long", Int64(1)),
    ("1.9", "decimal", Decimal128("1.9")),
    (OID, "string", "0123456789abcdef01234567"),
    (OID, "bool", True),
    (OID, "objectId", OID),
    (OID, "date", utc(1970, 8, 9, 22, 25, 43)),
    (False, "double", 0.0),
    (False, "string", "false"),
    (False, "bool", False),
    (False, "int", 0),
    (False, "long", Int64(0)),
    (False, "decimal", Decimal128("0")),
    (ms(123), "double", 123.0),
    (ms(123), "string", "1970-01-01T00:00:00.123Z"),
    (ms(123), "bool", True),
    (ms(123), "date", ms(123)),
    (ms(123), "long", Int64(123)),
    (ms(123), "decimal", Decimal128("123")),
    (1, "double", 1.0),
    (1, "string", "1"),
    (1, "bool", True),
    (1, "int", 1),
    (1, "long", Int64(1)),
    (1, "decimal", Decimal128("1")),
    (Int64(1), "double", 1.0),
    (Int64(1), "string", "1"),
    (Int64(1), "bool", True),
    (Int64(1), "date", ms(1)),
    (Int64(1), "int", 1),
    (Int64(1), "long", Int64(1)),
    (Int64(1), "decimal", Decimal128("1")),
    (Decimal128("1.9"), "double", 1.9),
    (Decimal128("1.9"), "string", "1.9"),
    (Decimal128("1.9"), "bool", True),
    (Decimal128("1.9"), "date", ms(1)),
    (Decimal128("1.9"), "int", 1),
    (Decimal128("1.9"), "long", Int64(1)),
    (Decimal128("1.9"), "decimal", Decimal128("1.9")),
    (MinKey(), "bool", True),
    (MaxKey(), "bool", True),
    ({"foo": 1, "bar": 2}, "bool", True),
    ([1, 2], "bool", True),
    (Binary(b"\x04" * 21, 0), "bool", True),
    (Regex("B*"), "bool", True),
    (Code("function() {}"), "bool", True),
    (Timestamp(0, 1), "bool", True),
]


@pytest.mark.parametrize(("value", "to", "expected"), CONVERSION_MATRIX)
def test_convert_matrix(value, to, expected):
    assert_same(evaluate_both(convert(value, to)), expected)


_SHORTHANDS = {
    "double": "$toDouble", "string": "$toString", "objectId": "$toObjectId", "bool": "$toBool",
    "date": "$toDate", "int": "$toInt", "long": "$toLong", "decimal": "$toDecimal",
}  # fmt: skip


@pytest.mark.parametrize(("value", "to", "expected"), CONVERSION_MATRIX)
def test_shorthand_matrix(value, to, expected):
    """convert.js runs the same table through $toDouble, $toString, ... ."""
    assert_same(evaluate_both({_SHORTHANDS[to]: {"$literal": value}}), expected)


# 'to' by type number, and as {type: ...}: https://www.mongodb.com/docs/manual/reference/operator/aggregation/convert/
TO_FORMS = [
    (convert(1.9, 1), 1.9),
    (convert(1.9, 2), "1.9"),
    (convert(1.9, 8), True),
    (convert(1.9, 16), 1),
    (convert(1.9, Int64(18)), Int64(1)),
    (convert(1.9, 18.0), Int64(1)),
    (convert(1.9, Decimal128("19")), Decimal128("1.90000000000000")),
    (convert(1.9, {"type": "double"}), 1.9),
    (convert(1.9, {"type": "int"}), 1),
    (convert(1.9, {"type": 9}), ms(1)),
    (convert(5, None), None),
    (convert(5, {"type": None}), None),
    ({"$convert": {"input": "$v", "to": "$t"}}, "12"),
]


@pytest.mark.parametrize(("expr", "expected"), TO_FORMS)
def test_to_forms(expr, expected):
    assert_same(evaluate(expr, {"v": 12, "t": "string"}), expected)


# onError / onNull: https://www.mongodb.com/docs/manual/reference/operator/aggregation/convert/#example
# (the orders example: qty "5", "2.5", "abc"; price "100", "12.75", null, missing, 15.1)
ORDERS = [
    ({"qty": 5, "price": "10"}, 10.0),
    ({"qty": 2, "price": "12.75"}, 12.75),
    ({"qty": 3, "price": "abc"}, "Error"),
    ({"qty": 4, "price": None}, "Missing"),
    ({"qty": 5}, "Missing"),
    ({"qty": 6, "price": 15.1}, 15.1),
]


@pytest.mark.parametrize(("doc", "expected"), ORDERS)
def test_convert_on_error_on_null_orders(doc, expected):
    expr = {"$convert": {"input": "$price", "to": "double", "onError": "Error", "onNull": "Missing"}}
    assert_same(evaluate(expr, doc), expected)


ERROR_HANDLING = [
    # Every unsupported pair falls back on onError (convert.js "illegalConversionTestDocs").
    (convert(1.9, "objectId", onError="E"), "E"),
    (convert(OID, "double", onError="E"), "E"),
    (convert(OID, "int", onError="E"), "E"),
    (convert(OID, "long", onError="E"), "E"),
    (convert(OID, "decimal", onError="E"), "E"),
    (convert(False, "objectId", onError="E"), "E"),
    (convert(False, "date", onError="E"), "E"),
    (convert(ms(123), "objectId", onError="E"), "E"),
    (convert(ms(123), "int", onError="E"), "E"),
    (convert(1, "objectId", onError="E"), "E"),
    (convert(1, "date", onError="E"), "E"),
    (convert(Int64(1), "objectId", onError="E"), "E"),
    (convert(Decimal128("1.9"), "objectId", onError="E"), "E"),
    (convert(1.9, "minKey", onError="E"), "E"),
    (convert(1.9, "missing", onError="E"), "E"),
    (convert(1.9, "object", onError="E"), "E"),
    (convert(1.9, "array", onError="E"), "E"),
    (convert(1.9, "null", onError="E"), "E"),
    (convert(1.9, "regex", onError="E"), "E"),
    (convert(1.9, "timestamp", onError="E"), "E"),
    (convert(1.9, "maxKey", onError="E"), "E"),
    (convert({"a": 1}, "string", onError="E"), "E"),
    # onError is an expression; $$REMOVE removes the field.
    (convert("x", "int", onError="$alt"), 42),
    (convert("x", "int", onError="$$REMOVE"), MISSING),
    (convert("7", "int", onError="E"), 7),
    # onNull: null and missing input; 'to' null does not stop onNull.
    ({"$convert": {"input": "$nope", "to": "int", "onNull": "N"}}, "N"),
    ({"$convert": {"input": None, "to": "int", "onNull": "N"}}, "N"),
    ({"$convert": {"input": None, "to": None, "onNull": "N"}}, "N"),
    ({"$convert": {"input": "$nope", "to": "int"}}, None),
    ({"$convert": {"input": "$nope", "to": "int", "onNull": "$alt"}}, 42),
]


@pytest.mark.parametrize(("expr", "expected"), ERROR_HANDLING)
def test_convert_on_error_and_on_null(expr, expected):
    assert_same(evaluate(expr, {"alt": 42}), expected)


def test_on_error_does_not_hide_errors_of_the_input_expression():
    """convert.js: an error in 'input' itself propagates despite onError."""
    with pytest.raises(ExpressionError, match="divide by zero"):
        evaluate({"$convert": {"input": {"$divide": [1, "$zero"]}, "to": "string", "onError": "E"}}, {"zero": 0})


# Number edge cases: mongod's conversion code (src/mongo/db/exec/expression/evaluate_convert.cpp)
# and the $toInt / $toLong / $toDouble / $toDecimal pages, e.g.
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/toInt/
NUMBERS = [
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/toInt/#behavior
    ({"$toInt": True}, 1),
    ({"$toInt": False}, 0),
    ({"$toInt": 1.99999}, 1),
    ({"$toInt": Decimal128("5.5000")}, 5),
    ({"$toInt": Int64(5000)}, 5000),
    ({"$toInt": "-2"}, -2),
    ({"$toInt": None}, None),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/toLong/#behavior
    ({"$toLong": True}, Int64(1)),
    ({"$toLong": 1.99999}, Int64(1)),
    ({"$toLong": Decimal128("5.5000")}, Int64(5)),
    ({"$toLong": 8}, Int64(8)),
    ({"$toLong": {"$literal": utc(2018, 3, 26, 4, 38, 28, 44000)}}, Int64(1522039108044)),
    ({"$toLong": "-2"}, Int64(-2)),
    ({"$toLong": None}, None),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/toDouble/#behavior
    ({"$toDouble": True}, 1.0),
    ({"$toDouble": False}, 0.0),
    ({"$toDouble": 2.5}, 2.5),
    ({"$toDouble": 5}, 5.0),
    ({"$toDouble": Int64(10000)}, 10000.0),
    ({"$toDouble": "-5.5"}, -5.5),
    ({"$toDouble": "5e10"}, 50000000000.0),
    ({"$toDouble": {"$literal": utc(2018, 3, 26, 4, 38, 28, 44000)}}, 1522039108044.0),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/toDecimal/#behavior
    ({"$toDecimal": True}, Decimal128("1")),
    ({"$toDecimal": False}, Decimal128("0")),
    ({"$toDecimal": 2.5}, Decimal128("2.50000000000000")),
    ({"$toDecimal": 5}, Decimal128("5")),
    ({"$toDecimal": Int64(10000)}, Decimal128("10000")),
    ({"$toDecimal": "-5.5"}, Decimal128("-5.5")),
    ({"$toDecimal": {"$literal": utc(2018, 3, 26, 4, 38, 28, 44000)}}, Decimal128("1522039108044")),
    # Truncation toward zero, range edges.
    ({"$toInt": -1.9}, -1),
    ({"$toInt": 2147483647.0}, 2147483647),
    ({"$toInt": -2147483648.0}, -2147483648),
    ({"$toInt": Decimal128("-7.9")}, -7),
    ({"$toInt": Int64(-2147483648)}, -2147483648),
    ({"$toLong": -1.9}, Int64(-1)),
    ({"$toLong": 9.2233720368547748e18}, Int64(9223372036854774784)),
    ({"$toLong": Decimal128("-9223372036854775808")}, Int64(-9223372036854775808)),
    ({"$toLong": 3000000000}, Int64(3000000000)),
    ({"$toInt": "+15"}, 15),
    ({"$toInt": "007"}, 7),
    ({"$toLong": "9223372036854775807"}, Int64(9223372036854775807)),
    ({"$toLong": "-9223372036854775808"}, Int64(-9223372036854775808)),
    # Doubles from strings, as strtod reads them.
    ({"$toDouble": "1e-3"}, 0.001),
    ({"$toDouble": ".5"}, 0.5),
    ({"$toDouble": "5."}, 5.0),
    ({"$toDouble": "+2"}, 2.0),
    ({"$toDouble": "Infinity"}, INF),
    ({"$toDouble": "-inf"}, -INF),
    ({"$toDouble": "NaN"}, NAN),
    ({"$toDouble": "-0x10"}, -16.0),
    ({"$toDouble": Decimal128("1e308")}, 1e308),
    ({"$toDouble": Decimal128("NaN")}, NAN),
    ({"$toDouble": Decimal128("-Infinity")}, -INF),
    ({"$toDouble": 3000000000}, 3000000000.0),
    # Decimals from strings and doubles (15 significant digits from a double).
    ({"$toDecimal": "1.234567890123456789012345678901234567"}, Decimal128("1.234567890123456789012345678901235")),
    ({"$toDecimal": "-Infinity"}, Decimal128("-Infinity")),
    ({"$toDecimal": "1E+3"}, Decimal128("1E+3")),
    ({"$toDecimal": 0.1}, Decimal128("0.100000000000000")),
    ({"$toDecimal": 1e20}, Decimal128("1.00000000000000E+20")),
    ({"$toDecimal": 0.0}, Decimal128("0")),
    ({"$toDecimal": -0.0}, Decimal128("-0")),
    ({"$toDecimal": NAN}, Decimal128("NaN")),
    ({"$toDecimal": INF}, Decimal128("Infinity")),
    ({"$toDecimal": 3000000000}, Decimal128("3000000000")),
    # Booleans from numbers.
    ({"$toBool": NAN}, True),
    ({"$toBool": -0.0}, False),
    ({"$toBool": Decimal128("0.000")}, False),
    ({"$toBool": Decimal128("NaN")}, True),
    ({"$toBool": Int64(0)}, False),
]


@pytest.mark.parametrize(("expr", "expected"), NUMBERS)
def test_number_conversions(expr, expected):
    assert_same(evaluate_both(expr), expected)


# $toString: https://www.mongodb.com/docs/manual/reference/operator/aggregation/toString/#behavior
STRINGS = [
    ({"$toString": True}, "true"),
    ({"$toString": False}, "false"),
    ({"$toString": 2.5}, "2.5"),
    ({"$toString": 2}, "2"),
    ({"$toString": Int64(1000)}, "1000"),
    ({"$toString": {"$literal": ObjectId("5ab9c3da31c2ab715d421285")}}, "5ab9c3da31c2ab715d421285"),
    ({"$toString": {"$literal": utc(2018, 3, 27, 16, 58, 51, 538000)}}, "2018-03-27T16:58:51.538Z"),
    ({"$toString": {"$literal": Binary(b"\x86\x7d\xdf", 4)}}, "hn3f"),
    # mongod's double formatting: shortest round-trip digits, exponent past 1e16.
    ({"$toString": 1.0}, "1"),
    ({"$toString": 0.1}, "0.1"),
    ({"$toString": {"$add": [0.1, 0.2]}}, "0.30000000000000004"),
    ({"$toString": 1e15}, "1000000000000000"),
    ({"$toString": 1e16}, "1e+16"),
    ({"$toString": 1.5e-7}, "1.5e-07"),
    ({"$toString": -0.0}, "-0"),
    ({"$toString": NAN}, "NaN"),
    ({"$toString": INF}, "Infinity"),
    ({"$toString": -INF}, "-Infinity"),
    ({"$toString": 3000000000}, "3000000000"),
    ({"$toString": Int64(-9223372036854775808)}, "-9223372036854775808"),
    # Decimal128 strings keep their exponent and trailing zeros.
    ({"$toString": Decimal128("5.5000")}, "5.5000"),
    ({"$toString": Decimal128("1E+3")}, "1E+3"),
    ({"$toString": Decimal128("-0")}, "-0"),
    ({"$toString": Decimal128("NaN")}, "NaN"),
    ({"$toString": Decimal128("-Infinity")}, "-Infinity"),
    ({"$toString": Decimal128("0.000001")}, "0.000001"),
    ({"$toString": Decimal128("1E-7")}, "1E-7"),
    # Dates always print milliseconds and Z; old and far dates too.
    ({"$toString": {"$literal": utc(2018, 3, 27)}}, "2018-03-27T00:00:00.000Z"),
    ({"$toString": {"$literal": ms(-1)}}, "1969-12-31T23:59:59.999Z"),
    ({"$toString": {"$literal": utc(1, 1, 1)}}, "0001-01-01T00:00:00.000Z"),
    ({"$toString": {"$literal": datetime(2020, 1, 1, 5, tzinfo=timezone(timedelta(hours=5)))}}, "2020-01-01T00:00:00.000Z"),
    # $toString reads binData with format "auto": UUIDs as UUID strings.
    ({"$toString": {"$literal": Binary(UUID_BYTES, 4)}}, UUID_TEXT),
    ({"$toString": {"$literal": uuid.UUID(UUID_TEXT)}}, UUID_TEXT),
    ({"$toString": {"$literal": UUID_BYTES}}, "hn3uUsMxSE6S0cVkebjmfg=="),
    ({"$toString": "$missing"}, None),
]


@pytest.mark.parametrize(("expr", "expected"), STRINGS)
def test_to_string(expr, expected):
    assert_same(evaluate_both(expr), expected)


# $toDate: https://www.mongodb.com/docs/manual/reference/operator/aggregation/toDate/#behavior
DATES = [
    ({"$toDate": 120000000000.5}, utc(1973, 10, 20, 21, 20)),
    ({"$toDate": Decimal128("1253372036000.50")}, utc(2009, 9, 19, 14, 53, 56)),
    ({"$toDate": Int64(1100000000000)}, utc(2004, 11, 9, 11, 33, 20)),
    ({"$toDate": Int64(-1100000000000)}, utc(1935, 2, 22, 12, 26, 40)),
    ({"$toDate": {"$literal": ObjectId("5ab9c3da31c2ab715d421285")}}, utc(2018, 3, 27, 4, 8, 58)),
    ({"$toDate": "2018-03-20"}, utc(2018, 3, 20)),
    ({"$toDate": "2018-03-20T12:00:00Z"}, utc(2018, 3, 20, 12)),
    ({"$toDate": "2018-03-20T12:00:00+0500"}, utc(2018, 3, 20, 7)),
    ({"$toDate": "2018-03-20 11:00:06 +0500"}, utc(2018, 3, 20, 6, 0, 6)),
    ({"$toDate": {"$literal": Timestamp(1637688118, 1)}}, utc(2021, 11, 23, 17, 21, 58)),
    ({"$toDate": None}, None),
    ({"$toDate": "$missing"}, None),
    # Truncation toward zero of fractional milliseconds, and big longs as Python ints.
    ({"$toDate": -1.9}, ms(-1)),
    ({"$toDate": 1100000000000}, utc(2004, 11, 9, 11, 33, 20)),
    # Date strings: fractions (kept to the millisecond), offsets, names of months.
    ({"$toDate": "2017-02-08T12:10:40.787Z"}, utc(2017, 2, 8, 12, 10, 40, 787000)),
    ({"$toDate": "2017-02-08T12:10:40.787654Z"}, utc(2017, 2, 8, 12, 10, 40, 787000)),
    ({"$toDate": "2017-02-08T12:10:40-05:30"}, utc(2017, 2, 8, 17, 40, 40)),
    ({"$toDate": "2017-02-08T12:10:40+01"}, utc(2017, 2, 8, 11, 10, 40)),
    ({"$toDate": "2017-02-08 12:10"}, utc(2017, 2, 8, 12, 10)),
    ({"$toDate": "2017-02-08T12:10:40 UTC"}, utc(2017, 2, 8, 12, 10, 40)),
    ({"$toDate": "2017/02/08"}, utc(2017, 2, 8)),
    ({"$toDate": "March 20, 2018"}, utc(2018, 3, 20)),
    ({"$toDate": "Tuesday, 20 March 2018 10:00:00 GMT+0200"}, utc(2018, 3, 20, 8)),
]


@pytest.mark.parametrize(("expr", "expected"), DATES)
def test_to_date(expr, expected):
    assert_same(evaluate_both(expr), expected)


# $toObjectId: https://www.mongodb.com/docs/manual/reference/operator/aggregation/toObjectId/
OBJECT_IDS = [
    ({"$toObjectId": "5ab9cbfa31c2ab715d42129e"}, ObjectId("5ab9cbfa31c2ab715d42129e")),
    ({"$toObjectId": "5AB9CBFA31C2AB715D42129E"}, ObjectId("5ab9cbfa31c2ab715d42129e")),
    ({"$toObjectId": {"$literal": OID}}, OID),
    ({"$toObjectId": None}, None),
]


@pytest.mark.parametrize(("expr", "expected"), OBJECT_IDS)
def test_to_object_id(expr, expected):
    assert_same(evaluate_both(expr), expected)


# $toBool: https://www.mongodb.com/docs/manual/reference/operator/aggregation/toBool/#behavior
BOOLS = [
    ({"$toBool": False}, False),
    ({"$toBool": 1.99999}, True),
    ({"$toBool": Decimal128("5")}, True),
    ({"$toBool": Decimal128("0")}, False),
    ({"$toBool": 100}, True),
    ({"$toBool": {"$literal": utc(2018, 3, 26, 4, 38, 28, 44000)}}, True),
    ({"$toBool": "false"}, True),
    ({"$toBool": ""}, True),
    ({"$toBool": None}, None),
    ({"$toBool": "$missing"}, None),
    ({"$toBool": {"$literal": [0]}}, True),
    ({"$toBool": {"$literal": {}}}, True),
    ({"$toBool": {"$literal": b""}}, True),
]


@pytest.mark.parametrize(("expr", "expected"), BOOLS)
def test_to_bool(expr, expected):
    assert_same(evaluate_both(expr), expected)


# The orders example of the $toBool page: unshipped orders are those whose flag converts to false.
@pytest.mark.parametrize(
    ("shipped", "expected"),
    [(True, True), (0, False), (1, True), ("true", True), ("false", True), ("", True)],
)
def test_to_bool_orders_example(shipped, expected):
    assert_same(evaluate({"$toBool": "$shipped"}, {"shipped": shipped}), expected)


# Atlas Stream Processing's binData conversions:
# https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-convert/ and mongod's
# jstests/aggregation/expressions/convert_bindata_numeric.js and convert_bindata.js.
BINDATA = [
    # binData → int: 1, 2 or 4 bytes, signed, little-endian unless told.
    (convert(bytes.fromhex("0000002A"), "int", byteOrder="big"), 42),
    (convert(bytes.fromhex("fe89"), "int", byteOrder="big"), -375),
    (convert(bytes.fromhex("02"), "int", byteOrder="little"), 2),
    (convert(bytes.fromhex("2A000000"), "int"), 42),
    (convert(bytes.fromhex("ff"), "int"), -1),
    (convert(bytes.fromhex("ffffff7f"), "int"), 2147483647),
    # binData → long: 1, 2, 4 or 8 bytes.
    (convert(bytes.fromhex("00000000000000c8"), "long", byteOrder="big"), Int64(200)),
    (convert(bytes.fromhex("A2020000"), "long", byteOrder="little"), Int64(674)),
    (convert(bytes.fromhex("c7cf"), "long", byteOrder="little"), Int64(-12345)),
    (convert(bytes.fromhex("F4"), "long", byteOrder="big"), Int64(-12)),
    (convert(Binary(bytes.fromhex("A2020000"), 6), "long"), Int64(674)),
    # binData → double: 4 bytes are a single-precision float, 8 bytes a double.
    (convert(bytes.fromhex("c004000000000000"), "double", byteOrder="big"), -2.5),
    (convert(bytes.fromhex("41533333"), "double", byteOrder="big"), 13.199999809265137),
    (convert(Binary(bytes.fromhex("000000000000E0BF"), 5), "double", byteOrder="little"), -0.5),
    (convert(bytes.fromhex("0100807F"), "double", byteOrder="little"), NAN),
    (convert(bytes.fromhex("FFF0000000000000"), "double", byteOrder="big"), -INF),
    (convert(Binary(bytes.fromhex("C26CBF6CD2652666"), 2), "double", byteOrder="big"), -987765314345.2),
    # numbers → binData: int 4 bytes, long 8 bytes, double 8 bytes; subtype from 'to'.
    (convert(-375, "binData", byteOrder="big"), bytes.fromhex("fffffe89")),
    (convert(-375, "binData"), bytes.fromhex("89feffff")),
    (convert(Int64(200), {"type": "binData", "subtype": 4}, byteOrder="big"), Binary(bytes.fromhex("00000000000000c8"), 4)),
    (convert(3000000000, "binData", byteOrder="big"), bytes.fromhex("00000000b2d05e00")),
    (convert(-2.5, "binData", byteOrder="big"), bytes.fromhex("c004000000000000")),
    (convert(813245678.98, {"type": "binData", "subtype": 0}, byteOrder="big"), bytes.fromhex("41C83C92777D70A4")),
    (convert(-2.6, "binData", byteOrder="big"), bytes.fromhex("C004CCCCCCCCCCCD")),
    (convert(5, {"type": "binData", "subtype": 128}), Binary(bytes.fromhex("05000000"), 128)),
    # Shorthands read binData as little-endian numbers.
    ({"$toInt": {"$literal": bytes.fromhex("02")}}, 2),
    ({"$toLong": {"$literal": Binary(bytes.fromhex("A2020000"), 6)}}, Int64(674)),
    ({"$toDouble": {"$literal": bytes.fromhex("CDCCCCCCCCCC04C0")}}, -2.6),
    # string → binData in every format.
    (convert(UUID_TEXT, {"type": "binData", "subtype": 4}, format="uuid"), Binary(UUID_BYTES, 4)),
    (convert("hn3uUsMxSE6S0cVkebjmfg==", {"type": "binData", "subtype": 0}, format="base64"), UUID_BYTES),
    (convert("hn3uUsMxSE6S0cVkebjmfg", {"type": "binData", "subtype": 0}, format="base64url"), UUID_BYTES),
    (convert("867DEE52C331484E92D1C56479B8E67E", {"type": "binData", "subtype": 0}, format="hex"), UUID_BYTES),
    (convert("867dee52c331484e92d1c56479b8e67e", "binData", format="hex"), UUID_BYTES),
    (convert("🙂😎", {"type": "binData", "subtype": 0}, format="utf8"), "🙂😎".encode()),
    (convert("_-8", "binData", format="base64url"), bytes.fromhex("ffef")),
    (convert("", "binData", format="base64"), b""),
    # binData → string in every format.
    (convert(uuid.UUID(UUID_TEXT), "string", format="uuid"), UUID_TEXT),
    (convert(Binary(UUID_BYTES, 4), "string", format="auto"), UUID_TEXT),
    (convert(UUID_BYTES, "string", format="auto"), "hn3uUsMxSE6S0cVkebjmfg=="),
    (convert(Binary(UUID_BYTES, 4), "string", format="base64"), "hn3uUsMxSE6S0cVkebjmfg=="),
    (convert(UUID_BYTES, "string", format="base64url"), "hn3uUsMxSE6S0cVkebjmfg"),
    (convert(UUID_BYTES, "string", format="hex"), "867DEE52C331484E92D1C56479B8E67E"),
    (convert("🙂😎".encode(), "string", format="utf8"), "🙂😎"),
    # binData → binData keeps the value when the subtype matches ('subtype' defaults to 0).
    (convert(Binary(UUID_BYTES, 4), {"type": "binData", "subtype": 4}), Binary(UUID_BYTES, 4)),
    (convert(UUID_BYTES, {"type": "binData", "subtype": 0}), UUID_BYTES),
    (convert(UUID_BYTES, "binData"), UUID_BYTES),
    # Failures fall back on onError.
    (convert(Binary(UUID_BYTES, 4), {"type": "binData", "subtype": 0}, onError="E"), "E"),
    (convert(UUID_BYTES, {"type": "binData", "subtype": 4}, onError="E"), "E"),
    (convert(Binary(UUID_BYTES, 255), "binData", onError="E"), "E"),
    (convert(OID, {"type": "binData", "subtype": 0}, onError="E"), "E"),
    (convert(UUID_TEXT, {"type": "binData", "subtype": 0}, format="uuid", onError="E"), "E"),
    (convert("867dee--52-c331-484e-", {"type": "binData", "subtype": 4}, format="uuid", onError="E"), "E"),
    (convert("867dee--52-c331-484e-", "binData", format="base64", onError="E"), "E"),
    (convert("867dee--52-c331-484e-", "binData", format="base64url", onError="E"), "E"),
    (convert("867dee--52-c331-484e-zx", "binData", format="hex", onError="E"), "E"),
    (convert("abc", "binData", format="hex", onError="E"), "E"),
    (convert(UUID_TEXT, "binData", format="auto", onError="E"), "E"),
    (convert("hn3uUsMxSE6S0cVkebjmfg==", {"type": "binData", "subtype": 4}, format="base64", onError="E"), "E"),
    (convert(Decimal128("1.5"), "binData", byteOrder="big", onError="E"), "E"),
    (convert(bytes.fromhex("00000000000000c8"), "int", byteOrder="big", onError="E"), "E"),
    (convert(bytes.fromhex("0100807F00"), "double", byteOrder="little", onError="E"), "E"),
    (convert(b"", "long", onError="E"), "E"),
    (convert(b"\xff\xfe", "string", format="utf8", onError="E"), "E"),
    (convert(UUID_BYTES, "string", format="uuid", onError="E"), "E"),
    # $toUUID: https://www.mongodb.com/docs/manual/reference/operator/aggregation/toUUID/
    ({"$toUUID": "0e3b9063-8abd-4eb3-9f9f-f4c59fd30a60"}, Binary(uuid.UUID("0e3b9063-8abd-4eb3-9f9f-f4c59fd30a60").bytes, 4)),
    ({"$toUUID": None}, None),
]


@pytest.mark.parametrize(("expr", "expected"), BINDATA)
def test_bindata_conversions(expr, expected):
    assert_same(evaluate_both(expr), expected)


# $type: https://www.mongodb.com/docs/manual/reference/operator/aggregation/type/#behavior
TYPES = [
    ({"$type": "a"}, "string"),
    ({"$type": 1}, "int"),
    ({"$type": 1.5}, "double"),
    ({"$type": 3000000000}, "long"),
    ({"$type": Int64(1)}, "long"),
    ({"$type": Decimal128("1")}, "decimal"),
    ({"$type": True}, "bool"),
    ({"$type": None}, "null"),
    ({"$type": "$missing"}, "missing"),
    ({"$type": {"$literal": {"a": 1}}}, "object"),
    ({"$type": [[1, 2]]}, "array"),
    ({"$type": {"$literal": OID}}, "objectId"),
    ({"$type": {"$literal": utc(2018, 1, 1)}}, "date"),
    ({"$type": {"$literal": b"x"}}, "binData"),
    ({"$type": {"$literal": Binary(UUID_BYTES, 4)}}, "binData"),
    ({"$type": {"$literal": Regex("a")}}, "regex"),
    ({"$type": {"$literal": Timestamp(1, 1)}}, "timestamp"),
    ({"$type": {"$literal": MinKey()}}, "minKey"),
    ({"$type": {"$literal": MaxKey()}}, "maxKey"),
    ({"$type": {"$literal": Code("x")}}, "javascript"),
    ({"$type": "$a.b"}, "array"),
]


@pytest.mark.parametrize(("expr", "expected"), TYPES)
def test_type(expr, expected):
    assert_same(evaluate(expr, {"a": [{"b": 1}, {"b": 2}]}), expected)


# $isNumber: https://www.mongodb.com/docs/manual/reference/operator/aggregation/isNumber/
IS_NUMBER = [
    ({"$isNumber": 1}, True),
    ({"$isNumber": 1.5}, True),
    ({"$isNumber": Int64(1)}, True),
    ({"$isNumber": Decimal128("1")}, True),
    ({"$isNumber": NAN}, True),
    ({"$isNumber": "1"}, False),
    ({"$isNumber": True}, False),
    ({"$isNumber": None}, False),
    ({"$isNumber": "$missing"}, False),
    ({"$isNumber": [[1]]}, False),
    ({"$isNumber": {"$literal": utc(2018, 1, 1)}}, False),
]


@pytest.mark.parametrize(("expr", "expected"), IS_NUMBER)
def test_is_number(expr, expected):
    assert_same(evaluate_both(expr), expected)


# The $isNumber page's grades example: a score is numeric or a string to convert.
@pytest.mark.parametrize(
    ("grade", "expected"),
    [(85, True), ("B+", False), (Decimal128("92.5"), True), (None, False)],
)
def test_is_number_grades_example(grade, expected):
    assert_same(evaluate({"$isNumber": "$grade"}, {"grade": grade}), expected)


# Edge cases from mongod's own unit tests, restated as rows:
# https://github.com/mongodb/mongo/blob/master/src/mongo/db/exec/expression/evaluate_convert_test.cpp
MONGOD_UNIT_CASES = [
    # Strings to doubles and decimals.
    ({"$toDouble": "+5.0e42"}, 5.0e42),
    ({"$toDouble": "10000000000000000001"}, 1e19),
    ({"$toDouble": "1.125000000000000000005"}, 1.125),
    ({"$toDouble": "+InFiNiTy"}, INF),
    ({"$toDouble": "-INF"}, -INF),
    ({"$toDouble": "-NAN"}, NAN),
    ({"$toDouble": "-0"}, -0.0),
    ({"$toDouble": "+0.0"}, 0.0),
    ({"$toDecimal": "2.02E200"}, Decimal128("2.02E200")),
    ({"$toDecimal": "10000000000000000000000000000000001"}, Decimal128("1.000000000000000000000000000000000E+34")),
    ({"$toDecimal": "1.1250000000000000000000000000000001"}, Decimal128("1.125000000000000000000000000000000")),
    ({"$toDecimal": "INF"}, Decimal128("Infinity")),
    ({"$toDecimal": "-nan"}, Decimal128("-NaN")),
    ({"$toDecimal": "-0.0"}, Decimal128("-0.0")),
    ({"$toObjectId": "123456789abcdef123456789"}, ObjectId("123456789abcdef123456789")),
    # Dates from strings: offsets, military zones, words.
    ({"$toDate": "2017-07-06T12:35:37Z"}, utc(2017, 7, 6, 12, 35, 37)),
    ({"$toDate": "2017-07-06T12:35:37.513Z"}, utc(2017, 7, 6, 12, 35, 37, 513000)),
    ({"$toDate": "2017-07-06"}, utc(2017, 7, 6)),
    ({"$toDate": "2017-07-14T12:02:44.771 GMT+02:00"}, utc(2017, 7, 14, 10, 2, 44, 771000)),
    ({"$toDate": "2017-07-14T12:02:44.771 A"}, utc(2017, 7, 14, 11, 2, 44, 771000)),
    ({"$toDate": "July 4th, 2017"}, utc(2017, 7, 4)),
    ({"$toDate": "July 4th, 2017 12pm"}, utc(2017, 7, 4, 12)),
    ({"$toDate": "2017-Jul-04 noon"}, utc(2017, 7, 4, 12)),
    # Strings of doubles, decimals, ids, dates, longs.
    ({"$toString": 0.0}, "0"),
    ({"$toString": -1337.0}, "-1337"),
    ({"$toString": -0.1337}, "-0.1337"),
    ({"$toString": 1.3e37}, "1.3e+37"),
    ({"$toString": -1.3e-37}, "-1.3e-37"),
    ({"$toString": {"$literal": ObjectId("000000000000000000000000")}}, "000000000000000000000000"),
    ({"$toString": {"$literal": ms(872835240000)}}, "1997-08-29T06:14:00.000Z"),
    ({"$toString": Int64(-1337133713371337)}, "-1337133713371337"),
    ({"$toString": Decimal128("0.0000")}, "0.0000"),
    ({"$toString": Decimal128("-0.133700")}, "-0.133700"),
    ({"$toString": Decimal128("13370000000000000000000000000000000")}, "1.337000000000000000000000000000000E+34"),
    ({"$toString": Decimal128("-1.3e37")}, "-1.3E+37"),
    ({"$toString": Decimal128("1.3e-37")}, "1.3E-37"),
    ({"$toString": Decimal128("-NaN")}, "NaN"),
    # Decimals to integers truncate toward zero.
    ({"$toLong": Decimal128("2.9")}, Int64(2)),
    ({"$toLong": Decimal128("-2.9")}, Int64(-2)),
    ({"$toInt": Int64(2147483647)}, 2147483647),
    # binData and numbers.
    (convert(bytes([0, 1, 0, 0]), "int", byteOrder="big"), 65536),
    (convert(bytes([1, 0]), "int"), 1),
    (convert(bytes([0x40, 0]), "long", byteOrder="big"), Int64(16384)),
    (convert(bytes([0x66, 0xE6, 0x40, 0xC6]), "double", byteOrder="little"), -12345.599609375),
    (convert(bytes.fromhex("406BC70A3D70A3D7"), "double", byteOrder="big"), 222.22),
    (convert(bytes.fromhex("7F800000"), "double", byteOrder="big"), INF),
    (convert(bytes.fromhex("000080FF"), "double", byteOrder="little"), -INF),
    (convert(-300, "binData", byteOrder="big"), bytes.fromhex("fffffed4")),
    (convert(-2, "binData", byteOrder="little"), bytes.fromhex("feffffff")),
    (convert(Int64(205), "binData"), bytes.fromhex("cd00000000000000")),
    (convert(178.0, "binData", byteOrder="little"), bytes.fromhex("0000000000406640")),
    (convert(INF, "binData", byteOrder="little"), bytes.fromhex("000000000000F07F")),
    ({"$convert": {"input": {"$toInt": "1"}, "to": "binData", "byteOrder": "big"}}, bytes.fromhex("00000001")),
    ({"$convert": {"input": {"$toLong": "75"}, "to": "binData", "byteOrder": "big"}}, bytes.fromhex("000000000000004b")),
    ({"$toInt": {"$literal": Binary(bytes([1, 0]), 3)}}, 1),
]


@pytest.mark.parametrize(("expr", "expected"), MONGOD_UNIT_CASES)
def test_mongod_unit_cases(expr, expected):
    assert_same(evaluate_both(expr), expected)


# $toHashedIndexKey: https://www.mongodb.com/docs/manual/reference/operator/aggregation/toHashedIndexKey/
# and the test vectors of mongod's hashed indexes:
# https://github.com/mongodb/mongo/blob/master/src/mongo/db/hasher_test.cpp
HASHES = [
    ("string to hash", 763543691661428748),
    (42, -944302157085130861),
    (42.123, -944302157085130861),
    (Int64(42), -944302157085130861),
    (0, 4854801880128277513),
    (0.456, 4854801880128277513),
    (NAN, 4854801880128277513),
    (1.987, 5902408780260971510),
    (-1.789, 1140205862565771219),
    (-(2**31), 6165898260261354870),
    (2147483647.0, 1143184177162245883),
    (1.7976931348623157e308, 921523596458303250),
    (Int64(2**63 - 1), 921523596458303250),
    (-1.7976931348623157e308, 4532067210535695462),
    (Int64(-(2**63)), 4532067210535695462),
    (MinKey(), 7961148599568647290),
    (MaxKey(), 5504842513779440750),
    ("abc", 8478485326885698097),
    ("", 2049396243249673340),
    ({"a": "abc", "b": Int64(123)}, 4771603801758380216),
    ({}, 7980500913326740417),
    (["bar", "baz", "qux"], -2938911267422831539),
    ([], 8849948234993459283),
    (bytes([0, 1, 2, 3, 4, 6]), 7252465090394235301),
    (Binary(bytes([0, 1, 2, 3, 4, 6]), 128), 5736670452907618262),
    (Binary(bytes(range(16)), 4), 6084661258071355978),
    (uuid.UUID(bytes=bytes(range(16))), 6084661258071355978),
    (ObjectId("010203040506070809101112"), -5588663249627035708),
    (ObjectId("000000000000000000000000"), -4293118519463489418),
    (True, 6405873908747105701),
    (False, 6289544573401934092),
    (utc(1970, 1, 1), -1178696894582842035),
    (Regex("mongodb"), -7275792090268217043),
    (Regex(".*", "i"), 7095855029187981886),
    (Code("func f() { return 1; }"), 6861638109178014270),
    (Code("func f() { return 1; }", {"c": True}), 501342939894575968),
    (MISSING, 40158834000849533),  # an absent value hashes like undefined
]


@pytest.mark.parametrize(("value", "expected"), HASHES)
def test_to_hashed_index_key(value, expected):
    doc = {} if value is MISSING else {"v": value}
    assert_same(evaluate({"$toHashedIndexKey": "$v"}, doc), Int64(expected))


def test_to_hashed_index_key_folds_constants():
    assert compile_expression({"$toHashedIndexKey": "string to hash"}).constant == Int64(763543691661428748)


NFE = "in $convert with no onError value"
# Run-time failures and mongod's wording (evaluate_convert.cpp, parse_number.cpp).
RUNTIME_ERRORS = [
    ({"$toInt": "2.5"}, f"Failed to parse number '2.5' {NFE}: Did not consume whole string."),
    ({"$toInt": "abc"}, f"Failed to parse number 'abc' {NFE}: Did not consume whole string."),
    ({"$toInt": " 1"}, f"Failed to parse number ' 1' {NFE}: Did not consume whole string."),
    ({"$toInt": "1 "}, f"Failed to parse number '1 ' {NFE}: Did not consume whole string."),
    ({"$toInt": ""}, f"Failed to parse number '' {NFE}: No digits"),
    ({"$toInt": "-"}, f"Failed to parse number '-' {NFE}: No digits"),
    ({"$toInt": "2147483648"}, f"Failed to parse number '2147483648' {NFE}: Overflow"),
    ({"$toLong": "9223372036854775808"}, f"Failed to parse number '9223372036854775808' {NFE}: Overflow"),
    ({"$toInt": "0x6400"}, f"Illegal hexadecimal input {NFE}: 0x6400"),
    ({"$toDouble": "0X10"}, f"Illegal hexadecimal input {NFE}: 0X10"),
    ({"$toDouble": "abc"}, f"Failed to parse number 'abc' {NFE}: Did not consume any digits"),
    ({"$toDouble": {"$literal": "$100.00"}}, f"Failed to parse number '$100.00' {NFE}: Did not consume any digits"),
    ({"$toDouble": "12,50"}, f"Failed to parse number '12,50' {NFE}: Did not consume whole string."),
    ({"$toDouble": "1e"}, f"Failed to parse number '1e' {NFE}: Did not consume whole string."),
    ({"$toDouble": " 1"}, f"Failed to parse number ' 1' {NFE}: Leading whitespace"),
    ({"$toDouble": ""}, f"Failed to parse number '' {NFE}: Empty string"),
    ({"$toDouble": "1e400"}, f"Failed to parse number '1e400' {NFE}: Out of range"),
    ({"$toDouble": "1e-400"}, f"Failed to parse number '1e-400' {NFE}: Out of range"),
    ({"$toDecimal": "abc"}, f"Failed to parse number 'abc' {NFE}: Failed to parse string to decimal"),
    ({"$toDecimal": "1E6145"}, f"Failed to parse number '1E6145' {NFE}: Conversion from string to decimal would overflow"),
    ({"$toDecimal": "1E-6178"}, f"Failed to parse number '1E-6178' {NFE}: Conversion from string to decimal would underflow"),
    ({"$toDecimal": "-1E-6177"}, f"Failed to parse number '-1E-6177' {NFE}: Conversion from string to decimal would underflow"),
    ({"$toDecimal": "FF"}, f"Failed to parse number 'FF' {NFE}: Failed to parse string to decimal"),
    ({"$toDecimal": "0x00"}, f"Illegal hexadecimal input {NFE}: 0x00"),
    ({"$toDouble": "FF"}, f"Failed to parse number 'FF' {NFE}: Did not consume any digits"),
    ({"$toDouble": ".5."}, f"Failed to parse number '.5.' {NFE}: Did not consume whole string."),
    ({"$toDouble": "5.5f"}, f"Failed to parse number '5.5f' {NFE}: Did not consume whole string."),
    ({"$toDouble": "1E-1000"}, f"Failed to parse number '1E-1000' {NFE}: Out of range"),
    ({"$toLong": "5.0"}, f"Failed to parse number '5.0' {NFE}: Did not consume whole string."),
    ({"$toLong": "0xFF"}, f"Illegal hexadecimal input {NFE}: 0xFF"),
    ({"$toObjectId": "InvalidHexButSizeCorrect"}, f"Failed to parse objectId 'InvalidHexButSizeCorrect' {NFE}: Invalid character found in hex string: 'I'"),
    ({"$toObjectId": "0x123456789abcdef123456789"}, f"Failed to parse objectId '0x123456789abcdef123456789' {NFE}: Invalid string length"),
    ({"$toDate": "60.Monday1770/06:59"}, "Error parsing date string '60.Monday1770/06:59'"),
    ({"$toDate": "2017-07-13T10:02:57 Europe/London"}, "Error parsing date string"),
    ({"$toDate": "July 4, 2017 Europe/London"}, "Error parsing date string"),
    ({"$toDate": "2018-03-20 10:00 +9900"}, "Error parsing date string '2018-03-20 10:00 +9900'"),
    ({"$toDate": "2018-03-20 13pm"}, "Error parsing date string '2018-03-20 13pm'"),
    ({"$toDate": "Smarch 3, 2018"}, "Error parsing date string 'Smarch 3, 2018'"),
    ({"$toDate": "2018"}, "Error parsing date string '2018'"),
    (convert(bytes([2, 2, 2]), "int", byteOrder="big"), "Failed to convert 'BinData(0, 020202)' to number"),
    (convert(bytes([5, 0, 0x80]), "double"), "Failed to convert 'BinData(0, 050080)' to number"),
    ({"$toDecimal": "1e7000"}, f"Failed to parse number '1e7000' {NFE}: Conversion from string to decimal would overflow"),
    ({"$toInt": 2147483648.0}, f"Conversion would overflow target type {NFE}: 2.14748e+09"),
    # The range is checked before truncating: -2147483648.5 overflows even though it truncates to INT_MIN.
    ({"$toInt": -2147483648.5}, f"Conversion would overflow target type {NFE}: -2.14748e+09"),
    ({"$toInt": -1e10}, f"Conversion would overflow target type {NFE}: -1e+10"),
    ({"$toLong": 9.3e18}, f"Conversion would overflow target type {NFE}: 9.3e+18"),
    ({"$toInt": NAN}, f"Attempt to convert NaN value to integer type {NFE}"),
    ({"$toLong": -INF}, f"Attempt to convert infinity value to integer type {NFE}"),
    ({"$toDate": NAN}, f"Attempt to convert NaN value to integer type {NFE}"),
    ({"$toInt": Decimal128("NaN")}, f"Attempt to convert NaN value to integer type {NFE}"),
    ({"$toInt": Decimal128("Infinity")}, f"Attempt to convert infinity value to integer type {NFE}"),
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/toInt/ table: "Error"
    ({"$toInt": Decimal128("9223372036000.000")}, f"Conversion would overflow target type {NFE}: 9223372036000.000"),
    ({"$toInt": Int64(922337203600)}, f"Conversion would overflow target type {NFE}: "),
    ({"$toLong": Decimal128("9223372036854775808.0")}, f"Conversion would overflow target type {NFE}: 9223372036854775808.0"),
    ({"$toDouble": Decimal128("1E+400")}, f"Conversion would overflow target type {NFE}: 1E+400"),
    ({"$toDouble": Decimal128("1E-400")}, f"Conversion would overflow target type {NFE}: 1E-400"),
    ({"$toDate": 1}, f"Unsupported conversion from int to date {NFE}"),
    ({"$toDate": True}, f"Unsupported conversion from bool to date {NFE}"),
    ({"$toInt": {"$literal": OID}}, f"Unsupported conversion from objectId to int {NFE}"),
    ({"$toObjectId": 5}, f"Unsupported conversion from int to objectId {NFE}"),
    ({"$toString": {"$literal": [1]}}, f"Unsupported conversion from array to string {NFE}"),
    ({"$toDouble": {"$literal": {"a": 1}}}, f"Unsupported conversion from object to double {NFE}"),
    ({"$toUUID": 5}, f"Unsupported conversion from int to binData {NFE}"),
    (
        {"$toObjectId": "abc"},
        f"Failed to parse objectId 'abc' {NFE}: Invalid string length for parsing to OID, expected 24 but found 3",
    ),
    (
        {"$toObjectId": "0123456789abcdef0123456z"},
        f"Failed to parse objectId '0123456789abcdef0123456z' {NFE}: Invalid character found in hex string: 'z'",
    ),
    ({"$toDate": "not a date"}, "Error parsing date string 'not a date'"),
    ({"$toDate": "2018-13-01"}, "Error parsing date string '2018-13-01'"),
    ({"$toDate": "2018-02-30"}, "Error parsing date string '2018-02-30'"),
    ({"$toUUID": "not-a-uuid"}, f"Failed to parse BinData 'not-a-uuid' {NFE}: Invalid UUID string: not-a-uuid"),
    (
        convert(bytes.fromhex("00000000000000c8"), "int"),
        "Failed to convert 'BinData(0, 00000000000000C8)' to number in $convert because of invalid length: 8",
    ),
    (
        convert(b"\xff", "string", format="utf8"),
        f"Failed to convert 'BinData(0, FF)' to string {NFE}: BinData does not represent a valid UTF-8 string",
    ),
    (
        convert(UUID_TEXT, "binData", format="uuid"),
        f"Failed to parse BinData '{UUID_TEXT}' {NFE}: Only the 'uuid' format is allowed with the UUID subtype",
    ),
    (convert(Binary(b"a", 4), "binData"), "Conversions between different BinData subtypes are not supported"),
    # Hard errors: onError does not catch them (mongod raises them outside ConversionFailure).
    (convert("abc", "binData", onError="E"), "Format must be speficied when converting from 'string' to 'binData'"),
    (convert(b"abc", "string", onError="E"), "Format must be speficied when converting from 'binData' to 'string'"),
    ({"$convert": {"input": 1, "to": "$t", "onError": "E"}}, "Unknown type name: nonsense"),
    ({"$convert": {"input": None, "to": "$t", "onNull": "N"}}, "Unknown type name: nonsense"),
    ({"$convert": {"input": 1, "to": "$n", "onError": "E"}}, "In $convert, numeric 'to' argument is not an integer"),
    ({"$convert": {"input": 1, "to": "$o", "onError": "E"}}, "$convert's 'to' argument must be a string or number"),
    ({"$convert": {"input": 1, "to": "binData", "byteOrder": "$t", "onError": "E"}}, "Invalid 'byteOrder' argument for $convert: nonsense"),
    ({"$convert": {"input": "a", "to": "binData", "format": "$t", "onError": "E"}}, "Invalid 'format' argument for $convert: nonsense"),
]


@pytest.mark.parametrize(("expr", "message"), RUNTIME_ERRORS)
def test_runtime_errors(expr, message):
    per_document, doc = via_document(expr)
    doc.update({"t": "nonsense", "n": 3.6, "o": {"dinosaur": "Tyrannosaurus rex"}})
    with pytest.raises(ExpressionError) as caught:
        evaluate(per_document, doc)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ({"$toInt": "abc"}, "Failed to parse number 'abc' in $convert with no onError value"),
        (convert("x", "int"), "Failed to parse number 'x' in $convert with no onError value"),
        ({"$toDate": 1}, "Unsupported conversion from int to date"),
        # mongod's shortcut test: [[ "1" ]] is one argument, an array, which cannot become an int.
        ({"$toInt": [["1"]]}, "Unsupported conversion from array to int in $convert with no onError value"),
    ],
)
def test_constant_input_that_cannot_convert_is_a_pipeline_error(expr, message):
    """A constant conversion is done once at compile time; if it fails it fails for every document."""
    with pytest.raises(SpecError) as caught:
        evaluate(expr)
    assert str(caught.value).startswith(message)


def test_constant_conversion_is_folded():
    fn = compile_expression({"$toInt": "42"})
    assert fn.constant == 42


# Compile-time problems: arity, unknown or missing $convert arguments, bad constant 'to'/'format'.
SPEC_ERRORS = [
    ({"$toInt": [1, 2]}, "$toInt takes exactly 1 argument"),
    ({"$toString": []}, "$toString takes exactly 1 argument"),
    ({"$type": [1, 2]}, "$type takes exactly 1 argument"),
    ({"$isNumber": [1, 2]}, "$isNumber takes exactly 1 argument"),
    ({"$toUUID": [1, 2]}, "$toUUID takes exactly 1 argument"),
    ({"$toHashedIndexKey": [1, 2]}, "$toHashedIndexKey takes exactly 1 argument"),
    ({"$convert": 5}, "$convert expects an object"),
    ({"$convert": {"to": "int"}}, "$convert requires 'input'"),
    ({"$convert": {"input": 1}}, "$convert requires 'to'"),
    ({"$convert": {"input": 1, "to": "int", "targetType": "int"}}, "$convert found an unknown argument: targetType"),
    ({"$convert": {"input": 1, "to": "integer"}}, "Unknown type name: integer"),
    ({"$convert": {"input": 1, "to": 3.6}}, "In $convert, numeric 'to' argument is not an integer"),
    ({"$convert": {"input": 1, "to": 100}}, "In $convert, numeric value for 'to' does not correspond to a BSON type: 100"),
    ({"$convert": {"input": 1, "to": -2}}, "In $convert, numeric value for 'to' does not correspond to a BSON type: -2"),
    ({"$convert": {"input": 1, "to": {"type": -2}}}, "does not correspond to a BSON type: -2"),
    ({"$convert": {"input": 1, "to": True}}, "$convert's 'to' argument must be a string or number, but is bool"),
    ({"$convert": {"input": 1, "to": {"dinosaur": "T. rex"}}}, "$convert's 'to' argument must be a string or number"),
    ({"$convert": {"input": "a", "to": {"type": "binData", "subtype": -1}}}, "does not correspond to a BinData type: -1"),
    ({"$convert": {"input": "a", "to": {"type": "binData", "subtype": 1000}}}, "does not correspond to a BinData type: 1000"),
    ({"$convert": {"input": "a", "to": {"type": "binData", "subtype": 256}}}, "does not correspond to a BinData type: 256"),
    ({"$convert": {"input": "a", "to": {"type": "binData", "subtype": 127}}}, "does not correspond to a BinData type: 127"),
    ({"$convert": {"input": "a", "to": {"type": "binData", "subtype": 1.5}}}, "numeric 'subtype' argument is not an integer"),
    ({"$convert": {"input": "a", "to": {"type": "binData", "subtype": "4"}}}, "'subtype' argument must be a number, but is string"),
    ({"$convert": {"input": 1, "to": "binData", "byteOrder": "weird"}}, "Invalid 'byteOrder' argument for $convert: weird"),
    ({"$convert": {"input": 1, "to": "binData", "byteOrder": "silly"}}, "Invalid 'byteOrder' argument for $convert: silly"),
    ({"$convert": {"input": 1, "to": "binData", "byteOrder": 1}}, "$convert requires that 'byteOrder' be a string, found: int"),
    ({"$convert": {"input": "a", "to": "binData", "format": "base32"}}, "Invalid 'format' argument for $convert: base32"),
    ({"$convert": {"input": "a", "to": "binData", "format": 64}}, "$convert requires that 'format' be a string, found: int"),
]


@pytest.mark.parametrize(("expr", "message"), SPEC_ERRORS)
def test_spec_errors(expr, message):
    with pytest.raises(SpecError) as caught:
        evaluate(expr)
    assert message in str(caught.value)


def test_spec_error_points_at_the_argument():
    with pytest.raises(SpecError) as caught:
        evaluate({"$convert": {"input": 1, "to": "integer"}})
    assert caught.value.path == ("$convert", "to")


# $toDate reads strings with $dateFromString's parser, in UTC.
def test_parse_date_string_reads_strings_as_date_from_string_does():
    assert parse_date_string("2018-03-20 10:00") == utc(2018, 3, 20, 10)
    assert parse_date_string("2018-03-20T10:00:00Z") == utc(2018, 3, 20, 10)
    assert parse_date_string("2018-03-20T10:00:00+02:00") == utc(2018, 3, 20, 8)
    assert parse_date_string("Feb 8, 2017") == utc(2017, 2, 8)


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.0, "1"), (123456789.0, "123456789"), (1.2345678901234568e17, "1.2345678901234568e+17"), (1e-5, "1e-05"), (-2.5, "-2.5")],
)
def test_format_double(value, text):
    assert format_double(value) == text


def test_results_of_a_dynamic_to_follow_each_document():
    expr = {"$convert": {"input": "$v", "to": "$t", "onError": "E"}}
    rows = [({"v": "5", "t": "int"}, 5), ({"v": "5", "t": "double"}, 5.0), ({"v": "x", "t": "int"}, "E"), ({"v": 5, "t": None}, None)]
    for doc, expected in rows:
        assert_same(evaluate(expr, doc), expected)


def test_nan_round_trip_through_binary():
    result = evaluate({"$convert": {"input": {"$convert": {"input": NAN, "to": "binData"}}, "to": "double"}})
    assert math.isnan(result)
