"""Arithmetic expression operators: values, BSON result types, overflow and mongod's errors."""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone

import pytest
from bson import Decimal128, Int64

from expression_cases import MISSING, assert_same, evaluate
from translator.errors import ExpressionError, SpecError

D = Decimal128
L = Int64
NAN, INF = math.nan, math.inf
DATE = datetime(2014, 3, 1, 8, 0, tzinfo=timezone.utc)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


# https://www.mongodb.com/docs/manual/reference/operator/aggregation/add/
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/subtract/
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/multiply/
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/divide/
ADD_SUBTRACT_MULTIPLY_DIVIDE = [
    ({"$add": ["$price", "$fee"]}, {"price": 10, "fee": 2}, 12),
    ({"$add": ["$price", "$fee"]}, {"price": 20, "fee": 1}, 21),
    ({"$add": ["$date", 3 * 24 * 60 * 60000]}, {"date": DATE}, utc(2014, 3, 4, 8, 0)),
    ({"$add": [1, 2, 3]}, {}, 6),
    ({"$add": ["$a", "$b"]}, {"a": 2147483647, "b": 1}, L(2147483648)),  # int overflow → long
    ({"$add": ["$a", "$b"]}, {"a": -2147483648, "b": -1}, L(-2147483649)),
    ({"$add": ["$a", "$b"]}, {"a": L(1), "b": 1}, L(2)),  # a long stays a long
    ({"$add": ["$a", "$b"]}, {"a": 3_000_000_000, "b": -2_999_999_999}, L(1)),
    ({"$add": ["$a", "$b"]}, {"a": L(2**63 - 1), "b": 1}, 9.223372036854776e18),  # long → double
    ({"$add": ["$a", "$b", "$c"]}, {"a": L(2**63 - 1), "b": 1, "c": -1}, 9.223372036854776e18),
    ({"$add": ["$a", "$b"]}, {"a": 1, "b": 0.5}, 1.5),
    ({"$add": ["$a", "$b"]}, {"a": 0.1, "b": 0.2}, 0.30000000000000004),
    ({"$add": ["$a", "$b"]}, {"a": 1, "b": D("1.50")}, D("2.50")),
    ({"$add": ["$a", "$b"]}, {"a": 0.1, "b": D("0")}, D("0.100000000000000")),  # a double keeps 15 digits
    ({"$add": ["$a"]}, {"a": D("1E+2")}, D("100")),
    ({"$multiply": ["$a", "$b"]}, {"a": 9.9999999999999999e22, "b": D("1")}, D("1.00000000000000E+23")),
    ({"$add": ["$a", "$b"]}, {"a": -2.5, "b": D("0")}, D("-2.50000000000000")),
    ({"$add": ["$a", "$b"]}, {"a": 1 / 3, "b": D("0")}, D("0.333333333333333")),
    ({"$add": ["$a", "$b"]}, {"a": INF, "b": -INF}, NAN),
    ({"$add": ["$a", "$b"]}, {"a": NAN, "b": 1}, NAN),
    ({"$add": ["$a", 1]}, {}, None),
    ({"$add": ["$a", "$b"]}, {"a": None, "b": "text"}, None),  # null first wins over the bad type
    ({"$add": ["$date", 1.5]}, {"date": DATE}, utc(2014, 3, 1, 8, 0, 0, 2000)),  # llround: half away
    ({"$add": ["$date", -1.5]}, {"date": DATE}, utc(2014, 3, 1, 7, 59, 59, 998000)),
    ({"$add": [1000, "$date", D("1000")]}, {"date": DATE}, utc(2014, 3, 1, 8, 0, 2)),
    ({"$add": []}, {}, 0),
    ({"$subtract": ["$a", "$b"]}, {"a": 12, "b": 5}, 7),
    ({"$subtract": [{"$add": ["$price", "$fee"]}, "$discount"]}, {"price": 20, "fee": 1, "discount": 2}, 19),
    ({"$subtract": ["$a", "$b"]}, {"a": -2147483648, "b": 1}, L(-2147483649)),
    ({"$subtract": ["$a", "$b"]}, {"a": L(-(2**63) + 1), "b": 2}, -9.223372036854776e18),
    ({"$subtract": ["$a", "$b"]}, {"a": L(5), "b": 3}, L(2)),
    ({"$subtract": ["$a", "$b"]}, {"a": 5, "b": 0.5}, 4.5),
    ({"$subtract": ["$a", "$b"]}, {"a": D("5.5"), "b": 0.5}, D("5.000000000000000")),
    ({"$subtract": ["$a", "$b"]}, {"a": utc(2014, 3, 2), "b": utc(2014, 3, 1)}, L(86400000)),
    ({"$subtract": ["$date", 5 * 60 * 1000]}, {"date": DATE}, utc(2014, 3, 1, 7, 55)),
    ({"$subtract": ["$date", D("1000")]}, {"date": DATE}, utc(2014, 3, 1, 7, 59, 59)),
    ({"$subtract": ["$a", "$b"]}, {"a": None, "b": DATE}, None),
    ({"$subtract": ["$a", "$b"]}, {"a": DATE}, None),
    ({"$multiply": ["$price", "$quantity"]}, {"price": 10, "quantity": 2}, 20),
    ({"$multiply": ["$price", "$quantity"]}, {"price": 5, "quantity": 10}, 50),
    ({"$multiply": [2, 3, 4]}, {}, 24),
    ({"$multiply": ["$a", "$b"]}, {"a": 65536, "b": 65536}, L(4294967296)),
    ({"$multiply": ["$a", "$b"]}, {"a": L(3037000500), "b": L(3037000500)}, 9.22337203700025e18),
    ({"$multiply": ["$a", "$b"]}, {"a": L(2), "b": 3}, L(6)),
    ({"$multiply": ["$a", "$b"]}, {"a": 0.1, "b": 3}, 0.30000000000000004),
    ({"$multiply": ["$a", "$b"]}, {"a": 0.1, "b": D("3")}, D("0.300000000000000")),
    ({"$multiply": ["$a", "$b", "$c"]}, {"a": 2, "b": 0.5, "c": D("3")}, D("3.00000000000000")),
    ({"$multiply": ["$a", "$b"]}, {"a": D("1.5"), "b": D("2.0")}, D("3.00")),
    ({"$multiply": ["$a", "$b"]}, {"a": INF, "b": 0}, NAN),
    ({"$multiply": ["$a", 2]}, {"a": MISSING}, None),
    ({"$divide": ["$hours", 8]}, {"hours": 80}, 10.0),
    ({"$divide": ["$a", "$b"]}, {"a": 1, "b": 3}, 0.3333333333333333),
    ({"$divide": ["$a", "$b"]}, {"a": L(9007199254740993), "b": 1}, 9007199254740992.0),
    ({"$divide": ["$a", "$b"]}, {"a": D("1"), "b": 3}, D("0.3333333333333333333333333333333333")),
    ({"$divide": ["$a", "$b"]}, {"a": 1, "b": D("0.5")}, D("2")),
    ({"$divide": ["$a", "$b"]}, {"a": INF, "b": INF}, NAN),
    ({"$divide": ["$a", "$b"]}, {"a": "x", "b": None}, None),
]


