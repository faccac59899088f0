"""``$setWindowFields`` as MongoDB's documentation uses it: the examples of the stage's page and
of each window operator's page, fed as a stream (a documents source, in sort order per
partition) through the translator, checked against the documented results."""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta

import pytest
from pipeline_runner import run_pipeline, with_documents

from translator import plan
from translator._types import NO_VARS
from translator.expressions import compile_expression
from translator.errors import PipelineValidationError
from translator.parse import parse_pipeline


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# https://www.mongodb.com/docs/manual/reference/operator/aggregation/setWindowFields/#examples
CAKE_SALES = [
    {"_id": 0, "type": "chocolate", "orderDate": utc("2020-05-18T14:10:30Z"), "state": "CA", "price": 13, "quantity": 120},
    {"_id": 1, "type": "chocolate", "orderDate": utc("2021-03-20T11:30:05Z"), "state": "WA", "price": 14, "quantity": 140},
    {"_id": 2, "type": "vanilla", "orderDate": utc("2021-01-11T06:31:15Z"), "state": "CA", "price": 12, "quantity": 145},
    {"_id": 3, "type": "vanilla", "orderDate": utc("2020-02-08T13:13:23Z"), "state": "WA", "price": 13, "quantity": 104},
    {"_id": 4, "type": "strawberry", "orderDate": utc("2019-05-18T16:09:01Z"), "state": "CA", "price": 41, "quantity": 162},
    {"_id": 5, "type": "strawberry", "orderDate": utc("2019-01-08T06:12:03Z"), "state": "WA", "price": 43, "quantity": 134},
]
BY_DATE = sorted(CAKE_SALES, key=lambda d: d["orderDate"])  # ids 5, 4, 3, 0, 2, 1
BY_PRICE = sorted(CAKE_SALES, key=lambda d: (d["price"], d["_id"]))
BY_QUANTITY_DOWN = sorted(CAKE_SALES, key=lambda d: -d["quantity"])
# Quantities in order date order per state: CA 4, 0, 2; WA 5, 3, 1.
CA, WA = [162, 120, 145], [134, 104, 140]
STATE_ORDER = {4: ("CA", 0), 0: ("CA", 1), 2: ("CA", 2), 5: ("WA", 0), 3: ("WA", 1), 1: ("WA", 2)}

def every_30_seconds(key: str, value: str, start: str, field: str, readings: list) -> list:
    """Readings 30 seconds apart, as the $integral and $derivative pages list them."""
    first = utc(start)
    return [{key: value, "timeStamp": first + timedelta(seconds=30 * i), field: reading} for i, reading in enumerate(readings)]


POWER = [  # the $integral page
    *every_30_seconds("powerMeterID", "1", "2020-05-18T14:10:30Z", "kilowatts", [2.95, 2.7, 2.6, 2.98]),
    *every_30_seconds("powerMeterID", "2", "2020-05-19T13:10:30Z", "kilowatts", [2.5, 2.25, 2.75, 2.82]),
]
FLEET = [  # the $derivative page
    *every_30_seconds("truckID", "1", "2020-05-18T14:10:30Z", "miles", [1295.1, 1295.63, 1296.25, 1296.76]),
    *every_30_seconds("truckID", "2", "2020-05-18T14:10:30Z", "miles", [10234.1, 10234.33, 10234.73, 10235.13]),
]
STOCK_PRICES = [  # the $expMovingAvg page
    {"stock": "ABC", "date": utc("2020-05-18T20:00:00Z"), "price": 13},
    {"stock": "ABC", "date": utc("2020-05-19T20:00:00Z"), "price": 15.4},
    {"stock": "ABC", "date": utc("2020-05-20T20:00:00Z"), "price": 12},
    {"stock": "ABC", "date": utc("2020-05-21T20:00:00Z"), "price": 11.7},
    {"stock": "DEF", "date": utc("2020-05-18T20:00:00Z"), "price": 82},
    {"stock": "DEF", "date": utc("2020-05-19T20:00:00Z"), "price": 94},
    {"stock": "DEF", "date": utc("2020-05-20T20:00:00Z"), "price": 112},
    {"stock": "DEF", "date": utc("2020-05-21T20:00:00Z"), "price": 97.3},
]
STOCK = [  # the $locf and $linearFill pages: hourly prices, some missing
    {"time": utc("2021-03-08T09:00:00Z"), "price": 500},
    {"time": utc("2021-03-08T10:00:00Z")},
    {"time": utc("2021-03-08T11:00:00Z"), "price": 515},
    {"time": utc("2021-03-08T12:00:00Z")},
    {"time": utc("2021-03-08T13:00:00Z")},
    {"time": utc("2021-03-08T14:00:00Z"), "price": 485},
]


