"""Accumulators as expressions ($sum, $avg, $min, $max, $stdDev*, $median, $percentile)."""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone

import pytest
from bson import Decimal128, Int64

from expression_cases import MISSING, assert_same, evaluate
from translator.errors import SpecError

D = Decimal128
L = Int64
NAN, INF = math.nan, math.inf

STUDENTS = [
    {"quizzes": [10, 6, 7], "labs": [5, 8], "final": 80, "midterm": 75},
    {"quizzes": [9, 10], "labs": [8, 8], "final": 95, "midterm": 80},
    {"quizzes": [4, 5, 5], "labs": [6, 5], "final": 78, "midterm": 70},
]

# https://www.mongodb.com/docs/manual/reference/operator/aggregation/sum/ ($project example)
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/avg/
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/max/
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/min/
DOCS_EXAMPLES = [
    ({"$sum": "$quizzes"}, STUDENTS[0], 23),
    ({"$sum": "$labs"}, STUDENTS[0], 13),
    ({"$sum": ["$final", "$midterm"]}, STUDENTS[0], 155),
    ({"$sum": "$quizzes"}, STUDENTS[1], 19),
    ({"$sum": ["$final", "$midterm"]}, STUDENTS[2], 148),
    ({"$avg": "$quizzes"}, STUDENTS[0], 7.666666666666667),
    ({"$avg": "$labs"}, STUDENTS[0], 6.5),
    ({"$avg": ["$final", "$midterm"]}, STUDENTS[0], 77.5),
    ({"$avg": "$quizzes"}, STUDENTS[1], 9.5),
    ({"$avg": "$quizzes"}, STUDENTS[2], 4.666666666666667),
    ({"$avg": ["$final", "$midterm"]}, STUDENTS[2], 74.0),
    ({"$max": "$quizzes"}, STUDENTS[0], 10),
    ({"$max": ["$final", "$midterm"]}, STUDENTS[1], 95),
    ({"$max": "$labs"}, STUDENTS[2], 6),
    ({"$min": "$quizzes"}, STUDENTS[0], 6),
    ({"$min": ["$final", "$midterm"]}, STUDENTS[1], 80),
    ({"$min": "$labs"}, STUDENTS[2], 5),
]

SUM_AVG = [
    ({"$sum": "$a"}, {"a": 5}, 5),  # one non-array value is summed alone
    ({"$sum": "$a"}, {"a": "x"}, 0),
    ({"$sum": "$a"}, {}, 0),
    ({"$sum": "$a"}, {"a": []}, 0),
    ({"$sum": []}, {}, 0),
    ({"$sum": "$a"}, {"a": [1, "2", None, True, [3], {"b": 4}]}, 1),  # only numbers count
    ({"$sum": ["$a", "$b"]}, {"a": [1, 2], "b": 3}, 3),  # several arguments: an array is not a number
    ({"$sum": "$a"}, {"a": [2147483647, 1]}, L(2147483648)),
    ({"$sum": "$a"}, {"a": [L(1), 2]}, L(3)),
    ({"$sum": "$a"}, {"a": [L(2**63 - 1), 1, -1]}, L(2**63 - 1)),  # exact, never overflowing midway
    ({"$sum": "$a"}, {"a": [L(2**63 - 1), 1]}, 9.223372036854776e18),
    ({"$sum": "$a"}, {"a": [0.1, 0.2, 0.3]}, 0.6),  # summed exactly, then rounded once
    ({"$sum": "$a"}, {"a": [1e100, 1.0, -1e100]}, 1.0),
    ({"$sum": "$a"}, {"a": [1, 0.5]}, 1.5),
    ({"$sum": "$a"}, {"a": [INF, 1]}, INF),
    ({"$sum": "$a"}, {"a": [INF, -INF]}, NAN),
    ({"$sum": "$a"}, {"a": [NAN, 1]}, NAN),
    ({"$sum": "$a"}, {"a": [D("1.50"), 1]}, D("2.50")),
    ({"$sum": "$a"}, {"a": [D("1"), 0.1]}, D("1.100000000000000005551115123125783")),  # 34 digits of 0.1
    ({"$sum": "$a"}, {"a": [D("1E+2")]}, D("100")),
    ({"$sum": "$a"}, {"a": [D("1"), INF]}, D("Infinity")),
    ({"$avg": "$a"}, {"a": [1, 2]}, 1.5),
    ({"$avg": "$a"}, {"a": [1, 2, "x", None]}, 1.5),
    ({"$avg": "$a"}, {"a": [L(2**62), L(2**62)]}, 4.611686018427388e18),
    ({"$avg": "$a"}, {"a": ["x"]}, None),
    ({"$avg": "$a"}, {"a": []}, None),
    ({"$avg": "$a"}, {}, None),
    ({"$avg": "$a"}, {"a": 7}, 7.0),
    ({"$avg": "$a"}, {"a": [D("1"), 2]}, D("1.5")),
    ({"$avg": "$a"}, {"a": [D("1"), D("2"), D("2")]}, D("1.666666666666666666666666666666667")),
    ({"$avg": "$a"}, {"a": [INF, -INF]}, NAN),
]