# https://www.mongodb.com/docs/manual/reference/operator/aggregation/mod/
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/abs/
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/ceil/
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/floor/
MOD_ABS_CEIL_FLOOR = [
    ({"$mod": ["$hours", "$tasks"]}, {"hours": 80, "tasks": 7}, 3),
    ({"$mod": ["$hours", "$tasks"]}, {"hours": 40, "tasks": 4}, 0),
    ({"$mod": ["$a", "$b"]}, {"a": -5, "b": 3}, -2),  # the dividend's sign, as C's %
    ({"$mod": ["$a", "$b"]}, {"a": 5, "b": -3}, 2),
    ({"$mod": ["$a", "$b"]}, {"a": L(-7), "b": 2}, L(-1)),
    ({"$mod": ["$a", "$b"]}, {"a": L(-(2**63)), "b": -1}, L(0)),
    ({"$mod": ["$a", "$b"]}, {"a": 5.5, "b": 2}, 1.5),
    ({"$mod": ["$a", "$b"]}, {"a": -5.5, "b": 2}, -1.5),
    ({"$mod": ["$a", "$b"]}, {"a": INF, "b": 2}, NAN),
    ({"$mod": ["$a", "$b"]}, {"a": 5, "b": INF}, 5.0),
    ({"$mod": ["$a", "$b"]}, {"a": D("-7.5"), "b": 2}, D("-1.5")),
    ({"$mod": ["$a", "$b"]}, {"a": D("1E+40"), "b": 7}, D("4")),
    ({"$mod": ["$a", "$b"]}, {"b": 2}, None),
    ({"$abs": {"$subtract": ["$startTemp", "$endTemp"]}}, {"startTemp": 50, "endTemp": 80}, 30),
    ({"$abs": {"$subtract": ["$startTemp", "$endTemp"]}}, {"startTemp": 90, "endTemp": 70}, 20),
    ({"$abs": "$a"}, {"a": -2147483648}, L(2147483648)),
    ({"$abs": "$a"}, {"a": L(-5)}, L(5)),
    ({"$abs": "$a"}, {"a": -0.0}, 0.0),
    ({"$abs": "$a"}, {"a": -INF}, INF),
    ({"$abs": "$a"}, {"a": D("-1.50")}, D("1.50")),
    ({"$abs": "$a"}, {"a": None}, None),
    ({"$ceil": "$value"}, {"value": 9.25}, 10.0),
    ({"$ceil": "$value"}, {"value": 8.73}, 9.0),
    ({"$ceil": "$value"}, {"value": -5.34}, -5.0),
    ({"$ceil": "$value"}, {"value": 7}, 7),
    ({"$ceil": "$value"}, {"value": L(7)}, L(7)),
    ({"$ceil": "$value"}, {"value": D("1.01")}, D("2")),
    ({"$ceil": "$value"}, {"value": NAN}, NAN),
    ({"$floor": "$value"}, {"value": 9.25}, 9.0),
    ({"$floor": "$value"}, {"value": 4.32}, 4.0),
    ({"$floor": "$value"}, {"value": -5.34}, -6.0),
    ({"$floor": "$value"}, {"value": D("-1.01")}, D("-2")),
    ({"$floor": "$value"}, {"value": -INF}, -INF),
    ({"$floor": "$value"}, {}, None),
]


