"""Trigonometry expression operators: libm doubles, 34-digit decimals, domains and errors."""

from __future__ import annotations

import math
import re

import pytest
from bson import Decimal128, Int64

from expression_cases import assert_same, evaluate
from translator.errors import ExpressionError, SpecError

D = Decimal128
L = Int64
NAN, INF = math.nan, math.inf
ANGLE_A = 53.13010235415598  # the docs' 3-4-5 triangle

# https://www.mongodb.com/docs/manual/reference/operator/aggregation/sin/
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/cos/
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/tan/
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/asin/
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/acos/
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/atan/
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/atan2/
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/degreesToRadians/
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/radiansToDegrees/
DOCS_EXAMPLES = [
    ({"$multiply": [{"$sin": {"$degreesToRadians": "$angle_a"}}, "$hypotenuse"]},
     {"angle_a": ANGLE_A, "hypotenuse": 5}, 3.9999999999999996),
    ({"$multiply": [{"$cos": {"$degreesToRadians": "$angle_a"}}, "$hypotenuse"]},
     {"angle_a": ANGLE_A, "hypotenuse": 5}, 3.0000000000000004),
    ({"$multiply": [{"$tan": {"$degreesToRadians": "$angle_a"}}, "$side_a"]}, {"angle_a": ANGLE_A, "side_a": 3}, 4.0),
    ({"$radiansToDegrees": {"$asin": {"$divide": ["$side_a", "$hypotenuse"]}}}, {"side_a": 3, "hypotenuse": 5},
     36.86989764584402),
    ({"$radiansToDegrees": {"$acos": {"$divide": ["$side_b", "$hypotenuse"]}}}, {"side_b": 4, "hypotenuse": 5},
     36.86989764584401),
    ({"$radiansToDegrees": {"$atan": {"$divide": ["$side_a", "$side_b"]}}}, {"side_a": 3, "side_b": 4},
     36.86989764584402),
    ({"$radiansToDegrees": {"$atan2": ["$side_a", "$side_b"]}}, {"side_a": 3, "side_b": 4}, 36.86989764584402),
    ({"$degreesToRadians": "$angle_a"}, {"angle_a": ANGLE_A}, 0.9272952180016122),
    ({"$degreesToRadians": "$angle_c"}, {"angle_c": 90}, 1.5707963267948966),
    ({"$radiansToDegrees": "$angle_a"}, {"angle_a": 0.9272952180016122}, 53.13010235415598),
    ({"$radiansToDegrees": "$angle_c"}, {"angle_c": 1.5707963267948966}, 90.0),
]

# https://www.mongodb.com/docs/manual/reference/operator/aggregation/sinh/ (and cosh, tanh,
# asinh, acosh, atanh): the docs convert degrees first.
HYPERBOLIC = [
    ({"$sinh": {"$degreesToRadians": "$angle"}}, {"angle": 90}, 2.3012989023072947),
    ({"$cosh": {"$degreesToRadians": "$angle"}}, {"angle": 90}, 2.5091784786580567),
    ({"$tanh": {"$degreesToRadians": "$angle"}}, {"angle": 90}, 0.9171523356672744),
    ({"$radiansToDegrees": {"$asinh": "$x"}}, {"x": 1}, 50.49898671052622),
    ({"$radiansToDegrees": {"$acosh": "$x"}}, {"x": 3}, 100.99797342105244),
    ({"$radiansToDegrees": {"$atanh": "$x"}}, {"x": 0.5}, 31.47292373094538),
    ({"$sinh": "$x"}, {"x": 1000}, INF),  # libm overflows to infinity
    ({"$sinh": "$x"}, {"x": -1000}, -INF),
    ({"$cosh": "$x"}, {"x": -1000}, INF),
    ({"$tanh": "$x"}, {"x": INF}, 1.0),
    ({"$asinh": "$x"}, {"x": -INF}, -INF),
    ({"$acosh": "$x"}, {"x": INF}, INF),
    ({"$acosh": "$x"}, {"x": 1}, 0.0),
    ({"$atanh": "$x"}, {"x": 1}, INF),
    ({"$atanh": "$x"}, {"x": -1}, -INF),
    ({"$atanh": "$x"}, {"x": L(0)}, 0.0),
]

