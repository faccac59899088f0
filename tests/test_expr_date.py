"""Date expression operators: MongoDB's documented examples plus time-zone, DST and error edges."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from bson import Decimal128, Int64, ObjectId, Timestamp

from expression_cases import MISSING, assert_same, evaluate
from translator.errors import ExpressionError, SpecError
from translator.expressions import compile_expression


def D(text: str) -> datetime:  # noqa: N802  (reads like ISODate in the docs)
    """``ISODate("...")``: a UTC datetime from an ISO string."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


SALE = {"date": D("2014-01-01T08:15:39.736Z")}
NOV7 = {"date": D("1998-11-07T00:00:00Z")}
OID = ObjectId("5ab9cbfa31c2ab715d42129e")  # created 2018-03-27T04:43:38Z
TS = Timestamp(1622731060, 10)  # 2021-06-03T14:37:40Z, increment 10


def _table(*groups: list) -> list:
    return [row for group in groups for row in group]


# https://www.mongodb.com/docs/manual/reference/operator/aggregation/year/ (and the sibling pages
# month/, dayOfMonth/, hour/, minute/, second/, millisecond/, dayOfYear/, dayOfWeek/, week/:
# the "Example" section's sales document and the "Behavior" tables)
DOCS_DATE_PARTS = [
    ({"$year": "$date"}, SALE, 2014),
    ({"$month": "$date"}, SALE, 1),
    ({"$dayOfMonth": "$date"}, SALE, 1),
    ({"$hour": "$date"}, SALE, 8),
    ({"$minute": "$date"}, SALE, 15),
    ({"$second": "$date"}, SALE, 39),
    ({"$millisecond": "$date"}, SALE, 736),
    ({"$dayOfYear": "$date"}, SALE, 1),
    ({"$dayOfWeek": "$date"}, SALE, 4),
    ({"$week": "$date"}, SALE, 0),
    ({"$year": D("2016-01-01T00:00:00Z")}, {}, 2016),
    ({"$year": {"date": D("2003-01-07T00:00:00Z")}}, {}, 2003),
    ({"$year": "$date"}, NOV7, 1998),
    ({"$year": {"date": "$date", "timezone": "-0400"}}, NOV7, 1998),
    ({"$month": "$date"}, NOV7, 11),
    ({"$month": {"date": "$date", "timezone": "-0400"}}, NOV7, 11),
    ({"$dayOfMonth": "$date"}, NOV7, 7),
    ({"$dayOfMonth": {"date": "$date", "timezone": "-0400"}}, NOV7, 6),
    ({"$hour": "$date"}, NOV7, 0),
    ({"$hour": {"date": "$date", "timezone": "-0400"}}, NOV7, 20),
    ({"$dayOfWeek": "$date"}, NOV7, 7),
    ({"$dayOfWeek": {"date": "$date", "timezone": "-0400"}}, NOV7, 6),
    ({"$dayOfYear": D("2016-01-01T00:00:00Z")}, {}, 1),
    ({"$dayOfYear": "$date"}, NOV7, 311),
    ({"$dayOfYear": {"date": "$date", "timezone": "-0400"}}, NOV7, 310),
    ({"$millisecond": {"date": "$date", "timezone": "-0400"}}, NOV7, 0),
    ({"$week": D("2016-01-01T00:00:00Z")}, {}, 0),
    ({"$week": D("1998-11-01T00:00:00Z")}, {}, 44),
    ({"$week": {"date": D("1998-11-01T00:00:00Z"), "timezone": "-0500"}}, {}, 43),
    ({"$week": {"date": D("2011-08-14T12:00:00Z"), "timezone": "America/Chicago"}}, {}, 33),
]

# https://www.mongodb.com/docs/manual/reference/operator/aggregation/isoWeek/
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/isoWeekYear/
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/isoDayOfWeek/
# The pages print plain numbers, but mongod computes the ISO year as a long long, so $isoWeekYear
# answers a long (Int64) while $isoWeek and $isoDayOfWeek answer ints.
DOCS_ISO = [
    ({"$isoWeek": {"date": D("2016-01-04T00:00:00Z")}}, {}, 1),
    ({"$isoWeek": D("2016-01-01T00:00:00Z")}, {}, 53),
    ({"$isoWeek": {"date": D("1998-11-02T00:00:00Z"), "timezone": "-0500"}}, {}, 44),
    ({"$isoWeekYear": D("2003-01-07T00:00:00Z")}, {}, Int64(2003)),
    ({"$isoWeekYear": D("2015-05-26T00:00:00Z")}, {}, Int64(2015)),
    ({"$isoWeekYear": D("2017-01-02T00:00:00Z")}, {}, Int64(2017)),
    ({"$isoWeekYear": {"date": D("2017-01-02T00:00:00Z"), "timezone": "-0500"}}, {}, Int64(2016)),
    ({"$isoWeekYear": "$date"}, {"date": D("2016-01-04T00:00:00Z")}, Int64(2016)),
    ({"$isoWeekYear": "$date"}, {"date": D("2015-01-01T00:00:00Z")}, Int64(2015)),
    ({"$isoWeekYear": "$date"}, {"date": D("2014-04-21T00:00:00Z")}, Int64(2014)),
    ({"$isoWeekYear": D("2016-01-01T00:00:00Z")}, {}, Int64(2015)),
    ({"$isoWeekYear": {"date": D("2016-01-04T00:00:00Z"), "timezone": "-0500"}}, {}, Int64(2015)),
    ({"$isoWeekYear": {"date": D("2016-01-04T05:00:00Z"), "timezone": "-0500"}}, {}, Int64(2016)),
    ({"$isoDayOfWeek": D("1993-09-21T00:00:00Z")}, {}, 2),
    ({"$isoDayOfWeek": D("1981-11-07T00:00:00Z")}, {}, 6),
    ({"$isoDayOfWeek": D("2016-01-03T00:00:00Z")}, {}, 7),
]

# Edge cases for the one-date operators: null, missing, Timestamp, ObjectId, array form,
# time zones given as IANA names, offsets and field paths, DST.
DATE_PART_EDGES = [
    ({"$year": "$date"}, {"date": None}, None),
    ({"$year": "$nope"}, {}, None),
    ({"$year": ["$date"]}, SALE, 2014),
    ({"$month": {"date": "$date", "timezone": None}}, SALE, None),
    ({"$month": {"date": "$date", "timezone": "$tz"}}, SALE, None),
    ({"$month": {"date": "$nope", "timezone": "$tz"}}, {"tz": 5}, None),
    ({"$year": "$ts"}, {"ts": TS}, 2021),
    ({"$hour": "$ts"}, {"ts": TS}, 14),
    ({"$second": "$ts"}, {"ts": TS}, 40),
    ({"$year": "$id"}, {"id": OID}, 2018),
    ({"$dayOfMonth": "$id"}, {"id": OID}, 27),
    ({"$minute": "$id"}, {"id": OID}, 43),
    ({"$hour": {"date": "$date", "timezone": "America/New_York"}}, SALE, 3),
    ({"$hour": {"date": "$date", "timezone": "$tz"}}, {**SALE, "tz": "Asia/Kolkata"}, 13),
    ({"$minute": {"date": "$date", "timezone": "Asia/Kolkata"}}, SALE, 45),
    ({"$minute": {"date": "$date", "timezone": "Asia/Kathmandu"}}, SALE, 0),
    ({"$hour": {"date": "$date", "timezone": "+04:45"}}, SALE, 13),
    ({"$minute": {"date": "$date", "timezone": "+04:45"}}, SALE, 0),
    ({"$hour": {"date": "$date", "timezone": "-0530"}}, SALE, 2),
    ({"$minute": {"date": "$date", "timezone": "-0530"}}, SALE, 45),
    ({"$hour": {"date": "$date", "timezone": "+03"}}, SALE, 11),
    ({"$hour": {"date": "$date", "timezone": "+00:00"}}, SALE, 8),
    ({"$hour": {"date": "$date", "timezone": "UTC"}}, SALE, 8),
    ({"$hour": {"date": "$date", "timezone": "Etc/GMT+5"}}, SALE, 3),
    ({"$year": {"date": "$date", "timezone": "Pacific/Honolulu"}}, SALE, 2013),
    ({"$dayOfYear": {"date": "$date", "timezone": "Pacific/Honolulu"}}, SALE, 365),
    ({"$week": {"date": "$date", "timezone": "Pacific/Honolulu"}}, SALE, 52),
    ({"$isoWeekYear": {"date": "$date", "timezone": "Pacific/Honolulu"}}, SALE, Int64(2014)),
    # New York in summer is UTC-4, in winter UTC-5.
    ({"$hour": {"date": D("2021-07-01T12:00:00Z"), "timezone": "America/New_York"}}, {}, 8),
    ({"$hour": {"date": D("2021-01-01T12:00:00Z"), "timezone": "America/New_York"}}, {}, 7),
    ({"$hour": {"date": D("2021-03-14T06:59:59Z"), "timezone": "America/New_York"}}, {}, 1),
    ({"$hour": {"date": D("2021-03-14T07:00:00Z"), "timezone": "America/New_York"}}, {}, 3),
    ({"$hour": {"date": D("2021-11-07T05:30:00Z"), "timezone": "America/New_York"}}, {}, 1),
    ({"$hour": {"date": D("2021-11-07T06:30:00Z"), "timezone": "America/New_York"}}, {}, 1),
    ({"$hour": {"date": D("2021-10-31T00:30:00Z"), "timezone": "Europe/London"}}, {}, 1),
    ({"$hour": {"date": D("2021-10-31T01:30:00Z"), "timezone": "Europe/London"}}, {}, 1),
    ({"$millisecond": D("1969-12-31T23:59:59.001Z")}, {}, 1),
    ({"$dayOfYear": D("2020-12-31T00:00:00Z")}, {}, 366),
    ({"$week": D("2017-01-01T00:00:00Z")}, {}, 1),
    ({"$week": D("2017-12-31T00:00:00Z")}, {}, 53),
    ({"$week": D("2016-01-02T00:00:00Z")}, {}, 0),
    ({"$week": D("2016-01-03T00:00:00Z")}, {}, 1),
    ({"$isoWeek": D("2021-01-03T00:00:00Z")}, {}, 53),
    ({"$isoWeek": D("2024-12-30T00:00:00Z")}, {}, 1),
    ({"$isoWeekYear": D("2024-12-30T00:00:00Z")}, {}, Int64(2025)),
    ({"$isoDayOfWeek": D("2021-03-14T03:00:00Z")}, {}, 7),
    ({"$isoDayOfWeek": {"date": D("2021-03-14T03:00:00Z"), "timezone": "America/New_York"}}, {}, 6),
    ({"$dayOfWeek": {"date": D("2021-03-14T03:00:00Z"), "timezone": "America/New_York"}}, {}, 7),
    ({"$year": {"date": {"$add": ["$date", 86_400_000 * 365]}}}, SALE, 2015),
    ({"$year": {"$add": ["$date", 86_400_000 * 365]}}, SALE, 2015),
]