DISTANCE = {
    "$sqrt": {
        "$add": [
            {"$pow": [{"$subtract": ["$p2.y", "$p1.y"]}, 2]},
            {"$pow": [{"$subtract": ["$p2.x", "$p1.x"]}, 2]},
        ]
    }
}

# https://www.mongodb.com/docs/manual/reference/operator/aggregation/exp/
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/ln/
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/log/
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/log10/
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/sqrt/
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/pow/
EXP_LOG_SQRT_POW = [
    ({"$subtract": [{"$exp": "$interestRate"}, 1]}, {"interestRate": 0.08}, 0.08328706767495864),
    ({"$subtract": [{"$exp": "$interestRate"}, 1]}, {"interestRate": 0.0425}, 0.04341605637367807),
    ({"$exp": "$a"}, {"a": 0}, 1.0),
    ({"$exp": "$a"}, {"a": 1000}, INF),
    ({"$exp": "$a"}, {"a": -INF}, 0.0),
    ({"$exp": "$a"}, {"a": D("1")}, D("2.718281828459045235360287471352662")),
    ({"$ln": "$sales"}, {"sales": 8700000}, 15.978833583624812),
    ({"$ln": "$sales"}, {"sales": 5000000}, 15.424948470398375),
    ({"$ln": "$a"}, {"a": 1}, 0.0),
    ({"$ln": "$a"}, {"a": INF}, INF),
    ({"$ln": "$a"}, {"a": NAN}, NAN),
    ({"$ln": "$a"}, {"a": D("NaN")}, NAN),  # mongod falls through to its double path
    ({"$ln": "$a"}, {"a": D("10")}, D("2.302585092994045684017991454684364")),
    ({"$floor": {"$add": [1, {"$log": ["$int", 2]}]}}, {"int": 5}, 3.0),
    ({"$floor": {"$add": [1, {"$log": ["$int", 2]}]}}, {"int": 23}, 5.0),
    ({"$log": ["$a", "$b"]}, {"a": 100, "b": 10}, 2.0),
    ({"$log": ["$a", "$b"]}, {"a": D("100"), "b": 10}, D("2")),
    ({"$log": ["$a", "$b"]}, {"a": 100}, None),
    ({"$multiply": [-1, {"$log10": "$H3O"}]}, {"H3O": 0.0025}, 2.6020599913279625),
    ({"$multiply": [-1, {"$log10": "$H3O"}]}, {"H3O": 0.001}, 3.0),
    ({"$log10": "$a"}, {"a": D("1000")}, D("3")),
    ({"$log10": "$a"}, {"a": L(100)}, 2.0),
    (DISTANCE, {"p1": {"x": 5, "y": 8}, "p2": {"x": 0, "y": 5}}, 5.830951894845301),
    (DISTANCE, {"p1": {"x": -3, "y": 7}, "p2": {"x": 4, "y": 0}}, 9.899494936611665),
    ({"$sqrt": "$a"}, {"a": 25}, 5.0),
    ({"$sqrt": "$a"}, {"a": -0.0}, -0.0),
    ({"$sqrt": "$a"}, {"a": NAN}, NAN),
    ({"$sqrt": "$a"}, {"a": D("2.25")}, D("1.5")),
    ({"$sqrt": "$a"}, {"a": D("2")}, D("1.414213562373095048801688724209698")),
    ({"$pow": ["$a", "$b"]}, {"a": 5, "b": 0}, 1),
    ({"$pow": ["$a", "$b"]}, {"a": 5, "b": 2}, 25),
    ({"$pow": ["$a", "$b"]}, {"a": 5, "b": -2}, 0.04),
    ({"$pow": ["$a", "$b"]}, {"a": -5, "b": 0.5}, NAN),
    ({"$pow": ["$a", "$b"]}, {"a": 2, "b": 31}, L(2147483648)),
    ({"$pow": ["$a", "$b"]}, {"a": 2, "b": 62}, L(4611686018427387904)),
    ({"$pow": ["$a", "$b"]}, {"a": 2, "b": 63}, 9.223372036854776e18),
    ({"$pow": ["$a", "$b"]}, {"a": -2, "b": 63}, L(-(2**63))),
    ({"$pow": ["$a", "$b"]}, {"a": L(3), "b": 2}, L(9)),
    ({"$pow": ["$a", "$b"]}, {"a": -1, "b": -3}, -1),
    ({"$pow": ["$a", "$b"]}, {"a": 0, "b": 0}, 1),
    ({"$pow": ["$a", "$b"]}, {"a": 10, "b": 400.0}, INF),
    ({"$pow": ["$a", "$b"]}, {"a": D("2"), "b": 10}, D("1024")),
    ({"$pow": ["$a", "$b"]}, {"a": D("0"), "b": 0}, D("1")),
    ({"$pow": ["$a", "$b"]}, {"a": None, "b": "x"}, None),
]


