"""The fields every Atlas Stream Processing stage accepts, checked before anything compiles.

Only shapes live here (which fields, which JSON types, which enum values); what the values
mean is each stage's business. https://www.mongodb.com/docs/atlas/atlas-stream-processing/stream-aggregation/
"""

from __future__ import annotations

from typing import Any, Callable

from translator._spec_values import number_value, value_kind
from translator.errors import SpecError

Check = Callable[[Any, tuple], None]
TIME_UNITS = ("ms", "second", "minute", "hour", "day")


def of_kind(*kinds: str) -> Check:
    """The value's JSON type is one of ``kinds``; "any" accepts everything."""

    def check(value: Any, at: tuple) -> None:
        if "any" not in kinds and value_kind(value) not in kinds:
            msg = f"expected {' or '.join(kinds)}; got {value_kind(value)}"
            raise SpecError(msg, at)

    check.kinds = kinds  # type: ignore[attr-defined]  # read by tests that generate wrong types
    return check


def one_of(*choices: Any) -> Check:
    def check(value: Any, at: tuple) -> None:
        if value not in choices:
            listed = ", ".join(f'"{c}"' if type(c) is str else str(c) for c in choices)
            msg = f"expected one of {listed}; got {value!r}"
            raise SpecError(msg, at)

    check.choices = choices  # type: ignore[attr-defined]
    return check


def obj(required: tuple = (), open_keys: bool = False, **fields: Check) -> Check:
    """An object with known fields (``open_keys`` lets unknown ones through, e.g. librdkafka config)."""

    def check(value: Any, at: tuple) -> None:
        if type(value) is not dict:
            msg = f"expected object; got {value_kind(value)}"
            raise SpecError(msg, at)
        for key in required:
            if key not in value:
                msg = f"missing required field {key!r}"
                raise SpecError(msg, at)
        for key, item in value.items():
            field_check = fields.get(key)
            if field_check is None:
                if open_keys:
                    continue
                msg = f"unknown field {key!r}; expected one of {', '.join(fields)}"
                raise SpecError(msg, (*at, key))
            field_check(item, (*at, key))

    check.fields = fields  # type: ignore[attr-defined]
    return check


def either(*checks: Check) -> Check:
    """The first check that passes wins; otherwise the first one's error stands."""

    def check(value: Any, at: tuple) -> None:
        first = None
        for candidate in checks:
            try:
                candidate(value, at)
                return
            except SpecError as exc:
                first = first or exc
        raise first

    check.alternatives = checks  # type: ignore[attr-defined]
    return check


STRING, BOOL, OBJECT, ARRAY, ANY = (of_kind(k) for k in ("string", "bool", "object", "array", "any"))
NUMBER = of_kind("number")


def _finite_number(value: Any, at: tuple) -> None:
    number_value(value, at)


_finite_number.kinds = ("number",)  # type: ignore[attr-defined]
NUMBER = _finite_number
EXPR = ANY
DURATION = obj(required=("size", "unit"), size=NUMBER, unit=one_of(*TIME_UNITS))
DURATION_OR_ZERO = either(DURATION, one_of(0))
NAMESPACE = obj(required=("db", "coll"), connectionName=STRING, db=EXPR, coll=EXPR, readPreference=ANY)
WINDOW_COMMON = {
    "pipeline": ARRAY,
    "boundary": one_of("eventTime", "processingTime"),
    "offset": obj(required=("offsetFromUtc", "unit"), offsetFromUtc=NUMBER, unit=one_of(*TIME_UNITS)),
    "idleTimeout": DURATION_OR_ZERO,
    "allowedLateness": DURATION_OR_ZERO,
}
INTERVAL = obj(required=("size", "unit"), size=NUMBER, unit=one_of(*TIME_UNITS))