MIN_MAX = [
    ({"$max": "$a"}, {"a": [1, None, 3]}, 3),  # null never wins
    ({"$min": "$a"}, {"a": [None, 2, 3]}, 2),
    ({"$min": "$a"}, {"a": [None]}, None),
    ({"$max": "$a"}, {"a": []}, None),
    ({"$max": "$a"}, {}, None),
    ({"$max": ["$a", "$b"]}, {"a": 1}, 1),  # a missing argument is skipped
    ({"$max": "$a"}, {"a": [1, "a", True]}, True),  # BSON order: numbers < strings < bool
    ({"$min": "$a"}, {"a": [1, "a", True]}, 1),
    ({"$max": "$a"}, {"a": [L(5), 4.5, D("4.9")]}, L(5)),
    ({"$min": "$a"}, {"a": [L(5), 4.5, D("4.9")]}, 4.5),
    ({"$min": "$a"}, {"a": [1, NAN]}, NAN),  # NaN sorts below every number
    ({"$max": ["$a", "$b"]}, {"a": [1, 2], "b": 3}, [1, 2]),  # arrays sort after numbers
    ({"$max": "$a"}, {"a": [datetime(2020, 1, 1, tzinfo=timezone.utc), datetime(2021, 1, 1, tzinfo=timezone.utc)]},
     datetime(2021, 1, 1, tzinfo=timezone.utc)),
    ({"$min": "$a"}, {"a": "text"}, "text"),
    ({"$max": ["$a", MISSING]}, {"a": None}, None),
]

# https://www.mongodb.com/docs/manual/reference/operator/aggregation/stdDevPop/
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/stdDevSamp/
STD_DEV = [
    ({"$stdDevPop": "$scores.score"}, {"scores": [{"score": 10}, {"score": 8}]}, 1.0),
    ({"$stdDevPop": "$a"}, {"a": [2, 4, 4, 4, 5, 5, 7, 9]}, 2.0),
    ({"$stdDevSamp": "$a"}, {"a": [2, 4, 4, 4, 5, 5, 7, 9]}, 2.138089935299395),
    ({"$stdDevPop": "$a"}, {"a": [1, "x", None, 3]}, 1.0),
    ({"$stdDevPop": "$a"}, {"a": [5]}, 0.0),
    ({"$stdDevSamp": "$a"}, {"a": [5]}, None),
    ({"$stdDevPop": "$a"}, {"a": []}, None),
    ({"$stdDevPop": "$a"}, {}, None),
    ({"$stdDevPop": ["$a", "$b"]}, {"a": 1, "b": 3}, 1.0),
    ({"$stdDevPop": "$a"}, {"a": [L(1), D("3")]}, 1.0),
    ({"$stdDevSamp": "$a"}, {"a": [1, INF]}, NAN),
    ({"$stdDevPop": "$a"}, {"a": [0.1, 0.2, 0.3]}, 0.08164965809277258),
]

TEST_SCORES = {"test01": 62, "test02": 81, "test03": 80}
PERCENTILE = {"p": [0.25, 0.5, 0.75], "method": "approximate"}