# https://www.mongodb.com/docs/manual/reference/operator/aggregation/round/
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/trunc/
ROUND_TRUNC = [
    ({"$round": ["$value", 1]}, {"value": 19.25}, 19.2),  # half to even
    ({"$round": ["$value", 1]}, {"value": 28.73}, 28.7),
    ({"$round": ["$value", 1]}, {"value": -45.39}, -45.4),
    ({"$round": ["$value", -1]}, {"value": 34.32}, 30.0),
    ({"$round": ["$value", -1]}, {"value": -45.39}, -50.0),
    ({"$round": ["$value", 2]}, {"value": 1234.5678}, 1234.57),
    ({"$round": ["$value", -2]}, {"value": 1234.5678}, 1200.0),
    ({"$round": ["$value", 0]}, {"value": 1234.5678}, 1235.0),
    ({"$round": "$value"}, {"value": 10.5}, 10.0),
    ({"$round": "$value"}, {"value": 11.5}, 12.0),
    ({"$round": "$value"}, {"value": -12.5}, -12.0),
    ({"$round": "$value"}, {"value": -13.5}, -14.0),
    ({"$round": "$value"}, {"value": -0.4}, -0.0),
    ({"$round": ["$value", 2]}, {"value": 2.675}, 2.67),  # the double is just below 2.675
    ({"$round": ["$value", 2]}, {"value": 1e300}, NAN),  # 302 digits do not fit decimal128
    ({"$round": ["$value", 2]}, {"value": INF}, INF),
    ({"$round": ["$value", 2]}, {"value": 7}, 7),
    ({"$round": ["$value", -1]}, {"value": 2147483647}, L(2147483650)),
    ({"$round": ["$value", -1]}, {"value": 25}, 20),
    ({"$round": ["$value", -1]}, {"value": L(35)}, L(40)),
    ({"$round": ["$value", -20]}, {"value": L(2**62)}, L(0)),
    ({"$round": ["$value", 2]}, {"value": D("1.235")}, D("1.24")),
    ({"$round": ["$value", 2]}, {"value": D("1")}, D("1.00")),
    ({"$round": ["$value", -2]}, {"value": D("1234.5678")}, D("1.2E+3")),
    ({"$round": ["$value", 1]}, {"value": D("-Infinity")}, D("-Infinity")),
    ({"$round": ["$value", "$place"]}, {"value": 1.25, "place": L(1)}, 1.2),
    ({"$round": ["$value", "$place"]}, {"value": 1.25, "place": 1.0}, 1.2),
    ({"$round": ["$value", "$place"]}, {"value": 1.25}, None),
    ({"$round": ["$value", 1]}, {}, None),
    ({"$trunc": ["$value", 1]}, {"value": 19.25}, 19.2),
    ({"$trunc": ["$value", 1]}, {"value": -45.39}, -45.3),
    ({"$trunc": ["$value", -1]}, {"value": 28.73}, 20.0),
    ({"$trunc": ["$value", 2]}, {"value": 1234.5678}, 1234.56),
    ({"$trunc": ["$value", -2]}, {"value": 1234.5678}, 1200.0),
    ({"$trunc": "$value"}, {"value": 1234.5678}, 1234.0),
    ({"$trunc": "$value"}, {"value": -0.5}, -0.0),
    ({"$trunc": ["$value", -1]}, {"value": -29}, -20),
    ({"$trunc": ["$value", 3]}, {"value": D("-1.23456")}, D("-1.234")),
]