EDGES = [
    ({"$sin": "$x"}, {"x": 0}, 0.0),  # integers become doubles
    ({"$cos": "$x"}, {"x": L(0)}, 1.0),
    ({"$sin": "$x"}, {"x": NAN}, NAN),
    ({"$acos": "$x"}, {"x": NAN}, NAN),  # NaN skips the domain check
    ({"$asin": "$x"}, {"x": D("NaN")}, D("NaN")),
    ({"$asin": "$x"}, {"x": 1}, 1.5707963267948966),
    ({"$acos": "$x"}, {"x": -1}, math.pi),
    ({"$atan": "$x"}, {"x": INF}, 1.5707963267948966),
    ({"$atan2": ["$y", "$x"]}, {"y": 0.0, "x": -1}, math.pi),
    ({"$atan2": ["$y", "$x"]}, {"y": -0.0, "x": -1}, -math.pi),
    ({"$atan2": ["$y", "$x"]}, {"y": 1, "x": 0}, 1.5707963267948966),
    ({"$atan2": ["$y", "$x"]}, {"y": INF, "x": -INF}, 2.356194490192345),
    ({"$sin": "$x"}, {}, None),
    ({"$cos": "$x"}, {"x": None}, None),
    ({"$atan2": ["$y", "$x"]}, {"y": 1}, None),
    ({"$atan2": ["$y", "$x"]}, {"x": "text"}, None),  # a null first argument wins
    ({"$degreesToRadians": "$x"}, {"x": None}, None),
    ({"$radiansToDegrees": "$x"}, {"x": L(2)}, 114.59155902616465),
]

# Decimal inputs give decimals correct to 34 digits (reference values from known constants).
DECIMALS = [
    ({"$sin": "$x"}, {"x": D("1")}, D("0.8414709848078965066525023216302990")),
    ({"$cos": "$x"}, {"x": D("1")}, D("0.5403023058681397174009366074429766")),
    ({"$tan": "$x"}, {"x": D("1")}, D("1.557407724654902230506974807458360")),
    ({"$sin": "$x"}, {"x": D("-0")}, D("-0")),
    ({"$cos": "$x"}, {"x": D("0")}, D("1")),
    ({"$asin": "$x"}, {"x": D("1")}, D("1.570796326794896619231321691639751")),
    ({"$acos": "$x"}, {"x": D("0.5")}, D("1.047197551196597746154214461093168")),
    ({"$atan": "$x"}, {"x": D("1")}, D("0.7853981633974483096156608458198757")),
    ({"$atan": "$x"}, {"x": D("-Infinity")}, D("-1.570796326794896619231321691639751")),
    ({"$sinh": "$x"}, {"x": D("1")}, D("1.175201193643801456882381850595601")),
    ({"$cosh": "$x"}, {"x": D("1")}, D("1.543080634815243778477905620757062")),
    ({"$tanh": "$x"}, {"x": D("1")}, D("0.7615941559557648881194582826047936")),
    ({"$asinh": "$x"}, {"x": D("1")}, D("0.8813735870195430252326093249797923")),
    ({"$acosh": "$x"}, {"x": D("2")}, D("1.316957896924816708625046347307968")),
    ({"$atanh": "$x"}, {"x": D("0.5")}, D("0.5493061443340548456976226184612629")),
    ({"$atanh": "$x"}, {"x": D("-1")}, D("-Infinity")),
    ({"$atan2": ["$y", "$x"]}, {"y": D("1"), "x": -1}, D("2.356194490192344928846982537459627")),
    ({"$atan2": ["$y", "$x"]}, {"y": D("-0"), "x": D("-1")}, D("-3.141592653589793238462643383279503")),
    ({"$atan2": ["$y", "$x"]}, {"y": 1.0, "x": D("0")}, D("1.570796326794896619231321691639751")),
    ({"$degreesToRadians": "$x"}, {"x": D("180")}, D("3.141592653589793238462643383279503")),
    ({"$degreesToRadians": "$x"}, {"x": D("90")}, D("1.570796326794896619231321691639752")),  # 90 × π/180
    ({"$radiansToDegrees": "$x"}, {"x": D("1")}, D("57.29577951308232087679815481410517")),
    # Small arguments: series instead of exp/ln differences that would cancel; inexact results
    # keep all 34 digits.
    ({"$sinh": "$x"}, {"x": D("-3E-7")}, D("-3.000000000000045000000000000202500E-7")),
    ({"$atanh": "$x"}, {"x": D("-3E-7")}, D("-3.000000000000090000000000004860000E-7")),
    ({"$tan": "$x"}, {"x": D("1E-6000")}, D("1.000000000000000000000000000000000E-6000")),
    ({"$tanh": "$x"}, {"x": D("1E-6000")}, D("1.000000000000000000000000000000000E-6000")),
    ({"$cos": "$x"}, {"x": D("1E-6000")}, D("1.000000000000000000000000000000000")),
    ({"$atan2": ["$y", "$x"]}, {"y": D("1E-6000"), "x": 1}, D("1.000000000000000000000000000000000E-6000")),
    ({"$cosh": "$x"}, {"x": D("1E+5000")}, D("Infinity")),
]