def running(values: list, fn) -> list:
    return [fn(values[: i + 1]) for i in range(len(values))]


def per_state(ca: list, wa: list) -> list:
    """Values per document of BY_DATE, from each state's list in date order."""
    lists = {"CA": ca, "WA": wa}
    return [lists[STATE_ORDER[d["_id"]][0]][STATE_ORDER[d["_id"]][1]] for d in BY_DATE]


def by_state_date(output: dict) -> dict:
    return {"partitionBy": "$state", "sortBy": {"orderDate": 1}, "output": {"out": output}}


def by_year(output: dict) -> dict:
    return {"partitionBy": {"$year": "$orderDate"}, "sortBy": {"orderDate": 1}, "output": {"out": output}}


TO_CURRENT = {"documents": ["unbounded", "current"]}


def cov(values: list, sample: bool):
    years = {162: 2019, 120: 2020, 145: 2021, 134: 2019, 104: 2020, 140: 2021}
    xs = [years[v] for v in values]
    if len(values) < (2 if sample else 1):
        return None
    mx, my = statistics.fmean(xs), statistics.fmean(values)
    return sum((x - mx) * (y - my) for x, y in zip(xs, values)) / (len(values) - (1 if sample else 0))


CASES = [
    # The $setWindowFields page.
    ("cumulative quantity per state", BY_DATE, by_state_date({"$sum": "$quantity", "window": TO_CURRENT}),
     per_state([162, 282, 427], [134, 238, 378])),
    ("cumulative quantity per year", BY_DATE, by_year({"$sum": "$quantity", "window": TO_CURRENT}), [134, 296, 104, 224, 145, 285]),
    ("moving average per year", BY_DATE, by_year({"$avg": "$quantity", "window": {"documents": [-1, 0]}}),
     [134, 148, 104, 112, 145, 142.5]),
    ("maximum per year: documents to unbounded", BY_DATE,
     by_year({"$max": "$quantity", "window": {"documents": ["unbounded", "unbounded"]}}), [162, 162, 120, 120, 145, 145]),
    ("no window: the whole partition", BY_DATE, by_year({"$sum": "$quantity"}), [296, 296, 224, 224, 285, 285]),
    ("range window on price", BY_PRICE,
     {"partitionBy": "$state", "sortBy": {"price": 1}, "output": {"out": {"$sum": "$quantity", "window": {"range": [-10, 10]}}}},
     {2: 265, 0: 265, 4: 162, 3: 244, 1: 244, 5: 134}),
    ("orders up to ten months ahead (month unit)", BY_DATE,
     {"partitionBy": "$type", "sortBy": {"orderDate": 1},
      "output": {"out": {"$push": "$orderDate", "window": {"range": ["unbounded", 10], "unit": "month"}}}},
     {5: [utc("2019-01-08T06:12:03Z"), utc("2019-05-18T16:09:01Z")], 4: [utc("2019-01-08T06:12:03Z"), utc("2019-05-18T16:09:01Z")],
      3: [utc("2020-02-08T13:13:23Z")], 0: [utc("2020-05-18T14:10:30Z")],
      2: [utc("2020-02-08T13:13:23Z"), utc("2021-01-11T06:31:15Z")], 1: [utc("2020-05-18T14:10:30Z"), utc("2021-03-20T11:30:05Z")]}),
    ("orders more than ten months before (month unit)", BY_DATE,
     {"partitionBy": "$type", "sortBy": {"orderDate": 1},
      "output": {"out": {"$push": "$orderDate", "window": {"range": ["unbounded", -10], "unit": "month"}}}},
     {5: [], 4: [], 3: [], 0: [], 2: [utc("2020-02-08T13:13:23Z")], 1: [utc("2020-05-18T14:10:30Z")]}),
    ("a quarter either side (quarter unit)", BY_DATE,
     {"sortBy": {"orderDate": 1}, "output": {"out": {"$count": {}, "window": {"range": [-1, 1], "unit": "quarter"}}}},
     {5: 1, 4: 1, 3: 1, 0: 1, 2: 2, 1: 2}),
    ("within a year (year unit)", BY_DATE,
     {"sortBy": {"orderDate": 1}, "output": {"out": {"$count": {}, "window": {"range": [-1, 0], "unit": "year"}}}},
     {5: 1, 4: 2, 3: 2, 0: 3, 2: 3, 1: 3}),
    # Accumulator pages, running per state.
    ("$avg", BY_DATE, by_state_date({"$avg": "$quantity", "window": TO_CURRENT}),
     per_state(running(CA, statistics.fmean), running(WA, statistics.fmean))),
    ("$min", BY_DATE, by_state_date({"$min": "$quantity", "window": TO_CURRENT}), per_state(running(CA, min), running(WA, min))),
    ("$max", BY_DATE, by_state_date({"$max": "$quantity", "window": TO_CURRENT}), per_state(running(CA, max), running(WA, max))),
    ("$count", BY_DATE, by_state_date({"$count": {}, "window": TO_CURRENT}), per_state([1, 2, 3], [1, 2, 3])),
    ("$push", BY_DATE, by_state_date({"$push": "$quantity", "window": TO_CURRENT}), per_state(running(CA, list), running(WA, list))),
    ("$addToSet", BY_DATE, by_state_date({"$addToSet": "$type", "window": TO_CURRENT}),
     per_state([["strawberry"], ["chocolate", "strawberry"], ["chocolate", "strawberry", "vanilla"]],
               [["strawberry"], ["strawberry", "vanilla"], ["chocolate", "strawberry", "vanilla"]])),
    ("$first", BY_DATE, by_state_date({"$first": "$quantity", "window": TO_CURRENT}), per_state([162] * 3, [134] * 3)),
    ("$last", BY_DATE, by_state_date({"$last": "$quantity", "window": TO_CURRENT}), per_state(CA, WA)),
    ("$stdDevPop", BY_DATE, by_state_date({"$stdDevPop": "$quantity", "window": TO_CURRENT}),
     per_state(running(CA, statistics.pstdev), running(WA, statistics.pstdev))),
    ("$stdDevSamp", BY_DATE, by_state_date({"$stdDevSamp": "$quantity", "window": TO_CURRENT}),
     per_state([None] + [statistics.stdev(CA[: i + 1]) for i in (1, 2)],
               [None] + [statistics.stdev(WA[: i + 1]) for i in (1, 2)])),
    ("$covariancePop, unbounded to current", BY_DATE,
     by_state_date({"$covariancePop": [{"$year": "$orderDate"}, "$quantity"], "window": TO_CURRENT}),
     per_state(running(CA, lambda v: cov(v, False)), running(WA, lambda v: cov(v, False)))),
    ("$covarianceSamp, unbounded to current", BY_DATE,
     by_state_date({"$covarianceSamp": [{"$year": "$orderDate"}, "$quantity"], "window": TO_CURRENT}),
     per_state(running(CA, lambda v: cov(v, True)), running(WA, lambda v: cov(v, True)))),
    ("$topN", BY_DATE, by_state_date({"$topN": {"n": 2, "sortBy": {"quantity": -1}, "output": "$quantity"}, "window": TO_CURRENT}),
     per_state([[162], [162, 120], [162, 145]], [[134], [134, 104], [140, 134]])),
    ("$bottom", BY_DATE, by_state_date({"$bottom": {"sortBy": {"quantity": -1}, "output": "$quantity"}, "window": TO_CURRENT}),
     per_state([162, 120, 120], [134, 104, 104])),
    ("$minN", BY_DATE, by_state_date({"$minN": {"n": 2, "input": "$quantity"}, "window": TO_CURRENT}),
     per_state([[162], [120, 162], [120, 145]], [[134], [104, 134], [104, 134]])),
    ("$top", BY_DATE, by_state_date({"$top": {"sortBy": {"quantity": -1}, "output": "$quantity"}, "window": TO_CURRENT}),
     per_state([162, 162, 162], [134, 134, 140])),
    ("$bottomN", BY_DATE, by_state_date({"$bottomN": {"n": 2, "sortBy": {"quantity": -1}, "output": "$quantity"}, "window": TO_CURRENT}),
     per_state([[162], [162, 120], [145, 120]], [[134], [134, 104], [134, 104]])),
    ("$firstN", BY_DATE, by_state_date({"$firstN": {"n": 2, "input": "$quantity"}, "window": TO_CURRENT}),
     per_state([[162], [162, 120], [162, 120]], [[134], [134, 104], [134, 104]])),
    ("$lastN", BY_DATE, by_state_date({"$lastN": {"n": 2, "input": "$quantity"}, "window": TO_CURRENT}),
     per_state([[162], [162, 120], [120, 145]], [[134], [134, 104], [104, 140]])),
    ("$maxN", BY_DATE, by_state_date({"$maxN": {"n": 2, "input": "$quantity"}, "window": TO_CURRENT}),
     per_state([[162], [162, 120], [162, 145]], [[134], [134, 104], [140, 134]])),
    ("$percentile", BY_DATE, by_state_date({"$percentile": {"input": "$quantity", "p": [0.5], "method": "approximate"}, "window": TO_CURRENT}),
     per_state([[162], [120], [145]], [[134], [104], [134]])),
    ("$median", BY_DATE, by_state_date({"$median": {"input": "$quantity", "method": "approximate"}, "window": TO_CURRENT}),
     per_state([162, 120, 145], [134, 104, 134])),
    # Order-only operators.
    ("$shift by one", BY_QUANTITY_DOWN,
     {"partitionBy": "$state", "sortBy": {"quantity": -1}, "output": {"out": {"$shift": {"output": "$quantity", "by": 1, "default": "Not available"}}}},
     {4: 145, 2: 120, 0: "Not available", 1: 134, 5: 104, 3: "Not available"}),
    ("$shift back one", BY_QUANTITY_DOWN,
     {"partitionBy": "$state", "sortBy": {"quantity": -1}, "output": {"out": {"$shift": {"output": "$quantity", "by": -1, "default": "Not available"}}}},
     {4: "Not available", 2: 162, 0: 145, 1: "Not available", 5: 140, 3: 134}),
    ("$rank", BY_QUANTITY_DOWN, {"partitionBy": "$state", "sortBy": {"quantity": -1}, "output": {"out": {"$rank": {}}}},
     {4: 1, 2: 2, 0: 3, 1: 1, 5: 2, 3: 3}),
    ("$denseRank", BY_QUANTITY_DOWN, {"partitionBy": "$state", "sortBy": {"quantity": -1}, "output": {"out": {"$denseRank": {}}}},
     {4: 1, 2: 2, 0: 3, 1: 1, 5: 2, 3: 3}),
    ("$documentNumber", BY_QUANTITY_DOWN, {"partitionBy": "$state", "sortBy": {"quantity": -1}, "output": {"out": {"$documentNumber": {}}}},
     {4: 1, 2: 2, 0: 3, 1: 1, 5: 2, 3: 3}),
]