# https://www.mongodb.com/docs/manual/reference/operator/aggregation/sigmoid/ (and mongod's jstests)
SIGMOID = [
    ({"$sigmoid": "$score"}, {"score": 1}, 0.7310585786300049),
    ({"$sigmoid": "$score"}, {"score": 5}, 0.9933071490757153),
    ({"$sigmoid": "$score"}, {}, None),
    ({"$sigmoid": "$score"}, {"score": 13}, 0.999997739675702),
    ({"$sigmoid": "$score"}, {"score": None}, None),
    ({"$sigmoid": "$score"}, {"score": 0}, 0.5),
    ({"$sigmoid": "$score"}, {"score": -24}, 3.7751345441365816e-11),
    ({"$sigmoid": "$score"}, {"score": L(-(2**63))}, 0.0),
    ({"$sigmoid": "$score"}, {"score": D("-3.14")}, D("0.04148711930169585060767831941324486")),
    ({"$sigmoid": "$score"}, {"score": D("3.14")}, D("0.9585128806983041493923216805867550")),
    ({"$sigmoid": {"input": "$score", "onNull": -1}}, {}, -1),
    ({"$sigmoid": {"input": "$score", "onNull": -1}}, {"score": 100}, 1.0),
]


@pytest.mark.parametrize(
    ("expr", "doc", "expected"),
    ADD_SUBTRACT_MULTIPLY_DIVIDE + MOD_ABS_CEIL_FLOOR + EXP_LOG_SQRT_POW + ROUND_TRUNC + SIGMOID,
)
def test_arithmetic(expr, doc, expected):
    assert_same(evaluate(expr, doc), expected)


