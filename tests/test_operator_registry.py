"""Every operator in MongoDB's references is known: compiled, or refused with a clear reason.

Lists from https://www.mongodb.com/docs/manual/reference/operator/aggregation/ (expression
operators by category), https://www.mongodb.com/docs/manual/reference/operator/query/ and
Atlas Stream Processing's additions (https://www.mongodb.com/docs/atlas/atlas-stream-processing/stream-aggregation-expression/).
"""

from __future__ import annotations

import pytest

from translator.errors import SpecError
from translator.expressions import EXPRESSION_OPERATORS, compile_expression
from translator.query import QUERY_OPERATORS, TOP_LEVEL_OPERATORS, compile_query

EXPRESSIONS = {
    "arithmetic": "$abs $add $ceil $divide $exp $floor $ln $log $log10 $mod $multiply $pow $round $sqrt $subtract $trunc",
    "array": (
        "$arrayElemAt $arrayToObject $concatArrays $filter $first $firstN $in $indexOfArray $isArray $last $lastN "
        "$map $maxN $minN $objectToArray $range $reduce $reverseArray $size $slice $sortArray $zip"
    ),
    "bitwise": "$bitAnd $bitNot $bitOr $bitXor",
    "boolean": "$and $not $or",
    "comparison": "$cmp $eq $gt $gte $lt $lte $ne",
    "conditional": "$cond $ifNull $switch",
    "data size": "$binarySize $bsonSize",
    "date": (
        "$dateAdd $dateDiff $dateFromParts $dateFromString $dateSubtract $dateToParts $dateToString $dateTrunc "
        "$dayOfMonth $dayOfWeek $dayOfYear $hour $isoDayOfWeek $isoWeek $isoWeekYear $millisecond $minute $month "
        "$second $toDate $week $year"
    ),
    "literal": "$literal",
    "miscellaneous": "$getField $rand",
    "object": "$mergeObjects $objectToArray $setField $unsetField",
    "set": "$allElementsTrue $anyElementTrue $setDifference $setEquals $setIntersection $setIsSubset $setUnion",
    "string": (
        "$concat $indexOfBytes $indexOfCP $ltrim $regexFind $regexFindAll $regexMatch $replaceOne $replaceAll "
        "$rtrim $split $strLenBytes $strLenCP $strcasecmp $substr $substrBytes $substrCP $toLower $toString $trim $toUpper"
    ),
    "text": "$meta",
    "timestamp": "$tsIncrement $tsSecond",
    "trigonometry": (
        "$sin $cos $tan $asin $acos $atan $atan2 $asinh $acosh $atanh $sinh $cosh $tanh $degreesToRadians $radiansToDegrees"
    ),
    "type": "$convert $isNumber $toBool $toDate $toDecimal $toDouble $toInt $toLong $toObjectId $toString $type",
    "accumulators in expressions": "$avg $max $median $min $percentile $stdDevPop $stdDevSamp $sum",
    "variable": "$let",
    "atlas stream processing": "$currentDate $createUUID $meta",
}
REFUSED_EXPRESSIONS = {"$function", "$accumulator"}

QUERY = {
    "comparison": "$eq $gt $gte $in $lt $lte $ne $nin",
    "logical": "$not",
    "element": "$exists $type",
    "evaluation": "$mod $regex",
    "array": "$all $elemMatch $size",
    "bitwise": "$bitsAllClear $bitsAllSet $bitsAnyClear $bitsAnySet",
    "geospatial": "$geoWithin $geoIntersects",
}
TOP_LEVEL_QUERY = "$and $or $nor $expr $jsonSchema $sampleRate"
REFUSED_QUERY = {"$where", "$text", "$near", "$nearSphere"}


def _names(table: dict) -> list[str]:
    return sorted({name for names in table.values() for name in names.split()})


@pytest.mark.parametrize("name", _names(EXPRESSIONS))
def test_expression_operator_is_registered(name: str) -> None:
    assert name in EXPRESSION_OPERATORS


@pytest.mark.parametrize("name", sorted(REFUSED_EXPRESSIONS))
def test_code_expression_operators_are_refused(name: str) -> None:
    with pytest.raises(SpecError, match="sluice never runs code that comes in a pipeline"):
        compile_expression({name: {}})


@pytest.mark.parametrize("name", _names(QUERY))
def test_query_operator_is_registered(name: str) -> None:
    assert name in QUERY_OPERATORS


@pytest.mark.parametrize("name", TOP_LEVEL_QUERY.split())
def test_top_level_query_operator_is_registered(name: str) -> None:
    assert name in TOP_LEVEL_OPERATORS


@pytest.mark.parametrize("name", sorted(REFUSED_QUERY))
def test_server_or_code_query_operators_are_refused(name: str) -> None:
    for query in ({name: {}}, {"field": {name: {}}}):
        with pytest.raises(SpecError, match="refused|database server"):
            compile_query(query)


def test_registry_knows_nothing_outside_the_references() -> None:
    """A typo'd registration would otherwise hide a missing operator."""
    known = set(_names(EXPRESSIONS)) | {"$toUUID", "$sigmoid", "$toHashedIndexKey"}
    assert set(EXPRESSION_OPERATORS) - known == set()