def _ids_per_partition(docs: list, spec: dict) -> dict:
    """Each partition's ``_id``s in order: the stage spreads partitions over workers, so the
    stream's order holds within a partition."""
    partition_by = compile_expression(spec.get("partitionBy"))
    out: dict = {}
    for doc in docs:
        out.setdefault(repr(partition_by(doc, NO_VARS)), []).append(doc["_id"])
    return out


def _close(found, expected) -> None:
    if type(expected) is float:
        assert found == pytest.approx(expected)
    elif type(expected) is list and type(found) is list and len(found) == len(expected):
        for a, b in zip(found, expected):
            _close(a, b)
    else:
        assert found == expected


@pytest.mark.parametrize(("name", "docs", "spec", "expected"), CASES, ids=[c[0] for c in CASES])
def test_documented_examples(name: str, docs: list, spec: dict, expected) -> None:
    result = run_pipeline(with_documents(docs, [{"$setWindowFields": spec}]))
    assert result.dead == []
    assert _ids_per_partition(result.docs, spec) == _ids_per_partition(docs, spec)  # whatever the windows
    by_id = {doc["_id"]: doc for doc in result.docs}
    found = [by_id[doc["_id"]]["out"] for doc in docs]
    if type(expected) is dict:
        expected = [expected[doc["_id"]] for doc in docs]
    if name == "$addToSet":
        found = [sorted(values) for values in found]
    _close(found, expected)