STAGE_FIELDS: dict[str, Check] = {
    "$source": obj(
        connectionName=STRING,
        topic=of_kind("string", "array"),
        db=STRING,
        coll=of_kind("string", "array"),
        collection=of_kind("string", "array"),  # the seed's spelling of `coll`
        documents=of_kind("array", "object", "string"),
        timeField=EXPR,
        tsFieldName=STRING,
        partitionIdleTimeout=DURATION,
        partitions=obj(min=NUMBER, max=NUMBER),
        schemaRegistry=obj(connectionName=STRING),
        stream=STRING,
        config=obj(
            open_keys=True,
            auto_offset_reset=one_of("earliest", "beginning", "smallest", "latest", "largest", "end"),
            group_id=STRING,
            keyFormat=one_of("binData", "string", "json", "int", "long"),
            keyFormatError=one_of("dlq", "passThrough"),
            enable_auto_commit=BOOL,
            startAfter=OBJECT,
            startAtOperationTime=ANY,
            fullDocument=one_of("updateLookup", "required", "whenAvailable", "default"),
            fullDocumentOnly=BOOL,
            fullDocumentBeforeChange=one_of("off", "whenAvailable", "required"),
            pipeline=ARRAY,
            initialSync=obj(enable=BOOL, parallelism=NUMBER),
        ),
    ),
    "$validate": obj(required=("validator",), validator=OBJECT, validationAction=one_of("discard", "dlq")),
    "$lookup": obj(
        required=("as",),
        **{"from": either(STRING, NAMESPACE)},
        localField=STRING,
        foreignField=STRING,
        let=OBJECT,
        pipeline=ARRAY,
        partitionBy=EXPR,
        parallelism=NUMBER,
        **{"as": STRING},
    ),
    "$cachedLookup": obj(
        required=("from", "localField", "foreignField", "as", "ttl"),
        **{"from": NAMESPACE},
        localField=STRING,
        foreignField=STRING,
        ttl=DURATION,
        maxMemUsageBytes=NUMBER,
        **{"as": STRING},
    ),
    "$https": obj(
        required=("connectionName",),
        connectionName=STRING,
        path=EXPR,
        parameters=OBJECT,
        method=one_of("GET", "POST", "PUT", "PATCH", "DELETE"),
        headers=OBJECT,
        **{"as": STRING},
        onError=one_of("dlq", "ignore", "fail"),
        payload=ARRAY,
        config=obj(connectionTimeoutSec=NUMBER, requestTimeoutSec=NUMBER),
    ),
    "$externalFunction": obj(
        required=("connectionName", "functionName"),
        connectionName=STRING,
        functionName=STRING,
        execution=one_of("sync", "async"),
        **{"as": STRING},
        onError=one_of("dlq", "ignore", "fail"),
        payload=ARRAY,
    ),
    "$setStreamMeta": obj(open_keys=True),
    "$tumblingWindow": obj(required=("interval", "pipeline"), interval=INTERVAL, **WINDOW_COMMON),
    "$hoppingWindow": obj(required=("interval", "hopSize", "pipeline"), interval=INTERVAL, hopSize=INTERVAL, **WINDOW_COMMON),
    "$sessionWindow": obj(  # no offset: sessions start at their first document, aligned to nothing
        required=("partitionBy", "gap", "pipeline"),
        partitionBy=EXPR,
        gap=INTERVAL,
        pipeline=ARRAY,
        boundary=one_of("eventTime", "processingTime"),
        allowedLateness=DURATION_OR_ZERO,
        idleTimeout=DURATION_OR_ZERO,
    ),
    "$setWindowFields": obj(required=("output",), partitionBy=EXPR, sortBy=OBJECT, output=OBJECT),
    "$merge": obj(
        required=("into",),
        into=NAMESPACE,
        on=of_kind("string", "array"),
        let=OBJECT,
        whenMatched=either(one_of("replace", "keepExisting", "merge", "fail", "delete"), ARRAY, OBJECT),
        whenNotMatched=either(one_of("insert", "discard", "fail"), OBJECT),
        parallelism=NUMBER,
    ),
    "$emit": obj(
        connectionName=STRING,
        topic=EXPR,
        db=STRING,
        coll=STRING,
        timeseries=OBJECT,
        stream=STRING,
        partitionKey=EXPR,
        bucket=STRING,
        path=EXPR,
        region=STRING,
        schemaRegistry=OBJECT,
        config=obj(
            open_keys=True,
            acks=one_of(-1, 0, 1, "all", "-1", "0", "1"),
            compression_type=one_of("none", "gzip", "snappy", "lz4", "zstd"),
            dateFormat=one_of("default", "ISO8601"),
            headers=EXPR,
            key=EXPR,
            keyFormat=one_of("binData", "string", "json", "int", "long"),
            outputFormat=one_of("basicJson", "canonicalJson", "relaxedJson"),
            tombstoneWhen=EXPR,
        ),
    ),
    "$iceberg": obj(open_keys=True, required=("connectionName",), connectionName=STRING),
}
# Stages whose body is not an object of fields: each stage module checks its own body.
FREE_FORM = frozenset({
    "$match", "$project", "$addFields", "$set", "$unset", "$replaceRoot", "$replaceWith",
    "$redact", "$unwind", "$group", "$sort", "$count", "$limit",
})  # fmt: skip
WINDOW_STAGES = frozenset({"$tumblingWindow", "$hoppingWindow", "$sessionWindow", "$setWindowFields"})
SINK_STAGES = frozenset({"$merge", "$emit", "$iceberg"})
WINDOW_ONLY = frozenset({"$group", "$sort", "$count", "$limit"})
KNOWN_STAGES = frozenset(STAGE_FIELDS) | FREE_FORM


def check_stage_fields(name: str, spec: Any) -> None:
    """Raise SpecError if the body of a known, fielded stage has the wrong shape."""
    check = STAGE_FIELDS.get(name)
    if check is not None:
        check(spec, ())