# https://www.mongodb.com/docs/manual/reference/operator/aggregation/dateToString/ ("Example")
DOCS_DATE_TO_STRING = [
    ({"$dateToString": {"format": "%Y-%m-%d", "date": "$date"}}, SALE, "2014-01-01"),
    ({"$dateToString": {"format": "%H:%M:%S:%L%z", "date": "$date", "timezone": "America/New_York"}}, SALE,
     "03:15:39:736-0500"),
    ({"$dateToString": {"format": "%H:%M:%S:%L%z", "date": "$date", "timezone": "+04:30"}}, SALE,
     "12:45:39:736+0430"),
    ({"$dateToString": {"format": "%Z", "date": "$date", "timezone": "America/New_York"}}, SALE, "-300"),
    ({"$dateToString": {"format": "%Z", "date": "$date", "timezone": "+04:30"}}, SALE, "270"),
    ({"$dateToString": {"format": "%b", "date": "$date", "timezone": "+04:30"}}, SALE, "Jan"),
    ({"$dateToString": {"format": "%B", "date": "$date", "timezone": "+04:30"}}, SALE, "January"),
    ({"$dateToString": {"date": "$date"}}, SALE, "2014-01-01T08:15:39.736Z"),
    ({"$dateToString": {"date": "$nope", "onNull": "missing date"}}, {}, "missing date"),
]

DATE_TO_STRING_EDGES = [
    ({"$dateToString": {"date": "$date", "timezone": "America/New_York"}}, SALE, "2014-01-01T03:15:39.736"),
    ({"$dateToString": {"date": "$date", "timezone": "UTC"}}, SALE, "2014-01-01T08:15:39.736Z"),
    ({"$dateToString": {"date": "$date", "timezone": "+00:00"}}, SALE, "2014-01-01T08:15:39.736Z"),
    ({"$dateToString": {"date": "$date", "timezone": "GMT"}}, SALE, "2014-01-01T08:15:39.736"),
    ({"$dateToString": {"date": "$date", "format": "%j %U %w %u %V %G"}}, SALE, "001 00 4 3 01 2014"),
    ({"$dateToString": {"date": D("2016-01-01T00:00:00Z"), "format": "%G-W%V-%u %U"}}, {}, "2015-W53-5 00"),
    ({"$dateToString": {"date": "$date", "format": "100%% at %H%%"}}, SALE, "100% at 08%"),
    ({"$dateToString": {"date": "$date", "format": "plain text"}}, SALE, "plain text"),
    ({"$dateToString": {"date": "$date", "format": "{%Y} {{%m}} %L}"}}, SALE, "{2014} {{01}} 736}"),
    ({"$dateToString": {"date": "$date", "format": "%H"}}, SALE, "08"),
    ({"$dateToString": {"date": "$date", "format": ""}}, SALE, ""),
    ({"$dateToString": {"date": "$date", "format": "%z %Z"}}, SALE, "+0000 0"),
    ({"$dateToString": {"date": "$date", "format": "%z %Z", "timezone": "-0530"}}, SALE, "-0530 -330"),
    ({"$dateToString": {"date": "$date", "format": "%z", "timezone": "Asia/Kathmandu"}}, SALE, "+0545"),
    ({"$dateToString": {"date": D("2021-07-01T12:00:00Z"), "format": "%H %z", "timezone": "America/New_York"}}, {},
     "08 -0400"),
    ({"$dateToString": {"date": D("2021-12-01T12:00:00Z"), "format": "%d %B", "timezone": "Pacific/Kiritimati"}},
     {}, "02 December"),
    ({"$dateToString": {"date": D("0031-05-06T07:08:09.010Z"), "format": "%Y/%m/%d %H:%M:%S.%L"}}, {},
     "0031/05/06 07:08:09.010"),
    ({"$dateToString": {"date": "$ts", "format": "%Y-%m-%d %H:%M:%S"}}, {"ts": TS}, "2021-06-03 14:37:40"),
    ({"$dateToString": {"date": "$id"}}, {"id": OID}, "2018-03-27T04:43:38.000Z"),
    ({"$dateToString": {"date": "$date", "format": "$fmt"}}, {**SALE, "fmt": "%d.%m.%Y"}, "01.01.2014"),
    ({"$dateToString": {"date": "$date", "format": "$fmt"}}, SALE, None),
    ({"$dateToString": {"date": "$date", "format": None}}, SALE, None),
    ({"$dateToString": {"date": "$date", "timezone": None}}, SALE, None),
    ({"$dateToString": {"date": "$date", "timezone": "$tz"}}, SALE, None),
    ({"$dateToString": {"date": None}}, {}, None),
    ({"$dateToString": {"date": None, "onNull": None}}, {}, None),
    ({"$dateToString": {"date": "$nope", "onNull": "$alsoMissing"}}, {}, MISSING),
    ({"$dateToString": {"date": None, "format": None, "onNull": "n/a"}}, {}, "n/a"),
    ({"$dateToString": {"date": None, "timezone": "$tz", "onNull": "n/a"}}, {}, "n/a"),
]

# https://www.mongodb.com/docs/manual/reference/operator/aggregation/dateToParts/ ("Example")
PARTS_DATE = {"date": D("2017-01-01T01:29:09.123Z")}
DOCS_DATE_TO_PARTS = [
    ({"$dateToParts": {"date": "$date"}}, PARTS_DATE,
     {"year": 2017, "month": 1, "day": 1, "hour": 1, "minute": 29, "second": 9, "millisecond": 123}),
    ({"$dateToParts": {"date": "$date", "iso8601": True}}, PARTS_DATE,
     {"isoWeekYear": 2016, "isoWeek": 52, "isoDayOfWeek": 7, "hour": 1, "minute": 29, "second": 9,
      "millisecond": 123}),
    ({"$dateToParts": {"date": "$date", "timezone": "America/New_York"}}, PARTS_DATE,
     {"year": 2016, "month": 12, "day": 31, "hour": 20, "minute": 29, "second": 9, "millisecond": 123}),
]

DATE_TO_PARTS_EDGES = [
    ({"$dateToParts": {"date": "$date", "timezone": "+05:30", "iso8601": False}}, PARTS_DATE,
     {"year": 2017, "month": 1, "day": 1, "hour": 6, "minute": 59, "second": 9, "millisecond": 123}),
    ({"$dateToParts": {"date": "$date", "timezone": "America/New_York", "iso8601": True}}, PARTS_DATE,
     {"isoWeekYear": 2016, "isoWeek": 52, "isoDayOfWeek": 6, "hour": 20, "minute": 29, "second": 9,
      "millisecond": 123}),
    ({"$dateToParts": {"date": "$ts"}}, {"ts": TS},
     {"year": 2021, "month": 6, "day": 3, "hour": 14, "minute": 37, "second": 40, "millisecond": 0}),
    ({"$dateToParts": {"date": "$nope"}}, {}, None),
    ({"$dateToParts": {"date": "$date", "iso8601": None}}, PARTS_DATE, None),
    ({"$dateToParts": {"date": "$date", "timezone": "$nope"}}, PARTS_DATE, None),
]

# https://www.mongodb.com/docs/manual/reference/operator/aggregation/dateFromParts/
# ("Behavior" value-range table and "Example")
DOCS_DATE_FROM_PARTS = [
    ({"$dateFromParts": {"year": 2017, "month": 2, "day": 8, "hour": 12}}, {}, D("2017-02-08T12:00:00Z")),
    ({"$dateFromParts": {"year": 2017, "month": 2, "day": 8, "hour": 12, "timezone": "America/New_York"}}, {},
     D("2017-02-08T17:00:00Z")),
    ({"$dateFromParts": {"isoWeekYear": 2017, "isoWeek": 6, "isoDayOfWeek": 3, "hour": 12}}, {},
     D("2017-02-08T12:00:00Z")),
    ({"$dateFromParts": {"year": 2017, "month": 14, "day": 1, "hour": 12}}, {}, D("2018-02-01T12:00:00Z")),
    ({"$dateFromParts": {"year": 2017, "month": 0, "day": 1, "hour": 12}}, {}, D("2016-12-01T12:00:00Z")),
    ({"$dateFromParts": {"year": 2017, "month": -1, "day": 1, "hour": 12}}, {}, D("2016-11-01T12:00:00Z")),
    ({"$dateFromParts": {"year": 2017, "month": 2, "day": 0, "hour": 12}}, {}, D("2017-01-31T12:00:00Z")),
    ({"$dateFromParts": {"year": 2017, "month": 2, "day": 31}}, {}, D("2017-03-03T00:00:00Z")),
    ({"$dateFromParts": {"year": 2017, "month": 2, "day": 8, "hour": 24}}, {}, D("2017-02-09T00:00:00Z")),
    ({"$dateFromParts": {"year": 2017, "month": 2, "day": 8, "hour": -1}}, {}, D("2017-02-07T23:00:00Z")),
    ({"$dateFromParts": {"year": 2017, "month": 2, "day": 8, "minute": 61}}, {}, D("2017-02-08T01:01:00Z")),
    ({"$dateFromParts": {"year": 2017, "month": 2, "day": 8, "second": -1}}, {}, D("2017-02-07T23:59:59Z")),
    ({"$dateFromParts": {"year": 2017, "month": 2, "day": 8, "millisecond": 1500}}, {},
     D("2017-02-08T00:00:01.500Z")),
    ({"$dateFromParts": {"year": 2017, "month": 2, "day": 8, "hour": 12, "minute": 0, "second": 0,
                         "millisecond": 0, "timezone": "America/New_York"}}, {}, D("2017-02-08T17:00:00Z")),
    ({"$dateFromParts": {"year": 2017, "month": 2, "day": 8, "hour": 12, "timezone": "+04:30"}}, {},
     D("2017-02-08T07:30:00Z")),
]