@pytest.mark.parametrize(("expr", "doc", "expected"), DOCS_EXAMPLES + HYPERBOLIC + EDGES + DECIMALS)
def test_trigonometry(expr, doc, expected):
    assert_same(evaluate(expr, doc), expected)


def test_decimal_sine_of_a_large_argument_reduces_with_enough_digits_of_pi():
    # sin(10^22) = -0.8522008497671888017727...; reducing with a 34-digit π would lose every digit.
    result = evaluate({"$sin": "$x"}, {"x": D("1E+22")}).to_decimal()
    assert str(result).startswith("-0.852200849767188801772")


RUNTIME_ERRORS = [
    ({"$sin": "$x"}, {"x": "1"}, "$sin only supports numeric types, not string"),
    ({"$atanh": "$x"}, {"x": True}, "$atanh only supports numeric types, not bool"),
    ({"$sin": "$x"}, {"x": INF}, "cannot apply $sin to inf, value must in (-inf,inf)"),
    ({"$cos": "$x"}, {"x": -INF}, "cannot apply $cos to -inf, value must in (-inf,inf)"),
    ({"$tan": "$x"}, {"x": D("Infinity")}, "cannot apply $tan to Infinity, value must in (-inf,inf)"),
    ({"$acos": "$x"}, {"x": 1.5}, "cannot apply $acos to 1.5, value must in [-1,1]"),
    ({"$asin": "$x"}, {"x": -2}, "cannot apply $asin to -2, value must in [-1,1]"),
    ({"$asin": "$x"}, {"x": D("1.0000000000000000000000000000001")},
     "cannot apply $asin to 1.0000000000000000000000000000001, value must in [-1,1]"),
    ({"$atanh": "$x"}, {"x": 1.0000001}, "cannot apply $atanh to 1, value must in [-1,1]"),  # %g shows 6 digits
    ({"$acosh": "$x"}, {"x": 0.5}, "cannot apply $acosh to 0.5, value must in [1,inf]"),
    ({"$atan2": ["$y", "$x"]}, {"y": "1", "x": 1}, "$atan2 only supports numeric types, not string"),
    ({"$atan2": ["$y", "$x"]}, {"y": 1, "x": [1]}, "$atan2 only supports numeric types, not array"),
    ({"$degreesToRadians": "$x"}, {"x": "90"}, "$degreesToRadians only supports numeric types, not string"),
    ({"$radiansToDegrees": "$x"}, {"x": {}}, "$radiansToDegrees only supports numeric types, not object"),
]


@pytest.mark.parametrize(("expr", "doc", "message"), RUNTIME_ERRORS)
def test_runtime_errors(expr, doc, message):
    with pytest.raises(ExpressionError, match=f"^{re.escape(message)}$"):
        evaluate(expr, doc)


SPEC_ERRORS = [
    ({"$sin": [1, 2]}, "$sin takes exactly 1 argument"),
    ({"$atan2": [1]}, "$atan2 takes exactly 2 arguments"),
    ({"$acos": 2}, "cannot apply $acos to 2, value must in [-1,1]"),  # constant: fails at compile time
]


@pytest.mark.parametrize(("expr", "message"), SPEC_ERRORS)
def test_spec_errors(expr, message):
    with pytest.raises(SpecError, match=re.escape(message)):
        evaluate(expr, {})