def test_negative_zero_keeps_its_sign():
    assert math.copysign(1, evaluate({"$ceil": "$a"}, {"a": -0.5})) == -1
    assert math.copysign(1, evaluate({"$round": "$a"}, {"a": -0.4})) == -1
    assert math.copysign(1, evaluate({"$abs": "$a"}, {"a": -0.0})) == 1


RUNTIME_ERRORS = [
    ({"$add": ["$a", 1]}, {"a": "x"}, "$add only supports numeric or date types, not string"),
    ({"$add": ["$a", 1]}, {"a": True}, "$add only supports numeric or date types, not bool"),
    ({"$add": ["$a", "$a"]}, {"a": DATE}, "only one date allowed in an $add expression"),
    ({"$add": ["$a", 1e300]}, {"a": DATE}, "date overflow"),
    ({"$subtract": ["$a", "$b"]}, {"a": DATE, "b": "x"}, "can't $subtract string from Date"),
    ({"$subtract": ["$a", "$b"]}, {"a": 1, "b": DATE}, "can't $subtract date from int"),
    ({"$subtract": ["$a", "$b"]}, {"a": [1], "b": 1}, "can't $subtract int from array"),
    ({"$multiply": ["$a", 2]}, {"a": "2"}, "$multiply only supports numeric types, not string"),
    ({"$divide": ["$a", "$b"]}, {"a": 1, "b": 0}, "can't $divide by zero"),
    ({"$divide": ["$a", "$b"]}, {"a": 1, "b": -0.0}, "can't $divide by zero"),
    ({"$divide": ["$a", "$b"]}, {"a": 1, "b": D("0E-10")}, "can't $divide by zero"),
    ({"$divide": ["$a", "$b"]}, {"a": "1", "b": 2}, "$divide only supports numeric types, not string and int"),
    ({"$mod": ["$a", "$b"]}, {"a": 1, "b": 0}, "can't $mod by zero"),
    ({"$mod": ["$a", "$b"]}, {"a": D("1"), "b": 0.0}, "can't $mod by zero"),
    ({"$mod": ["$a", "$b"]}, {"a": 1, "b": "2"}, "$mod only supports numeric types, not int and string"),
    ({"$abs": "$a"}, {"a": L(-(2**63))}, "can't take $abs of long long min"),
    ({"$abs": "$a"}, {"a": "x"}, "$abs only supports numeric types, not string"),
    ({"$ceil": "$a"}, {"a": [1.5]}, "$ceil only supports numeric types, not array"),
    ({"$exp": "$a"}, {"a": {}}, "$exp only supports numeric types, not object"),
    ({"$ln": "$a"}, {"a": 0}, "$ln's argument must be a positive number, but is 0"),
    ({"$ln": "$a"}, {"a": -0.5}, "$ln's argument must be a positive number, but is -0.5"),
    ({"$ln": "$a"}, {"a": D("-1234567")}, "$ln's argument must be a positive number, but is -1.23457e+06"),
    ({"$log10": "$a"}, {"a": -INF}, "$log10's argument must be a positive number, but is -inf"),
    ({"$log": ["$a", 10]}, {"a": "x"}, "$log's argument must be numeric, not string"),
    ({"$log": [10, "$b"]}, {"b": "x"}, "$log's base must be numeric, not string"),
    ({"$log": ["$a", 10]}, {"a": -1}, "$log's argument must be a positive number, but is -1"),
    ({"$log": [10, "$b"]}, {"b": 1}, "$log's base must be a positive number not equal to 1, but is 1"),
    ({"$log": [10, "$b"]}, {"b": D("-2")}, "$log's base must be a positive number not equal to 1, but is -2"),
    ({"$sqrt": "$a"}, {"a": -1}, "$sqrt's argument must be greater than or equal to 0"),
    ({"$sqrt": "$a"}, {"a": D("-0.1")}, "$sqrt's argument must be greater than or equal to 0"),
    ({"$pow": ["$a", "$b"]}, {"a": 0, "b": -1}, "$pow cannot take a base of 0 and a negative exponent"),
    ({"$pow": ["$a", "$b"]}, {"a": D("0"), "b": -1}, "$pow cannot take a base of 0 and a negative exponent"),
    ({"$pow": ["$a", 2]}, {"a": "x"}, "$pow's base must be numeric, not string"),
    ({"$pow": [2, "$b"]}, {"b": "x"}, "$pow's exponent must be numeric, not string"),
    ({"$round": ["$a", 1]}, {"a": "x"}, "$round only supports numeric types, not string"),
    ({"$round": [1.5, "$p"]}, {"p": 1.5}, "precision argument to  $round must be a integral value"),
    ({"$round": [1.5, "$p"]}, {"p": 101}, "cannot apply $round with precision value 101 value must be in [-20, 100]"),
    ({"$trunc": [1.5, "$p"]}, {"p": -21}, "cannot apply $trunc with precision value -21 value must be in [-20, 100]"),
    ({"$trunc": [1.5, "$p"]}, {"p": "1"}, "can't convert from BSON type string to long"),
    ({"$trunc": [1.5, "$p"]}, {"p": 1e300}, "Can't coerce out of range value 1e+300 to long"),
    ({"$trunc": [1.5, "$p"]}, {"p": NAN}, "Can't coerce out of range value nan to long"),
    ({"$trunc": [1.5, "$p"]}, {"p": L(2**40)}, "precision argument to  $trunc must be a integral value"),
    ({"$round": ["$a", -1]}, {"a": L(2**63 - 1)},
     "invalid conversion from Decimal128 result in $round resulting from arguments: [9223372036854775807, -1]"),
    ({"$sigmoid": "$a"}, {"a": "4"}, "$multiply only supports numeric types, not string"),
]