DATE_FROM_PARTS_EDGES = [
    ({"$dateFromParts": {"year": 2017}}, {}, D("2017-01-01T00:00:00Z")),
    ({"$dateFromParts": {"isoWeekYear": 2017}}, {}, D("2017-01-02T00:00:00Z")),
    ({"$dateFromParts": {"isoWeekYear": 2015, "isoWeek": 53, "isoDayOfWeek": 7}}, {}, D("2016-01-03T00:00:00Z")),
    ({"$dateFromParts": {"isoWeekYear": 2017, "isoWeek": 0, "isoDayOfWeek": 8}}, {}, D("2017-01-02T00:00:00Z")),
    ({"$dateFromParts": {"year": 2017.0, "month": Int64(2), "day": Decimal128("8")}}, {}, D("2017-02-08T00:00:00Z")),
    ({"$dateFromParts": {"year": 2020, "month": 2, "day": 29, "second": Int64(86_400)}}, {},
     D("2020-03-01T00:00:00Z")),
    ({"$dateFromParts": {"year": "$y", "month": "$m", "day": "$d"}}, {"y": 2020, "m": 12, "d": 31},
     D("2020-12-31T00:00:00Z")),
    ({"$dateFromParts": {"year": "$y", "month": "$m"}}, {"y": 2020}, None),
    ({"$dateFromParts": {"year": None}}, {}, None),
    ({"$dateFromParts": {"year": 2020, "hour": None}}, {}, None),
    ({"$dateFromParts": {"year": 2020, "timezone": None}}, {}, None),
    ({"$dateFromParts": {"year": 2020, "timezone": "$tz"}}, {"tz": "Asia/Tokyo"}, D("2019-12-31T15:00:00Z")),
    # mongod reads the hour before the year: a null hour hides a bad year.
    ({"$dateFromParts": {"year": "bad", "hour": None}}, {}, None),
    # DST: 12:00 in New York is 16:00Z in summer, 17:00Z in winter; 02:30 on 2021-03-14 does not
    # exist and takes the offset in force before the jump (EST).
    ({"$dateFromParts": {"year": 2021, "month": 7, "day": 1, "hour": 12, "timezone": "America/New_York"}}, {},
     D("2021-07-01T16:00:00Z")),
    ({"$dateFromParts": {"year": 2021, "month": 3, "day": 14, "hour": 2, "minute": 30,
                         "timezone": "America/New_York"}}, {}, D("2021-03-14T07:30:00Z")),
    ({"$dateFromParts": {"year": 2021, "month": 11, "day": 7, "hour": 1, "minute": 30,
                         "timezone": "America/New_York"}}, {}, D("2021-11-07T05:30:00Z")),
]

# https://www.mongodb.com/docs/manual/reference/operator/aggregation/dateFromString/
# (the table of examples, and the "Converting Dates", "onError" and "onNull" examples)
DOCS_DATE_FROM_STRING = [
    ({"$dateFromString": {"dateString": "2017-02-08T12:10:40.787"}}, {}, D("2017-02-08T12:10:40.787Z")),
    ({"$dateFromString": {"dateString": "2017-02-08T12:10:40.787", "timezone": "America/New_York"}}, {},
     D("2017-02-08T17:10:40.787Z")),
    ({"$dateFromString": {"dateString": "2017-02-08"}}, {}, D("2017-02-08T00:00:00Z")),
    ({"$dateFromString": {"dateString": "06-15-2018", "format": "%m-%d-%Y"}}, {}, D("2018-06-15T00:00:00Z")),
    ({"$dateFromString": {"dateString": "15-06-2018", "format": "%d-%m-%Y"}}, {}, D("2018-06-15T00:00:00Z")),
    ({"$dateFromString": {"dateString": "$date", "timezone": "$timezone"}},
     {"date": "2017-02-08T12:10:40.787", "timezone": "America/New_York"}, D("2017-02-08T17:10:40.787Z")),
    ({"$dateFromString": {"dateString": "$date", "timezone": "$timezone"}},
     {"date": "2017-02-08", "timezone": "UTC"}, D("2017-02-08T00:00:00Z")),
    ({"$dateFromString": {"dateString": "$date", "timezone": "$timezone"}}, {"message": " Step 1: Ended "}, None),
    ({"$dateFromString": {"dateString": "$date", "timezone": "$timezone"}},
     {"date": "2017-02-09", "timezone": "Europe/London"}, D("2017-02-09T00:00:00Z")),
    ({"$dateFromString": {"dateString": "$date", "timezone": "$timezone"}},
     {"date": "2017-02-09T03:35:02.055", "timezone": "+0530"}, D("2017-02-08T22:05:02.055Z")),
    ({"$dateFromString": {"dateString": "$date", "timezone": "$timezone", "onError": "$date"}},
     {"date": "20177-02-09T03:35:02.055", "timezone": "America/New_York"}, "20177-02-09T03:35:02.055"),
    ({"$dateFromString": {"dateString": "$date", "timezone": "$timezone", "onNull": D("1970-01-01T00:00:00Z")}},
     {"timezone": "America/New_York"}, D("1970-01-01T00:00:00Z")),
]

