"""``$emit`` into a MongoDB time-series collection, created with ``timeseries`` when missing.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-emit/
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connectors.mongodb_options import valid_name
from runtime.ejson import MAX_DOCUMENT_BYTES
from translator.errors import SpecError
from translator.parse import Stage
from translator.plan import SINK, PlanContext, StagePlan
from translator.stages.source import only_fields

FIELDS = frozenset({"connectionName", "db", "coll", "timeseries"})
OPTIONS = frozenset({"timeField", "metaField", "granularity", "bucketMaxSpanSeconds", "bucketRoundingSeconds"})
GRANULARITIES = ("seconds", "minutes", "hours")
MAX_BUCKET_SECONDS = 31_536_000


@dataclass(frozen=True)
class TimeSeriesEmitSpec:
    """Documents inserted into ``db.coll``, created with ``timeseries`` when missing."""

    uri: str = field(repr=False)  # may hold credentials: never shown; empty without a registry
    db: str
    coll: str
    timeseries: dict  # createCollection's options, checked


def _field_name(options: dict, key: str) -> None:
    name = options[key]
    if type(name) is not str or not name or "." in name or name.startswith("$"):
        msg = f"{key} must name a top-level field; got {name!r}"
        raise SpecError(msg, ("timeseries", key))


def timeseries_options(spec: Any) -> dict:
    """``timeseries`` as ``createCollection`` takes it, checked the way mongod checks it."""
    if type(spec) is not dict:
        msg = f"timeseries must be an object with timeField; got {spec!r}"
        raise SpecError(msg, ("timeseries",))
    only_fields(spec, OPTIONS, "timeseries", ("timeseries",))
    if "timeField" not in spec:
        msg = "missing required field 'timeField'"
        raise SpecError(msg, ("timeseries",))
    _field_name(spec, "timeField")
    if "metaField" in spec:
        _field_name(spec, "metaField")
        if spec["metaField"] == spec["timeField"]:
            msg = "metaField must differ from timeField"
            raise SpecError(msg, ("timeseries", "metaField"))
    if spec.get("granularity", "seconds") not in GRANULARITIES:
        msg = f"granularity must be one of {', '.join(GRANULARITIES)}; got {spec['granularity']!r}"
        raise SpecError(msg, ("timeseries", "granularity"))
    spans = [spec.get("bucketMaxSpanSeconds"), spec.get("bucketRoundingSeconds")]
    if spans != [None, None]:
        if "granularity" in spec or spans[0] != spans[1] or type(spans[0]) is not int or not 1 <= spans[0] <= MAX_BUCKET_SECONDS:
            msg = (
                "bucketMaxSpanSeconds and bucketRoundingSeconds go together, equal, "
                f"from 1 to {MAX_BUCKET_SECONDS}, and without granularity"
            )
            raise SpecError(msg, ("timeseries", "bucketMaxSpanSeconds"))
    return dict(spec)


def plan_timeseries_emit(stage: Stage, ctx: PlanContext) -> StagePlan:
    spec = stage.spec
    only_fields(spec, FIELDS, "$emit to a time-series collection")
    for part in ("db", "coll"):
        if part not in spec:
            msg = f"missing required field {part!r}"
            raise SpecError(msg, ())
        if not valid_name(part, spec[part]):
            msg = f"{part} must be a valid {'database' if part == 'db' else 'collection'} name; got {spec[part]!r}"
            raise SpecError(msg, (part,))
    if "timeseries" not in spec:
        msg = "missing required field 'timeseries'"
        raise SpecError(msg, ())
    options = timeseries_options(spec["timeseries"])
    why = "but $emit to a time-series collection writes to MongoDB"
    connection = ctx.connection(spec.get("connectionName"), "mongodb", ("connectionName",), why)
    db, coll = spec["db"], spec["coll"]
    description = (
        f"emit into time-series collection {db}.{coll} (timeField {options['timeField']}; created when missing); "
        f"unordered bulk inserts per batch, at-least-once; documents without a date there, or over "
        f"{MAX_DOCUMENT_BYTES // (1024 * 1024)} MB, to the DLQ"
    )

    sink = TimeSeriesEmitSpec(connection["uri"] if connection else "", db, coll, options)
    return StagePlan(stage, SINK, description, spec=sink)