def test_integral_running_kilowatt_hours() -> None:
    """The $integral page: ``range: ["unbounded", "current"]`` in hours, a running computation."""
    spec = {
        "partitionBy": "$powerMeterID",
        "sortBy": {"timeStamp": 1},
        "output": {"powerMeterKilowattHours": {"$integral": {"input": "$kilowatts", "unit": "hour"},
                                               "window": {"range": ["unbounded", "current"], "unit": "hour"}}},
    }  # fmt: skip
    docs = run_pipeline(with_documents(POWER, [{"$setWindowFields": spec}])).docs
    half_minute = 30 / 3600
    expected = []
    for meter in ("1", "2"):
        kw = [d["kilowatts"] for d in POWER if d["powerMeterID"] == meter]
        expected += [sum((a + b) / 2 * half_minute for a, b in zip(kw[:i], kw[1 : i + 1])) for i in range(len(kw))]
    assert [d["powerMeterKilowattHours"] for d in docs] == pytest.approx(expected)
    assert expected[1] == pytest.approx(0.0235416666666667)


def test_derivative_truck_speeds_above_fifty() -> None:
    """The $derivative page: speed over 30-second range windows, then a $match."""
    stages = [
        {"$setWindowFields": {
            "partitionBy": "$truckID", "sortBy": {"timeStamp": 1},
            "output": {"truckAverageSpeed": {"$derivative": {"input": "$miles", "unit": "hour"},
                                             "window": {"range": [-30, 0], "unit": "second"}}},
        }},
        {"$match": {"truckAverageSpeed": {"$gt": 50}}},
    ]  # fmt: skip
    docs = run_pipeline(with_documents(FLEET, stages)).docs
    assert [(d["truckID"], d["truckAverageSpeed"]) for d in docs] == [
        ("1", pytest.approx(63.6)), ("1", pytest.approx(74.4)), ("1", pytest.approx(61.2)),
    ]  # fmt: skip