DATE_FROM_STRING_EDGES = [
    ({"$dateFromString": {"dateString": "2017-02-08T12:10:40.787Z"}}, {}, D("2017-02-08T12:10:40.787Z")),
    ({"$dateFromString": {"dateString": "2017-02-08T12:10:40.787Z", "timezone": "UTC"}}, {},
     D("2017-02-08T12:10:40.787Z")),
    ({"$dateFromString": {"dateString": "2017-02-08T12:10:40Z", "timezone": "+00:00"}}, {},
     D("2017-02-08T12:10:40Z")),
    ({"$dateFromString": {"dateString": "2017-02-08T12:10:40.787+0500"}}, {}, D("2017-02-08T07:10:40.787Z")),
    ({"$dateFromString": {"dateString": "2017-02-08T12:10:40+05:30"}}, {}, D("2017-02-08T06:40:40Z")),
    ({"$dateFromString": {"dateString": "2017-02-08T12:10:40-03"}}, {}, D("2017-02-08T15:10:40Z")),
    ({"$dateFromString": {"dateString": "2017-02-08 12:10:40 GMT"}}, {}, D("2017-02-08T12:10:40Z")),
    ({"$dateFromString": {"dateString": "2017-02-08 12:10"}}, {}, D("2017-02-08T12:10:00Z")),
    ({"$dateFromString": {"dateString": "2017-02-08T12:10:40.7875"}}, {}, D("2017-02-08T12:10:40.787Z")),
    ({"$dateFromString": {"dateString": "  2017-02-08  "}}, {}, D("2017-02-08T00:00:00Z")),
    ({"$dateFromString": {"dateString": "2017/02/08"}}, {}, D("2017-02-08T00:00:00Z")),
    ({"$dateFromString": {"dateString": "02/08/2017"}}, {}, D("2017-02-08T00:00:00Z")),
    ({"$dateFromString": {"dateString": "08.02.2017"}}, {}, D("2017-02-08T00:00:00Z")),
    ({"$dateFromString": {"dateString": "20170208"}}, {}, D("2017-02-08T00:00:00Z")),
    ({"$dateFromString": {"dateString": "2017-02"}}, {}, D("2017-02-01T00:00:00Z")),
    ({"$dateFromString": {"dateString": "Feb 8, 2017"}}, {}, D("2017-02-08T00:00:00Z")),
    ({"$dateFromString": {"dateString": "February 8 2017 10:00"}}, {}, D("2017-02-08T10:00:00Z")),
    ({"$dateFromString": {"dateString": "8 February 2017"}}, {}, D("2017-02-08T00:00:00Z")),
    ({"$dateFromString": {"dateString": "Wed, 8 Feb 2017 10:00:00 +0100"}}, {}, D("2017-02-08T09:00:00Z")),
    ({"$dateFromString": {"dateString": "2017-W06-3"}}, {}, D("2017-02-08T00:00:00Z")),
    ({"$dateFromString": {"dateString": "20170208", "format": "%Y%m%d"}}, {}, D("2017-02-08T00:00:00Z")),
    ({"$dateFromString": {"dateString": "2017-02-08T12:10:40.787Z", "format": "%Y-%m-%dT%H:%M:%S.%LZ"}}, {},
     D("2017-02-08T12:10:40.787Z")),
    ({"$dateFromString": {"dateString": "Wed Feb 08 2017 12:10:40 GMT+0530"}}, {}, D("2017-02-08T06:40:40Z")),
    ({"$dateFromString": {"dateString": "08/02/2017 12:10", "format": "%d/%m/%Y %H:%M"}}, {},
     D("2017-02-08T12:10:00Z")),
    ({"$dateFromString": {"dateString": "2017-02-08T12:10:40.787+0530", "format": "%Y-%m-%dT%H:%M:%S.%L%z"}}, {},
     D("2017-02-08T06:40:40.787Z")),
    ({"$dateFromString": {"dateString": "2017-02-08T12:10:40.5", "format": "%Y-%m-%dT%H:%M:%S.%L"}}, {},
     D("2017-02-08T12:10:40.500Z")),
    ({"$dateFromString": {"dateString": "2017-039", "format": "%Y-%j"}}, {}, D("2017-02-08T00:00:00Z")),
    ({"$dateFromString": {"dateString": "2017-06-3", "format": "%G-%V-%u"}}, {}, D("2017-02-08T00:00:00Z")),
    ({"$dateFromString": {"dateString": "Feb 08 2017", "format": "%b %d %Y"}}, {}, D("2017-02-08T00:00:00Z")),
    ({"$dateFromString": {"dateString": "February 8, 2017", "format": "%B %d, %Y"}}, {},
     D("2017-02-08T00:00:00Z")),
    ({"$dateFromString": {"dateString": "2017-02-08 -300", "format": "%Y-%m-%d %Z"}}, {},
     D("2017-02-08T05:00:00Z")),
    ({"$dateFromString": {"dateString": "100% 2017-02-08", "format": "100%% %Y-%m-%d"}}, {},
     D("2017-02-08T00:00:00Z")),
    ({"$dateFromString": {"dateString": "2017-02-08 07", "format": "%Y-%m-%d %H"}}, {}, D("2017-02-08T07:00:00Z")),
    ({"$dateFromString": {"dateString": "$s", "format": "$f"}}, {"s": "2017 02 08", "f": "%Y %m %d"},
     D("2017-02-08T00:00:00Z")),
    ({"$dateFromString": {"dateString": "2017-02-08", "format": None}}, {}, None),
    ({"$dateFromString": {"dateString": "2017-02-08", "format": "$nope"}}, {}, None),
    ({"$dateFromString": {"dateString": "2017-02-08", "timezone": None}}, {}, None),
    ({"$dateFromString": {"dateString": None, "timezone": None, "onNull": "null wins"}}, {}, "null wins"),
    ({"$dateFromString": {"dateString": None, "format": None}}, {}, None),
    ({"$dateFromString": {"dateString": "garbage", "onError": "bad"}}, {}, "bad"),
    ({"$dateFromString": {"dateString": 20170208, "onError": "not a string"}}, {}, "not a string"),
    ({"$dateFromString": {"dateString": "2017-02-30", "onError": None}}, {}, None),
    ({"$dateFromString": {"dateString": "2017-02-08", "format": "%Y-%m", "onError": "trailing"}}, {}, "trailing"),
    ({"$dateFromString": {"dateString": "2017-02-08Z", "timezone": "Europe/Paris", "onError": "zone twice"}}, {},
     "zone twice"),
    ({"$dateFromString": {"dateString": "8 Feb, 2017"}}, {}, D("2017-02-08T00:00:00Z")),
    ({"$dateFromString": {"dateString": "02/08/2017 10:15 PM"}}, {}, D("2017-02-08T22:15:00Z")),
    ({"$dateFromString": {"dateString": "02/08/2017 12:05am"}}, {}, D("2017-02-08T00:05:00Z")),
    ({"$dateFromString": {"dateString": "2017-02-08 10:00 EST"}}, {}, D("2017-02-08T15:00:00Z")),
    ({"$dateFromString": {"dateString": "2017-07-08 10:00 CEST"}}, {}, D("2017-07-08T08:00:00Z")),
    # Dates outside the years 1-9999 are parse failures here, so onError still catches them.
    ({"$dateFromString": {"dateString": "0000-01-01", "onError": "caught"}}, {}, "caught"),
    ({"$dateFromString": {"dateString": "9999-12-31T23:00:00", "timezone": "-05", "onError": "caught"}}, {},
     "caught"),
    # DST: a local time New York skips takes EST; a repeated one takes the first (EDT) reading.
    ({"$dateFromString": {"dateString": "2021-03-14T02:30:00", "timezone": "America/New_York"}}, {},
     D("2021-03-14T07:30:00Z")),
    ({"$dateFromString": {"dateString": "2021-11-07T01:30:00", "timezone": "America/New_York"}}, {},
     D("2021-11-07T05:30:00Z")),
    ({"$dateFromString": {"dateString": "2021-07-01T12:00:00", "timezone": "Europe/London"}}, {},
     D("2021-07-01T11:00:00Z")),
]

# https://www.mongodb.com/docs/manual/reference/operator/aggregation/dateAdd/
# ("Add a Future Date" shipping example; "Behavior": the last day of a shorter month)
DOCS_DATE_ADD = [
    ({"$dateAdd": {"startDate": "$purchaseDate", "unit": "day", "amount": 3}},
     {"purchaseDate": D("2020-12-31T00:00:00Z")}, D("2021-01-03T00:00:00Z")),
    ({"$dateAdd": {"startDate": "$purchaseDate", "unit": "day", "amount": 3}},
     {"purchaseDate": D("2021-02-28T00:00:00Z")}, D("2021-03-03T00:00:00Z")),
    ({"$dateAdd": {"startDate": "$purchaseDate", "unit": "day", "amount": 3}},
     {"purchaseDate": D("2021-02-26T00:00:00Z")}, D("2021-03-01T00:00:00Z")),
    ({"$dateAdd": {"startDate": D("2021-01-31T00:00:00Z"), "unit": "month", "amount": 1}}, {},
     D("2021-02-28T00:00:00Z")),
]

DATE_ADD_EDGES = [
    ({"$dateAdd": {"startDate": D("2020-01-31T00:00:00Z"), "unit": "month", "amount": 1}}, {},
     D("2020-02-29T00:00:00Z")),
    ({"$dateSubtract": {"startDate": D("2021-03-31T00:00:00Z"), "unit": "month", "amount": 1}}, {},
     D("2021-02-28T00:00:00Z")),
    ({"$dateSubtract": {"startDate": "$logout", "unit": "hour", "amount": 12}},
     {"logout": D("2021-01-15T07:00:00Z")}, D("2021-01-14T19:00:00Z")),
    ({"$dateAdd": {"startDate": D("2020-02-29T10:00:00Z"), "unit": "year", "amount": 1}}, {},
     D("2021-02-28T10:00:00Z")),
    ({"$dateAdd": {"startDate": D("2020-02-29T10:00:00Z"), "unit": "year", "amount": 4}}, {},
     D("2024-02-29T10:00:00Z")),
    ({"$dateAdd": {"startDate": D("2021-01-31T00:00:00Z"), "unit": "quarter", "amount": 1}}, {},
     D("2021-04-30T00:00:00Z")),
    ({"$dateAdd": {"startDate": D("2021-01-15T00:00:00Z"), "unit": "month", "amount": -1}}, {},
     D("2020-12-15T00:00:00Z")),
    ({"$dateAdd": {"startDate": D("2021-01-15T00:00:00Z"), "unit": "month", "amount": -13}}, {},
     D("2019-12-15T00:00:00Z")),
    ({"$dateAdd": {"startDate": D("2021-01-15T00:00:00Z"), "unit": "week", "amount": 2}}, {},
     D("2021-01-29T00:00:00Z")),
    ({"$dateAdd": {"startDate": D("2021-01-01T00:00:00Z"), "unit": "millisecond", "amount": 1500}}, {},
     D("2021-01-01T00:00:01.500Z")),
    ({"$dateAdd": {"startDate": D("2021-01-01T00:00:00Z"), "unit": "second", "amount": -1}}, {},
     D("2020-12-31T23:59:59Z")),
    ({"$dateAdd": {"startDate": D("2021-01-01T00:00:00Z"), "unit": "minute", "amount": Int64(90)}}, {},
     D("2021-01-01T01:30:00Z")),
    ({"$dateAdd": {"startDate": D("2021-01-01T00:00:00Z"), "unit": "day", "amount": 2.0}}, {},
     D("2021-01-03T00:00:00Z")),
    ({"$dateAdd": {"startDate": D("2021-01-01T00:00:00Z"), "unit": "day", "amount": Decimal128("-1")}}, {},
     D("2020-12-31T00:00:00Z")),
    ({"$dateAdd": {"startDate": "$ts", "unit": "second", "amount": 1}}, {"ts": TS}, D("2021-06-03T14:37:41Z")),
    ({"$dateAdd": {"startDate": "$id", "unit": "day", "amount": 1}}, {"id": OID}, D("2018-03-28T04:43:38Z")),
    ({"$dateAdd": {"startDate": "$d", "unit": "$u", "amount": "$n"}},
     {"d": D("2021-01-01T00:00:00Z"), "u": "hour", "n": 5}, D("2021-01-01T05:00:00Z")),
    ({"$dateAdd": {"startDate": None, "unit": "$u", "amount": 1}}, {"u": "bogus"}, None),
    ({"$dateAdd": {"startDate": "$nope", "unit": "day", "amount": 1}}, {}, None),
    ({"$dateAdd": {"startDate": D("2021-01-01T00:00:00Z"), "unit": None, "amount": 1}}, {}, None),
    ({"$dateAdd": {"startDate": D("2021-01-01T00:00:00Z"), "unit": "day", "amount": None}}, {}, None),
    ({"$dateAdd": {"startDate": D("2021-01-01T00:00:00Z"), "unit": "day", "amount": 1, "timezone": None}}, {},
     None),
    ({"$dateAdd": {"startDate": "bad date", "unit": "day", "amount": None}}, {}, None),
    # Time zones: a day is a calendar day in the zone, an hour is 60 minutes anywhere.
    ({"$dateAdd": {"startDate": D("2021-03-13T12:00:00Z"), "unit": "day", "amount": 1,
                   "timezone": "America/New_York"}}, {}, D("2021-03-14T11:00:00Z")),
    ({"$dateAdd": {"startDate": D("2021-03-13T12:00:00Z"), "unit": "hour", "amount": 24,
                   "timezone": "America/New_York"}}, {}, D("2021-03-14T12:00:00Z")),
    ({"$dateAdd": {"startDate": D("2021-03-13T12:00:00Z"), "unit": "day", "amount": 1}}, {},
     D("2021-03-14T12:00:00Z")),
    ({"$dateAdd": {"startDate": D("2021-11-06T12:00:00Z"), "unit": "day", "amount": 1,
                   "timezone": "America/New_York"}}, {}, D("2021-11-07T13:00:00Z")),
    ({"$dateAdd": {"startDate": D("2021-03-10T12:00:00Z"), "unit": "week", "amount": 1,
                   "timezone": "America/New_York"}}, {}, D("2021-03-17T11:00:00Z")),
    ({"$dateSubtract": {"startDate": D("2021-03-17T11:00:00Z"), "unit": "week", "amount": 1,
                        "timezone": "America/New_York"}}, {}, D("2021-03-10T12:00:00Z")),
    # mongod's own comment: an hour added across the November fall-back is one real hour.
    ({"$dateAdd": {"startDate": D("2020-11-01T05:50:02Z"), "unit": "hour", "amount": 1,
                   "timezone": "America/New_York"}}, {}, D("2020-11-01T06:50:02Z")),
    # Month-end clamping happens on the local calendar: Jan 30 22:00 in New York + 1 month.
    ({"$dateAdd": {"startDate": D("2021-01-31T03:00:00Z"), "unit": "month", "amount": 1,
                   "timezone": "America/New_York"}}, {}, D("2021-03-01T03:00:00Z")),
    ({"$dateAdd": {"startDate": D("2021-01-31T03:00:00Z"), "unit": "month", "amount": 1}}, {},
     D("2021-02-28T03:00:00Z")),
    ({"$dateAdd": {"startDate": D("2021-01-30T20:00:00Z"), "unit": "month", "amount": 1, "timezone": "+05:30"}},
     {}, D("2021-02-27T20:00:00Z")),
    ({"$dateAdd": {"startDate": D("2021-01-30T20:00:00Z"), "unit": "month", "amount": 1}}, {},
     D("2021-02-28T20:00:00Z")),
    ({"$dateAdd": {"startDate": D("2021-03-27T12:00:00Z"), "unit": "day", "amount": 1, "timezone": "Europe/London"}},
     {}, D("2021-03-28T11:00:00Z")),
    # A wall time the zone skips (02:30 on 2021-03-14 in New York) takes the offset before the jump.
    ({"$dateAdd": {"startDate": D("2021-03-13T07:30:00Z"), "unit": "day", "amount": 1,
                   "timezone": "America/New_York"}}, {}, D("2021-03-14T07:30:00Z")),
]