@pytest.mark.parametrize(("expr", "doc", "message"), RUNTIME_ERRORS)
def test_runtime_errors(expr, doc, message):
    with pytest.raises(ExpressionError, match=f"^{re.escape(message)}$"):
        evaluate(expr, doc)


SPEC_ERRORS = [
    ({"$subtract": [1]}, "$subtract takes exactly 2 arguments"),
    ({"$divide": [1, 2, 3]}, "$divide takes exactly 2 arguments"),
    ({"$abs": [1, 2]}, "$abs takes exactly 1 argument"),
    ({"$round": [1, 2, 3]}, "$round takes between 1 and 2 arguments"),
    ({"$divide": [1, 0]}, "can't $divide by zero"),  # a constant expression that always fails
    ({"$round": ["$a", 1.5]}, "precision argument to  $round must be a integral value"),
    ({"$trunc": ["$a", 200]}, "cannot apply $trunc with precision value 200 value must be in [-20, 100]"),
    ({"$sigmoid": "four"}, "$multiply only supports numeric types, not string"),
    ({"$sigmoid": {"input": 1, "onError": 0}}, "$sigmoid found an unknown argument: onError"),
]


@pytest.mark.parametrize(("expr", "message"), SPEC_ERRORS)
def test_spec_errors(expr, message):
    with pytest.raises(SpecError, match=re.escape(message)):
        evaluate(expr, {})


def test_constant_arguments_fold_at_compile_time():
    from translator.expressions import compile_expression

    fn = compile_expression({"$multiply": [{"$add": [1, 2]}, {"$pow": [2, 3]}]})
    assert fn.constant == 24


def test_round_of_doubles_matches_mongods_decimal_route():
    """mongod rounds a double by quantizing its 34-digit decimal; sluice's shortcut must agree."""
    import decimal
    import random

    context = decimal.Context(prec=34, rounding=decimal.ROUND_HALF_EVEN)
    rng = random.Random(7)
    values = [rng.uniform(-1e6, 1e6) for _ in range(3000)]
    values += [k / 8 for k in range(-200, 200)] + [k * 0.005 for k in range(-400, 400)] + [2.675, 1.005, 0.125]
    for value in values:
        for place in (-3, -1, 0, 1, 2, 3, 6):
            quantum = decimal.Decimal(1).scaleb(-place)
            expected = float(context.create_decimal(value).quantize(quantum, context=context))
            assert_same(evaluate({"$round": ["$v", place]}, {"v": value}), expected)