def test_exp_moving_avg_with_n() -> None:
    spec = {"partitionBy": "$stock", "sortBy": {"date": 1}, "output": {"expMovingAvgForStock": {"$expMovingAvg": {"input": "$price", "N": 2}}}}
    docs = run_pipeline(with_documents(STOCK_PRICES, [{"$setWindowFields": spec}])).docs
    assert [d["expMovingAvgForStock"] for d in docs] == pytest.approx(
        [13, 14.6, 12.866666666666667, 12.088888888888889, 82, 90, 104.66666666666667, 99.75555555555556]
    )


def test_locf_and_linear_fill() -> None:
    spec = {"sortBy": {"time": 1}, "output": {"locf": {"$locf": "$price"}, "linear": {"$linearFill": "$price"}}}
    docs = run_pipeline(with_documents(STOCK, [{"$setWindowFields": spec}])).docs
    assert [d["locf"] for d in docs] == [500, 500, 515, 515, 515, 485]
    assert [d["linear"] for d in docs] == [500, 507.5, 515, 505, 495, 485]


def test_dotted_output_names_write_nested_fields() -> None:
    spec = {"partitionBy": "$state", "sortBy": {"orderDate": 1}, "output": {
        "stats.runningTotal": {"$sum": "$quantity", "window": TO_CURRENT},
        "stats.orders": {"$count": {}, "window": TO_CURRENT},
    }}  # fmt: skip
    by_id = {d["_id"]: d for d in run_pipeline(with_documents(BY_DATE, [{"$setWindowFields": spec}])).docs}
    docs = [by_id[d["_id"]] for d in BY_DATE]
    assert [d["stats"] for d in docs] == [
        {"runningTotal": t, "orders": n} for t, n in zip(per_state([162, 282, 427], [134, 238, 378]), per_state([1, 2, 3], [1, 2, 3]))
    ]
    assert "stats.runningTotal" not in docs[0]


def test_output_order_is_input_order_within_a_partition() -> None:
    """A window ahead holds a document of one partition; its partition's later documents wait
    behind it, another partition's need not (partitions are spread over workers)."""
    docs = [{"_id": i, "k": k, "v": i} for i, k in enumerate("abbbba")]
    spec = {"partitionBy": "$k", "sortBy": {"_id": 1}, "output": {"next": {"$push": "$v", "window": {"documents": [1, 1]}}}}
    result = run_pipeline(with_documents(docs, [{"$setWindowFields": spec}]))
    assert [(d["_id"], d["next"]) for d in result.docs if d["k"] == "a"] == [(0, [5]), (5, [])]
    assert [(d["_id"], d["next"]) for d in result.docs if d["k"] == "b"] == [(1, [2]), (2, [3]), (3, [4]), (4, [])]


def test_endless_source_refuses_the_whole_partition() -> None:
    pipeline = [
        {"$source": {"connectionName": "kafka", "topic": "sales"}},
        {"$setWindowFields": by_year({"$max": "$quantity"})},
    ]
    with pytest.raises(PipelineValidationError, match='would wait for the end of a stream that never ends; for values up to the current document use window'):
        plan(parse_pipeline(pipeline))