# https://www.mongodb.com/docs/manual/reference/operator/aggregation/dateDiff/
# ("Elapsed Time" orders example; "Behavior": boundaries crossed, not elapsed time; startOfWeek)
ORDERS = [("2020-12-31", "2021-01-05", 5), ("2021-02-28", "2021-03-07", 7), ("2021-02-16", "2021-02-18", 2)]
DOCS_DATE_DIFF = [
    ({"$dateDiff": {"startDate": "$purchased", "endDate": "$delivered", "unit": "day"}},
     {"purchased": D(f"{bought}T00:00:00Z"), "delivered": D(f"{arrived}T00:00:00Z")}, Int64(days))
    for bought, arrived, days in ORDERS
] + [
    ({"$dateDiff": {"startDate": D("2020-12-31T00:00:00Z"), "endDate": D("2021-01-01T00:00:00Z"), "unit": "year"}},
     {}, Int64(1)),
    ({"$dateDiff": {"startDate": D("2021-01-31T00:00:00Z"), "endDate": D("2021-02-01T00:00:00Z"), "unit": "month"}},
     {}, Int64(1)),
    ({"$dateDiff": {"startDate": D("2021-01-02T00:00:00Z"), "endDate": D("2021-01-03T00:00:00Z"), "unit": "week"}},
     {}, Int64(1)),
    ({"$dateDiff": {"startDate": D("2021-01-02T00:00:00Z"), "endDate": D("2021-01-03T00:00:00Z"), "unit": "week",
                    "startOfWeek": "monday"}}, {}, Int64(0)),
]

DATE_DIFF_EDGES = [
    ({"$dateDiff": {"startDate": D("2021-01-01T23:59:00Z"), "endDate": D("2021-01-02T00:01:00Z"), "unit": u}}, {},
     Int64(n))
    for u, n in (("year", 0), ("quarter", 0), ("month", 0), ("week", 0), ("day", 1), ("hour", 1), ("minute", 2),
                 ("second", 120), ("millisecond", 120_000))
] + [
    ({"$dateDiff": {"startDate": D("2021-03-31T00:00:00Z"), "endDate": D("2021-04-01T00:00:00Z"), "unit": "quarter"}},
     {}, Int64(1)),
    ({"$dateDiff": {"startDate": D("2021-04-01T00:00:00Z"), "endDate": D("2021-03-31T00:00:00Z"), "unit": "month"}},
     {}, Int64(-1)),
    ({"$dateDiff": {"startDate": D("2021-01-03T00:00:00Z"), "endDate": D("2021-01-04T00:00:00Z"), "unit": "week",
                    "startOfWeek": "MON"}}, {}, Int64(1)),
    ({"$dateDiff": {"startDate": D("2021-01-03T00:00:00Z"), "endDate": D("2021-01-04T00:00:00Z"), "unit": "week"}},
     {}, Int64(0)),
    ({"$dateDiff": {"startDate": D("2021-01-31T00:00:00Z"), "endDate": D("2021-01-03T00:00:00Z"), "unit": "week"}},
     {}, Int64(-4)),
    ({"$dateDiff": {"startDate": D("2021-01-01T00:00:00Z"), "endDate": D("2021-01-02T00:00:00Z"), "unit": "day",
                    "startOfWeek": "funday"}}, {}, Int64(1)),
    ({"$dateDiff": {"startDate": D("2021-01-01T00:00:00.250Z"), "endDate": D("2021-01-01T00:00:01.100Z"),
                    "unit": "second"}}, {}, Int64(1)),
    ({"$dateDiff": {"startDate": D("2021-01-01T00:00:00.250Z"), "endDate": D("2021-01-01T00:00:01.100Z"),
                    "unit": "millisecond"}}, {}, Int64(850)),
    ({"$dateDiff": {"startDate": "$a", "endDate": "$b", "unit": "second"}},
     {"a": TS, "b": Timestamp(1622731070, 1)}, Int64(10)),
    ({"$dateDiff": {"startDate": "$a", "endDate": D("2018-03-28T00:00:00Z"), "unit": "day"}}, {"a": OID}, Int64(1)),
    # New Year in New York comes five hours after New Year in UTC.
    ({"$dateDiff": {"startDate": D("2021-01-01T03:00:00Z"), "endDate": D("2021-01-01T06:00:00Z"), "unit": "year",
                    "timezone": "America/New_York"}}, {}, Int64(1)),
    ({"$dateDiff": {"startDate": D("2021-01-01T03:00:00Z"), "endDate": D("2021-01-01T06:00:00Z"), "unit": "year"}},
     {}, Int64(0)),
    # Hours across DST: one real hour each time, although the wall clock moves by 2 and 0.
    ({"$dateDiff": {"startDate": D("2021-03-14T06:30:00Z"), "endDate": D("2021-03-14T07:30:00Z"), "unit": "hour",
                    "timezone": "America/New_York"}}, {}, Int64(1)),
    ({"$dateDiff": {"startDate": D("2021-11-07T05:30:00Z"), "endDate": D("2021-11-07T06:30:00Z"), "unit": "hour",
                    "timezone": "America/New_York"}}, {}, Int64(1)),
    ({"$dateDiff": {"startDate": D("2021-11-07T05:30:00Z"), "endDate": D("2021-11-07T06:30:00Z"), "unit": "minute",
                    "timezone": "America/New_York"}}, {}, Int64(60)),
    ({"$dateDiff": {"startDate": D("2021-03-13T12:00:00Z"), "endDate": D("2021-03-14T11:00:00Z"), "unit": "day",
                    "timezone": "America/New_York"}}, {}, Int64(1)),
    # Half-hour zones move the hour boundaries: 05:45 to 06:15 in Kolkata crosses 06:00.
    ({"$dateDiff": {"startDate": D("2021-01-01T00:15:00Z"), "endDate": D("2021-01-01T00:45:00Z"), "unit": "hour",
                    "timezone": "Asia/Kolkata"}}, {}, Int64(1)),
    ({"$dateDiff": {"startDate": D("2021-01-01T00:15:00Z"), "endDate": D("2021-01-01T00:45:00Z"), "unit": "hour"}},
     {}, Int64(0)),
    ({"$dateDiff": {"startDate": D("2021-01-01T00:15:00Z"), "endDate": D("2021-01-01T00:45:00Z"), "unit": "hour",
                    "timezone": "+05:30"}}, {}, Int64(1)),
    ({"$dateDiff": {"startDate": None, "endDate": "bad", "unit": "$u"}}, {"u": "bogus"}, None),
    ({"$dateDiff": {"startDate": D("2021-01-01T00:00:00Z"), "endDate": "$nope", "unit": "day"}}, {}, None),
    ({"$dateDiff": {"startDate": D("2021-01-01T00:00:00Z"), "endDate": D("2021-01-02T00:00:00Z"), "unit": "$u"}},
     {}, None),
    ({"$dateDiff": {"startDate": D("2021-01-01T00:00:00Z"), "endDate": D("2021-01-02T00:00:00Z"), "unit": "week",
                    "startOfWeek": None}}, {}, None),
    ({"$dateDiff": {"startDate": D("2021-01-01T00:00:00Z"), "endDate": D("2021-01-02T00:00:00Z"), "unit": "day",
                    "startOfWeek": None}}, {}, Int64(1)),
    ({"$dateDiff": {"startDate": D("2021-01-01T00:00:00Z"), "endDate": D("2021-01-02T00:00:00Z"), "unit": "day",
                    "timezone": "$tz"}}, {}, None),
]