# https://www.mongodb.com/docs/manual/reference/operator/aggregation/median/ ($project example)
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/percentile/
QUANTILES = [
    ({"$median": {"input": ["$test01", "$test02", "$test03"], "method": "approximate"}}, TEST_SCORES, 80.0),
    ({"$median": {"input": ["$test01", "$test02", "$test03"], "method": "approximate"}},
     {"test01": 60, "test02": 53, "test03": 72}, 60.0),
    ({"$percentile": {"input": "$scores", **PERCENTILE}}, {"scores": [62, 81, 80, 75, 68]}, [68.0, 75.0, 80.0]),
    ({"$percentile": {"input": "$scores", **PERCENTILE}}, {"scores": [60, 83, 79, 72, 65]}, [65.0, 72.0, 79.0]),
    ({"$percentile": {"input": "$scores", **PERCENTILE}}, {"scores": [64, 72, 77, 58, 91]}, [64.0, 72.0, 77.0]),
    ({"$percentile": {"input": "$scores", "p": [0, 1], "method": "discrete"}}, {"scores": [3, 1, 2]}, [1.0, 3.0]),
    ({"$percentile": {"input": "$scores", "p": [0.5], "method": "continuous"}}, {"scores": [1, 2, 3, 4]}, [2.5]),
    ({"$percentile": {"input": "$scores", "p": [0.25, 1.0], "method": "continuous"}}, {"scores": [10, 20]},
     [12.5, 20.0]),
    ({"$percentile": {"input": "$scores", "p": [0.1, 0.9], "method": "continuous"}},
     {"scores": [-INF, 1, 2, INF]}, [-INF, INF]),
    ({"$percentile": {"input": "$scores", "p": [0.5, 1], "method": "approximate"}},
     {"scores": [1, NAN, "x", None, INF]}, [1.0, INF]),  # NaN and non-numbers are left out
    ({"$percentile": {"input": "$scores", "p": [0.5], "method": "approximate"}}, {"scores": []}, [None]),
    ({"$percentile": {"input": "$scores", "p": [0.5, 0.9], "method": "approximate"}}, {}, [None, None]),
    ({"$percentile": {"input": "$scores", "p": [0.5, 0.9], "method": "approximate"}}, {"scores": L(7)}, [7.0, 7.0]),
    ({"$median": {"input": "$scores", "method": "approximate"}}, {"scores": "x"}, None),
    ({"$median": {"input": "$scores", "method": "approximate"}}, {"scores": NAN}, NAN),  # one number: itself
    ({"$median": {"input": "$scores", "method": "approximate"}}, {"scores": [D("2.5"), 1, L(4)]}, 2.5),
    ({"$median": {"input": "$scores", "method": "continuous"}}, {"scores": [1, 2, 3, 4]}, 2.5),
    ({"$median": {"input": "$scores", "method": "discrete"}}, {"scores": [1, 2, 3, 4]}, 2.0),
]


@pytest.mark.parametrize(("expr", "doc", "expected"), DOCS_EXAMPLES + SUM_AVG + MIN_MAX + STD_DEV + QUANTILES)
def test_accumulators(expr, doc, expected):
    assert_same(evaluate(expr, doc), expected)


SPEC_ERRORS = [
    ({"$median": "$a"}, "$median expects an object as its argument; got string"),
    ({"$median": {"input": "$a"}}, "$median requires 'method'"),
    ({"$median": {"input": "$a", "method": "approximate", "p": [0.5]}}, "$median found an unknown argument: p"),
    ({"$median": {"input": "$a", "method": "exact"}},
     "$median's method must be one of approximate, discrete, continuous"),
    ({"$percentile": {"input": "$a", "method": "approximate"}}, "$percentile requires 'p'"),
    ({"$percentile": {"input": "$a", "p": "$ps", "method": "approximate"}},
     "the $percentile 'p' field must be an array of constant values"),
    ({"$percentile": {"input": "$a", "p": [], "method": "approximate"}},
     "the $percentile 'p' field must be an array of numbers from [0.0, 1.0], but found: []"),
    ({"$percentile": {"input": "$a", "p": [1.5], "method": "approximate"}},
     "the $percentile 'p' field must be an array of numbers from [0.0, 1.0], but found: 1.5"),
    ({"$percentile": {"input": "$a", "p": ["0.5"], "method": "approximate"}},
     "the $percentile 'p' field must be an array of numbers from [0.0, 1.0], but found: '0.5'"),
]


@pytest.mark.parametrize(("expr", "message"), SPEC_ERRORS)
def test_spec_errors(expr, message):
    with pytest.raises(SpecError, match=re.escape(message)):
        evaluate(expr, {})


def test_constant_p_may_be_computed():
    expr = {"$percentile": {"input": "$a", "p": [{"$divide": [1, 2]}], "method": "approximate"}}
    assert_same(evaluate(expr, {"a": [1, 2, 3]}), [2.0])


def test_sum_of_constants_folds():
    from translator.expressions import compile_expression

    assert compile_expression({"$sum": [1, 2, {"$max": [3, 4]}]}).constant == 7


def test_fast_paths_agree_with_the_general_path():
    """Lists of only doubles or only ints take a shortcut; a null forces the general path."""
    import random

    rng = random.Random(3)
    for size in (1, 2, 5, 50):
        for numbers in (
            [rng.uniform(-1e9, 1e9) for _ in range(size)],
            [rng.choice([1e300, -1e300, 1e-300, 3.0]) for _ in range(size)],
            [rng.randint(-(2**31), 2**31 - 1) for _ in range(size)],
            [rng.choice([1.5, NAN, 2.0]) for _ in range(size)],
        ):
            for name in ("$sum", "$avg", "$max", "$min"):
                assert_same(evaluate({name: "$a"}, {"a": numbers}), evaluate({name: "$a"}, {"a": [*numbers, None]}))