# https://www.mongodb.com/docs/manual/reference/operator/aggregation/dateTrunc/ ("Examples": cakeSales,
# two-week bins in Los Angeles starting on Monday, and six-month bins)
CAKES = [
    (D("2020-05-18T14:10:30Z"), D("2020-05-11T07:00:00Z"), D("2020-01-01T00:00:00Z")),
    (D("2021-03-20T11:30:05Z"), D("2021-03-15T07:00:00Z"), D("2021-01-01T00:00:00Z")),
    (D("2021-01-11T06:31:15Z"), D("2021-01-04T08:00:00Z"), D("2021-01-01T00:00:00Z")),
    (D("2020-02-08T13:13:23Z"), D("2020-02-03T08:00:00Z"), D("2020-01-01T00:00:00Z")),
    (D("2019-05-18T16:09:01Z"), D("2019-05-13T07:00:00Z"), D("2019-01-01T00:00:00Z")),
    (D("2019-01-08T06:12:03Z"), D("2019-01-07T08:00:00Z"), D("2019-01-01T00:00:00Z")),
]
DOCS_DATE_TRUNC = [
    ({"$dateTrunc": {"date": "$orderDate", "unit": "week", "binSize": 2, "timezone": "America/Los_Angeles",
                     "startOfWeek": "Monday"}}, {"orderDate": order}, weeks)
    for order, weeks, _ in CAKES
] + [
    ({"$dateTrunc": {"date": "$orderDate", "unit": "month", "binSize": 6}}, {"orderDate": order}, months)
    for order, _, months in CAKES
]

T = D("2021-03-20T11:30:05.250Z")  # a Saturday
DATE_TRUNC_EDGES = [
    ({"$dateTrunc": {"date": T, "unit": "millisecond", "binSize": 100}}, {}, D("2021-03-20T11:30:05.200Z")),
    ({"$dateTrunc": {"date": T, "unit": "second"}}, {}, D("2021-03-20T11:30:05Z")),
    ({"$dateTrunc": {"date": T, "unit": "second", "binSize": 10}}, {}, D("2021-03-20T11:30:00Z")),
    ({"$dateTrunc": {"date": T, "unit": "minute", "binSize": 15}}, {}, D("2021-03-20T11:30:00Z")),
    ({"$dateTrunc": {"date": T, "unit": "minute", "binSize": 7}}, {}, D("2021-03-20T11:26:00Z")),
    ({"$dateTrunc": {"date": T, "unit": "hour"}}, {}, D("2021-03-20T11:00:00Z")),
    ({"$dateTrunc": {"date": T, "unit": "hour", "binSize": 5}}, {}, D("2021-03-20T09:00:00Z")),
    ({"$dateTrunc": {"date": T, "unit": "day"}}, {}, D("2021-03-20T00:00:00Z")),
    ({"$dateTrunc": {"date": T, "unit": "day", "binSize": 10}}, {}, D("2021-03-11T00:00:00Z")),
    ({"$dateTrunc": {"date": T, "unit": "week"}}, {}, D("2021-03-14T00:00:00Z")),
    ({"$dateTrunc": {"date": T, "unit": "week", "startOfWeek": "mon"}}, {}, D("2021-03-15T00:00:00Z")),
    ({"$dateTrunc": {"date": T, "unit": "week", "startOfWeek": "SATURDAY"}}, {}, D("2021-03-20T00:00:00Z")),
    ({"$dateTrunc": {"date": T, "unit": "month"}}, {}, D("2021-03-01T00:00:00Z")),
    ({"$dateTrunc": {"date": T, "unit": "month", "binSize": 5}}, {}, D("2020-11-01T00:00:00Z")),
    ({"$dateTrunc": {"date": T, "unit": "quarter"}}, {}, D("2021-01-01T00:00:00Z")),
    ({"$dateTrunc": {"date": D("2021-08-20T00:00:00Z"), "unit": "quarter"}}, {}, D("2021-07-01T00:00:00Z")),
    ({"$dateTrunc": {"date": T, "unit": "year"}}, {}, D("2021-01-01T00:00:00Z")),
    ({"$dateTrunc": {"date": T, "unit": "year", "binSize": 5}}, {}, D("2020-01-01T00:00:00Z")),
    ({"$dateTrunc": {"date": D("1999-06-01T00:00:00Z"), "unit": "year", "binSize": 5}}, {},
     D("1995-01-01T00:00:00Z")),
    ({"$dateTrunc": {"date": D("1999-12-31T23:59:59Z"), "unit": "day", "binSize": 3}}, {},
     D("1999-12-29T00:00:00Z")),
    ({"$dateTrunc": {"date": T, "unit": "day", "binSize": 2.0}}, {}, D("2021-03-19T00:00:00Z")),
    ({"$dateTrunc": {"date": T, "unit": "hour", "binSize": Int64(1)}}, {}, D("2021-03-20T11:00:00Z")),
    ({"$dateTrunc": {"date": "$ts", "unit": "hour"}}, {"ts": TS}, D("2021-06-03T14:00:00Z")),
    ({"$dateTrunc": {"date": "$id", "unit": "day"}}, {"id": OID}, D("2018-03-27T00:00:00Z")),
    ({"$dateTrunc": {"date": "$d", "unit": "$u", "binSize": "$b"}}, {"d": T, "u": "minute", "b": 30},
     D("2021-03-20T11:30:00Z")),
    # Time zones: days start at local midnight, hours in half-hour zones at :30 UTC.
    ({"$dateTrunc": {"date": D("2021-03-14T12:00:00Z"), "unit": "day", "timezone": "America/New_York"}}, {},
     D("2021-03-14T05:00:00Z")),
    ({"$dateTrunc": {"date": D("2021-03-15T12:00:00Z"), "unit": "day", "timezone": "America/New_York"}}, {},
     D("2021-03-15T04:00:00Z")),
    ({"$dateTrunc": {"date": D("2021-01-01T00:15:00Z"), "unit": "hour", "timezone": "+05:30"}}, {},
     D("2020-12-31T23:30:00Z")),
    ({"$dateTrunc": {"date": D("2021-01-01T00:15:00Z"), "unit": "hour", "timezone": "Asia/Kolkata"}}, {},
     D("2020-12-31T23:30:00Z")),
    ({"$dateTrunc": {"date": D("2021-01-01T03:00:00Z"), "unit": "month", "timezone": "America/New_York"}}, {},
     D("2020-12-01T05:00:00Z")),
    ({"$dateTrunc": {"date": D("2021-07-04T03:00:00Z"), "unit": "month", "timezone": "America/New_York"}}, {},
     D("2021-07-01T04:00:00Z")),
    # Bins smaller than a day count from the zone's January offset, as mongod does: two-hour bins
    # in New York summer start at odd UTC hours.
    ({"$dateTrunc": {"date": D("2021-07-01T12:34:00Z"), "unit": "hour", "binSize": 2,
                     "timezone": "America/New_York"}}, {}, D("2021-07-01T11:00:00Z")),
    ({"$dateTrunc": {"date": None, "unit": "$u"}}, {"u": "bogus"}, None),
    ({"$dateTrunc": {"date": T, "unit": "day", "binSize": None}}, {}, None),
    ({"$dateTrunc": {"date": T, "unit": "$nope"}}, {}, None),
    ({"$dateTrunc": {"date": T, "unit": "week", "startOfWeek": "$nope"}}, {}, None),
    ({"$dateTrunc": {"date": T, "unit": "day", "timezone": None}}, {}, None),
]

# https://www.mongodb.com/docs/manual/reference/operator/aggregation/tsSecond/
# https://www.mongodb.com/docs/manual/reference/operator/aggregation/tsIncrement/
DOCS_TIMESTAMP = [
    ({"$tsSecond": Timestamp(1622731060, 10)}, {}, Int64(1622731060)),
    ({"$tsIncrement": Timestamp(1622731060, 10)}, {}, Int64(10)),
    ({"$tsSecond": "$saleTimestamp"}, {"saleTimestamp": Timestamp(1622731060, 1)}, Int64(1622731060)),
    ({"$tsIncrement": ["$saleTimestamp"]}, {"saleTimestamp": Timestamp(1622731060, 3)}, Int64(3)),
    ({"$tsSecond": "$nope"}, {}, None),
    ({"$tsIncrement": None}, {}, None),
]

CASES = _table(DOCS_DATE_PARTS, DOCS_ISO, DATE_PART_EDGES, DOCS_DATE_TO_STRING, DATE_TO_STRING_EDGES,
               DOCS_DATE_TO_PARTS, DATE_TO_PARTS_EDGES, DOCS_DATE_FROM_PARTS, DATE_FROM_PARTS_EDGES,
               DOCS_DATE_FROM_STRING, DATE_FROM_STRING_EDGES, DOCS_DATE_ADD, DATE_ADD_EDGES, DOCS_DATE_DIFF,
               DATE_DIFF_EDGES, DOCS_DATE_TRUNC, DATE_TRUNC_EDGES, DOCS_TIMESTAMP)  # fmt: skip


@pytest.mark.parametrize(("expr", "doc", "expected"), CASES)
def test_date_expression(expr, doc, expected):
    assert_same(evaluate(expr, doc), expected)


# Run-time failures: the document goes to the DLQ with mongod's reason.
RUNTIME_ERRORS = [
    ({"$year": "$d"}, {"d": "2016-01-01"}, "can't convert from BSON type string to Date"),
    ({"$year": "March 28, 1976"}, {}, "can't convert from BSON type string to Date"),
    ({"$month": "$d"}, {"d": float("nan")}, "can't convert from BSON type double to Date"),
    ({"$week": "$d"}, {"d": [D("2016-01-01T00:00:00Z")]}, "can't convert from BSON type array to Date"),
    ({"$hour": {"date": "$d", "timezone": "$tz"}}, {**SALE, "d": 1, "tz": 5},
     "can't convert from BSON type int to Date"),
    ({"$hour": {"date": "$date", "timezone": "$tz"}}, {**SALE, "tz": 5}, "timezone must evaluate to a string, found int"),
    ({"$hour": {"date": "$date", "timezone": "$tz"}}, {**SALE, "tz": "Mars/Phobos"},
     'unrecognized time zone identifier: "Mars/Phobos"'),
    ({"$hour": {"date": "$date", "timezone": "$tz"}}, {**SALE, "tz": "+5"}, 'unrecognized time zone identifier: "+5"'),
    ({"$hour": {"date": "$date", "timezone": "$tz"}}, {**SALE, "tz": "america/new_york"},
     'unrecognized time zone identifier: "america/new_york"'),
    ({"$dateToString": {"date": "$d"}}, {"d": "2014-01-01"}, "can't convert from BSON type string to Date"),
    ({"$dateToString": {"date": None, "format": "$f"}}, {"f": "%Q"}, "Invalid format character '%Q' in format string"),
    ({"$dateToString": {"date": "$date", "format": "$f"}}, {**SALE, "f": 7},
     "$dateToString requires that 'format' be a string, found: int with value 7"),
    ({"$dateToString": {"date": None, "timezone": "$tz"}}, {"tz": "Nowhere"},
     'unrecognized time zone identifier: "Nowhere"'),
    ({"$dateToParts": {"date": "$date", "iso8601": 1}}, PARTS_DATE, "iso8601 must evaluate to a bool, found int"),
    ({"$dateToParts": {"date": "x"}}, {}, "can't convert from BSON type string to Date"),
    ({"$dateFromParts": {"year": 0}}, {}, "'year' must evaluate to an integer in the range 1 to 9999, found 0"),
    ({"$dateFromParts": {"year": 10000}}, {}, "'year' must evaluate to an integer in the range 1 to 9999, found 10000"),
    ({"$dateFromParts": {"isoWeekYear": 0}}, {},
     "'isoWeekYear' must evaluate to an integer in the range 1 to 9999, found 0"),
    ({"$dateFromParts": {"year": 2017, "month": 1.5}}, {}, "'month' must evaluate to an integer, found double with value 1.5"),
    ({"$dateFromParts": {"year": "2017"}}, {}, "'year' must evaluate to an integer, found string with value \"2017\""),
    ({"$dateFromParts": {"year": 2017, "month": 40000}}, {},
     "'month' must evaluate to a value in the range [-32768, 32767]; value 40000 is not in range"),
    ({"$dateFromParts": {"year": None, "hour": "x"}}, {}, "'hour' must evaluate to an integer, found string"),
    ({"$dateFromParts": {"year": 2017, "timezone": "$tz"}}, {"tz": 1}, "timezone must evaluate to a string, found int"),
    ({"$dateFromString": {"dateString": 20170208}}, {},
     "$dateFromString requires that 'dateString' be a string, found: int with value 20170208"),
    ({"$dateFromString": {"dateString": "garbage"}}, {}, "Error parsing date string 'garbage'"),
    ({"$dateFromString": {"dateString": "2017-02-30"}}, {}, "The parsed date was invalid"),
    ({"$dateFromString": {"dateString": "20177-02-09T03:35:02.055"}}, {}, "Error parsing date string"),
    ({"$dateFromString": {"dateString": "12:10:40"}}, {}, "Error parsing date string '12:10:40'"),
    ({"$dateFromString": {"dateString": "2017-02-08T12:10:40Z", "timezone": "Europe/Paris"}}, {},
     "you cannot pass in a date/time string with time zone information ('Z') together with a timezone argument"),
    ({"$dateFromString": {"dateString": "2017-02-08T12:10:40+0100", "timezone": "GMT"}}, {},
     "you cannot pass in a date/time string with GMT offset together with a timezone argument"),
    ({"$dateFromString": {"dateString": "2017-02-08 America/New_York"}}, {},
     "passing a time zone identifier as part of the string is not allowed"),
    ({"$dateFromString": {"dateString": "2017-02-08", "format": "%Y-%m"}}, {}, "Trailing data"),
    ({"$dateFromString": {"dateString": "2017-02-08 10:00 EST", "timezone": "America/New_York"}}, {},
     "you cannot pass in a date/time string with time zone information ('EST') together with a timezone argument"),
    ({"$dateFromString": {"dateString": "2017-02-08 10:00 XYZ"}}, {}, "The timezone could not be found in the database"),
    ({"$dateFromString": {"dateString": "2017-13-08"}}, {}, "Error parsing date string '2017-13-08'"),
    ({"$dateFromString": {"dateString": "100% 2017", "format": "100%% %Y"}}, {},
     'an incomplete date/time string has been found, with elements missing: "100% 2017"'),
    ({"$dateFromString": {"dateString": "2017-02", "format": "%Y-%m"}}, {},
     'an incomplete date/time string has been found, with elements missing: "2017-02"'),
    ({"$dateFromString": {"dateString": "17-02-08", "format": "%Y-%m-%d"}}, {}, "A four digit year could not be found"),
    ({"$dateFromString": {"dateString": "2017/02/08", "format": "%Y-%m-%d"}}, {},
     "The separation symbol could not be found"),
    ({"$dateFromString": {"dateString": "2017-02-08 25", "format": "%Y-%m-%d %H"}}, {}, "Hour cannot be higher than 23"),
    # onError catches parse failures only, never a bad format or timezone.
    ({"$dateFromString": {"dateString": "x", "format": "$f", "onError": 0}}, {"f": 5},
     "$dateFromString requires that 'format' be a string, found: int with value 5"),
    ({"$dateFromString": {"dateString": "x", "format": "$f", "onError": 0}}, {"f": "%w"},
     "Invalid format character '%w' in format string"),
    ({"$dateFromString": {"dateString": "x", "timezone": "$tz", "onError": 0}}, {"tz": "Nowhere"},
     'unrecognized time zone identifier: "Nowhere"'),
    ({"$dateAdd": {"startDate": D("2021-01-01T00:00:00Z"), "unit": "day", "amount": 1.5}}, {},
     "$dateAdd expects integer amount of time units"),
    ({"$dateAdd": {"startDate": D("2021-01-01T00:00:00Z"), "unit": "day", "amount": "1"}}, {},
     "$dateAdd expects integer amount of time units"),
    ({"$dateAdd": {"startDate": "2021-01-01", "unit": "day", "amount": 1}}, {},
     "$dateAdd requires startDate to be convertible to a date"),
    ({"$dateAdd": {"startDate": D("2021-01-01T00:00:00Z"), "unit": "$u", "amount": 1}}, {"u": "decade"},
     "$dateAdd parameter 'unit' value parsing failed :: caused by :: unknown time unit value: decade"),
    ({"$dateSubtract": {"startDate": D("2021-01-01T00:00:00Z"), "unit": "$u", "amount": 1}}, {"u": 3},
     "$dateSubtract requires 'unit' to be a string, but got int"),
    ({"$dateSubtract": {"startDate": D("2021-01-01T00:00:00Z"), "unit": "day", "amount": Int64(-(2**63))}}, {},
     "invalid $dateSubtract 'amount' parameter value: -9223372036854775808"),
    ({"$dateAdd": {"startDate": D("2021-01-01T00:00:00Z"), "unit": "year", "amount": 10**12}}, {},
     "invalid dateAdd 'amount' parameter value: 1000000000000 year"),
    ({"$dateAdd": {"startDate": D("9999-06-01T00:00:00Z"), "unit": "year", "amount": 1}}, {}, "dateAdd overflowed"),
    ({"$dateAdd": {"startDate": D("2021-01-01T00:00:00Z"), "unit": "day", "amount": 1, "timezone": "$tz"}},
     {"tz": "Nowhere"}, 'unrecognized time zone identifier: "Nowhere"'),
    ({"$dateDiff": {"startDate": "2021-01-01", "endDate": D("2021-01-01T00:00:00Z"), "unit": "day"}}, {},
     "$dateDiff requires 'startDate' to be a date, but got string"),
    ({"$dateDiff": {"startDate": D("2021-01-01T00:00:00Z"), "endDate": 5, "unit": "day"}}, {},
     "$dateDiff requires 'endDate' to be a date, but got int"),
    ({"$dateDiff": {"startDate": D("2021-01-01T00:00:00Z"), "endDate": D("2021-01-01T00:00:00Z"), "unit": "day",
                    "timezone": "$tz"}}, {"tz": "Foo"},
     "$dateDiff parameter 'timezone' value parsing failed :: caused by :: unrecognized time zone identifier: \"Foo\""),
    ({"$dateDiff": {"startDate": D("2021-01-01T00:00:00Z"), "endDate": D("2021-01-01T00:00:00Z"), "unit": "week",
                    "startOfWeek": "$s"}}, {"s": "someday"},
     "$dateDiff parameter 'startOfWeek' value cannot be recognized as a day of a week: someday"),
    ({"$dateDiff": {"startDate": D("2021-01-01T00:00:00Z"), "endDate": D("2021-01-01T00:00:00Z"), "unit": "week",
                    "startOfWeek": "$s"}}, {"s": 1}, "$dateDiff requires 'startOfWeek' to be a string, but got int"),
    ({"$dateTrunc": {"date": "2021-01-01", "unit": "day"}}, {}, "$dateTrunc requires 'date' to be a date, but got string"),
    ({"$dateTrunc": {"date": T, "unit": "day", "binSize": "$b"}}, {"b": 0},
     "$dateTrunc requires 'binSize' to be greater than 0, but got value 0"),
    ({"$dateTrunc": {"date": T, "unit": "day", "binSize": "$b"}}, {"b": 1.5},
     "$dateTrunc requires 'binSize' to be a 64-bit integer, but got value '1.5' of type double"),
    ({"$dateTrunc": {"date": T, "unit": "day", "binSize": 200_000_000_000}}, {}, "dateTrunc unsupported binSize value"),
    ({"$dateTrunc": {"date": T, "unit": "hour", "binSize": 2**62}}, {}, "dateTrunc overflowed"),
    ({"$dateTrunc": {"date": T, "unit": "$u"}}, {"u": "fortnight"},
     "$dateTrunc parameter 'unit' value parsing failed :: caused by :: unknown time unit value: fortnight"),
    ({"$dateTrunc": {"date": T, "unit": "day", "timezone": "$tz"}}, {"tz": []},
     "$dateTrunc parameter 'timezone' value parsing failed :: caused by :: timezone must evaluate to a string, found array"),
    ({"$hour": {"date": datetime(1, 1, 1, tzinfo=timezone.utc), "timezone": "-05:00"}}, {},
     "the date is out of range"),
    ({"$dateAdd": {"startDate": D("0001-01-01T00:00:00Z"), "unit": "millisecond", "amount": -1}}, {},
     "the date is out of range"),
    ({"$tsSecond": "$d"}, SALE | {"d": D("2021-01-01T00:00:00Z")}, "Argument to $tsSecond must be a timestamp, but is date"),
    ({"$tsIncrement": "x"}, {}, "Argument to $tsIncrement must be a timestamp, but is string"),
]


@pytest.mark.parametrize(("expr", "doc", "reason"), RUNTIME_ERRORS)
def test_date_expression_error(expr, doc, reason):
    with pytest.raises(ExpressionError) as raised:
        evaluate(expr, doc)
    assert reason in str(raised.value)


# Compile-time failures: a bad pipeline stops before it runs.
SPEC_ERRORS = [
    ({"$year": {"date": "$d", "foo": 1}}, 'unrecognized option to $year: "foo"'),
    ({"$year": {"timezone": "UTC"}}, "missing 'date' argument to $year"),
    ({"$year": {}}, "missing 'date' argument to $year"),
    ({"$year": ["$a", "$b"]}, "$year accepts exactly one argument if given an array, but was given 2"),
    ({"$week": {"date": "$d", "timezone": "Mars/Phobos"}}, 'unrecognized time zone identifier: "Mars/Phobos"'),
    ({"$week": {"date": "$d", "timezone": "+1"}}, 'unrecognized time zone identifier: "+1"'),
    ({"$week": {"date": "$d", "timezone": "+05:3"}}, 'unrecognized time zone identifier: "+05:3"'),
    ({"$hour": {"date": "$d", "timezone": 5}}, "timezone must evaluate to a string, found int"),
    ({"$dateToString": "x"}, "$dateToString only supports an object as its argument"),
    ({"$dateToString": {"format": "%Y"}}, "Missing 'date' parameter to $dateToString"),
    ({"$dateToString": {"date": "$d", "fmt": "%Y"}}, "Unrecognized argument to $dateToString: fmt"),
    ({"$dateToString": {"date": "$d", "format": "%Q"}}, "Invalid format character '%Q' in format string"),
    ({"$dateToString": {"date": "$d", "format": "%Y%"}}, "Unmatched '%' at end of format string"),
    ({"$dateToString": {"date": "$d", "format": 5}},
     "$dateToString requires that 'format' be a string, found: int with value 5"),
    ({"$dateToString": {"date": "$d", "timezone": "Nowhere"}}, 'unrecognized time zone identifier: "Nowhere"'),
    ({"$dateToParts": ["$d"]}, "$dateToParts only supports an object as its argument"),
    ({"$dateToParts": {"timezone": "UTC"}}, "Missing 'date' parameter to $dateToParts"),
    ({"$dateToParts": {"date": "$d", "iso": True}}, "Unrecognized argument to $dateToParts: iso"),
    ({"$dateFromParts": 2017}, "$dateFromParts only supports an object as its argument"),
    ({"$dateFromParts": {"month": 1}}, "$dateFromParts requires either 'year' or 'isoWeekYear' to be present"),
    ({"$dateFromParts": {"year": 2017, "isoWeek": 1}}, "$dateFromParts does not allow mixing natural dates with ISO dates"),
    ({"$dateFromParts": {"isoWeekYear": 2017, "day": 1}},
     "$dateFromParts does not allow mixing ISO dates with natural dates"),
    ({"$dateFromParts": {"year": 2017, "days": 1}}, "Unrecognized argument to $dateFromParts: days"),
    ({"$dateFromString": "2017-01-01"}, "$dateFromString only supports an object as an argument, found: string"),
    ({"$dateFromString": {"format": "%Y"}}, "Missing 'dateString' parameter to $dateFromString"),
    ({"$dateFromString": {"dateString": "$s", "onErr": 1}}, "Unrecognized argument to $dateFromString: onErr"),
    ({"$dateFromString": {"dateString": "$s", "format": "%U"}}, "Invalid format character '%U' in format string"),
    ({"$dateAdd": {"startDate": "$d", "unit": "day"}}, "$dateAdd requires startDate, unit, and amount to be present"),
    ({"$dateAdd": {"startDate": "$d", "unit": "day", "amount": 1, "tz": "UTC"}}, "Unrecognized argument to $dateAdd: tz"),
    ({"$dateAdd": {"startDate": "$d", "unit": "days", "amount": 1}},
     "$dateAdd parameter 'unit' value parsing failed :: caused by :: unknown time unit value: days"),
    ({"$dateSubtract": {"startDate": "$d", "unit": 1, "amount": 1}},
     "$dateSubtract requires 'unit' to be a string, but got int"),
    ({"$dateAdd": {"startDate": "$d", "unit": "day", "amount": 1, "timezone": "Nowhere"}},
     'unrecognized time zone identifier: "Nowhere"'),
    ({"$dateAdd": "x"}, "$dateAdd expects an object as its argument"),
    ({"$dateDiff": {"startDate": "$a", "unit": "day"}}, "Missing 'endDate' parameter to $dateDiff"),
    ({"$dateDiff": {"startDate": "$a", "endDate": "$b", "unit": "day", "start": 1}},
     "Unrecognized argument to $dateDiff: start"),
    ({"$dateDiff": {"startDate": "$a", "endDate": "$b", "unit": "Day"}},
     "$dateDiff parameter 'unit' value parsing failed :: caused by :: unknown time unit value: Day"),
    ({"$dateDiff": {"startDate": "$a", "endDate": "$b", "unit": "week", "startOfWeek": "funday"}},
     "$dateDiff parameter 'startOfWeek' value cannot be recognized as a day of a week: funday"),
    ({"$dateDiff": {"startDate": "$a", "endDate": "$b", "unit": "day", "timezone": "Foo"}},
     "$dateDiff parameter 'timezone' value parsing failed :: caused by :: unrecognized time zone identifier: \"Foo\""),
    ({"$dateTrunc": {"date": "$d"}}, "Missing 'unit' parameter to $dateTrunc"),
    ({"$dateTrunc": {"date": "$d", "unit": "day", "size": 1}}, "Unrecognized argument to $dateTrunc: size"),
    ({"$dateTrunc": {"date": "$d", "unit": "day", "binSize": 0}},
     "$dateTrunc requires 'binSize' to be greater than 0, but got value 0"),
    ({"$dateTrunc": {"date": "$d", "unit": "day", "binSize": "2"}},
     "$dateTrunc requires 'binSize' to be a 64-bit integer, but got value '\"2\"' of type string"),
    ({"$dateTrunc": {"date": "$d", "unit": "week", "startOfWeek": 1}},
     "$dateTrunc requires 'startOfWeek' to be a string, but got int"),
    ({"$tsSecond": ["$a", "$b"]}, "expression $tsSecond takes exactly 1 argument"),
]


@pytest.mark.parametrize(("expr", "message"), SPEC_ERRORS)
def test_date_expression_spec_error(expr, message):
    with pytest.raises(SpecError) as raised:
        evaluate(expr, {})
    assert message in raised.value.message


def test_constant_timezone_resolved_once():
    """A constant IANA name is looked up at compile time and shared by every compile."""
    from translator.expressions.date import time_zone

    assert time_zone("Europe/Berlin") is time_zone("Europe/Berlin")
    assert time_zone("+05:30").offset == 19_800
    assert time_zone("-0530").offset == -19_800
    assert time_zone("+03").offset == 10_800


def test_spec_error_points_at_argument():
    with pytest.raises(SpecError) as raised:
        evaluate({"$dateTrunc": {"date": "$d", "unit": "day", "timezone": "Nowhere"}})
    assert raised.value.path == ("$dateTrunc", "timezone")


def test_date_operators_in_a_pipeline():
    """Through the real path: a bad date goes to the DLQ with mongod's reason, the rest pass."""
    from pipeline_runner import run_pipeline, with_documents

    docs = [{"_id": 1, "at": D("2021-03-14T12:00:00Z")}, {"_id": 2, "at": "not a date"}]
    stages = [{"$addFields": {
        "day": {"$dateToString": {"date": "$at", "format": "%Y-%m-%d %H:%M %z", "timezone": "America/New_York"}},
        "week": {"$dateTrunc": {"date": "$at", "unit": "week", "startOfWeek": "monday"}},
    }}]  # fmt: skip
    result = run_pipeline(with_documents(docs, stages))
    assert [(doc["_id"], doc["day"], doc["week"]) for doc in result.docs] == [
        (1, "2021-03-14 08:00 -0400", D("2021-03-08T00:00:00Z"))
    ]
    assert len(result.dead) == 1
    assert "can't convert from BSON type string to Date" in result.dead[0]["errInfo"]["reason"]


def test_utc_single_unit_fast_path_agrees_with_the_general_algorithm():
    import random

    from translator.expressions.date import SUNDAY, UTC_ZONE, date_trunc

    rng = random.Random(3)
    for unit in ("day", "hour", "minute", "second"):
        fast = compile_expression({"$dateTrunc": {"date": "$d", "unit": unit}})
        for _ in range(2000):
            when = datetime(1990, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=rng.randrange(2**40))
            assert fast({"d": when}, {}) == date_trunc(when, unit, 1, UTC_ZONE, SUNDAY)
