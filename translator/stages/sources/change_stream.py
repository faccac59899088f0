"""``$source`` on a MongoDB connection: a change stream of a collection, a database or the cluster.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-source/#mongodb-change-stream
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bson.timestamp import Timestamp

from connectors.mongodb_options import change_stream_options
from connectors.options import OptionError
from runtime.stream_meta import TimeField
from translator.errors import SpecError
from translator.parse import Stage
from translator.plan import SOURCE, PlanContext, SourceTime, StagePlan
from translator.stages.source import MONGODB, compile_time_field, only_fields, source_variant

ALLOWED = frozenset({"connectionName", "db", "coll", "collection", "timeField", "tsFieldName", "config"})
CONFIG = frozenset({
    "startAfter", "startAtOperationTime", "fullDocument", "fullDocumentOnly", "fullDocumentBeforeChange", "pipeline",
    "initialSync",
})  # fmt: skip


@dataclass(frozen=True)
class ChangeStreamSpec:
    """A change stream (after an optional initial copy) of collections, a database or the cluster."""

    uri: str = field(repr=False)  # may hold credentials: never shown; empty without a registry
    db: str | None
    coll: str | list | None
    full_document: str
    full_document_only: bool
    full_document_before_change: str | None
    pipeline: list  # run by the server
    start_after: dict | None
    start_at_operation_time: Timestamp | datetime | None
    begin_at: datetime | None  # the processor's first start, when no start option is given
    time_field: TimeField | None
    initial_sync: bool
    initial_sync_parallelism: int
    time: SourceTime


@source_variant(MONGODB)
def plan_change_stream(stage: Stage, connection: dict | None, ctx: PlanContext) -> StagePlan:
    """Plan the change stream; the server runs ``config.pipeline``, Python never does.

    The seed's ``collection`` spelling (not an Atlas field) also means "emit the full
    documents", as the hand-written watch() code it replaces reads ``change.fullDocument``;
    ``config.fullDocumentOnly`` still decides when given.
    """
    spec = stage.spec
    only_fields(spec, ALLOWED, "a change stream source")
    config = spec.get("config", {})
    only_fields(config, CONFIG, "a change stream source", ("config",))
    if "coll" in spec and "collection" in spec:
        msg = "give coll or its alias collection, not both"
        raise SpecError(msg, ("collection",))
    coll_field = "collection" if "collection" in spec else "coll"
    coll = spec.get(coll_field)
    db = spec.get("db")
    if coll is not None and db is None:
        msg = f"{coll_field} needs a db; a whole-cluster stream has neither"
        raise SpecError(msg, (coll_field,))
    if type(coll) is list and not all(type(name) is str and name for name in coll):
        msg = f"{coll_field} must be a collection name or an array of them"
        raise SpecError(msg, (coll_field,))
    if "startAfter" in config and "startAtOperationTime" in config:
        msg = "startAfter and startAtOperationTime exclude each other"
        raise SpecError(msg, ("config", "startAtOperationTime"))
    start_at = config.get("startAtOperationTime")
    if start_at is not None and type(start_at) not in (Timestamp, datetime):
        msg = f"startAtOperationTime must be a timestamp or a date; got {type(start_at).__name__}"
        raise SpecError(msg, ("config", "startAtOperationTime"))
    pipeline = config.get("pipeline", [])
    if not all(type(step) is dict and len(step) == 1 for step in pipeline):
        msg = "pipeline must be an array of stages, each an object with one field"
        raise SpecError(msg, ("config", "pipeline"))
    full_document_only = config.get("fullDocumentOnly", coll_field == "collection")
    initial_sync, parallelism = _initial_sync(config.get("initialSync"), config)
    # Without a start option, the processor's first start: a restart before any checkpoint skips nothing.
    begin_at = ctx.start_at if start_at is None and "startAfter" not in config and not initial_sync else None
    source = ChangeStreamSpec(
        uri=connection["uri"] if connection else "",
        db=db,
        coll=coll,
        full_document=config.get("fullDocument", "updateLookup"),
        full_document_only=full_document_only,
        full_document_before_change=config.get("fullDocumentBeforeChange"),
        pipeline=pipeline,
        start_after=config.get("startAfter"),
        start_at_operation_time=start_at,
        begin_at=begin_at,
        time_field=compile_time_field(spec),
        initial_sync=initial_sync,
        initial_sync_parallelism=parallelism,
        time=SourceTime(ts_field_name=spec.get("tsFieldName", "_ts")),
    )
    try:  # what the connector checks itself: a fullDocument mode, collections, ...
        change_stream_options(
            db=db,
            coll=coll,
            full_document=source.full_document,
            full_document_before_change=source.full_document_before_change,
            start_after=source.start_after,
            start_at_operation_time=start_at,
            initial_sync=initial_sync,
        )
    except OptionError as exc:
        path = (coll_field, *exc.path[1:]) if exc.path[:1] == ("coll",) else exc.path
        raise SpecError(exc.message, path) from None
    if db is None:
        watched = "the whole cluster"
    elif coll is None:
        watched = f"database {db}"
    else:
        watched = ", ".join(f"{db}.{name}" for name in ([coll] if type(coll) is str else coll))
    what = "full documents" if full_document_only else "change events"
    if coll_field == "collection" and "fullDocumentOnly" not in config:
        what += " (the seed's `collection` spelling reads fullDocument)"
    pushed = f", server-side pipeline of {len(pipeline)} stage(s)" if pipeline else ""
    description = f"{what} from a change stream on {watched}{pushed}; resumes from its resume token"
    if initial_sync:
        description = (
            f"{what} of the existing documents of {watched} (copied in _id order, {parallelism} range(s) at once,"
            " the copy resumable), then "
            f"from a change stream opened before the copy{pushed}; resumes from its resume token"
        )

    return StagePlan(stage, SOURCE, description, spec=source)


def _initial_sync(spec: object, config: dict) -> tuple[bool, int]:
    """``config.initialSync: {enable, parallelism}``: whether to copy the collections first, and
    how many ``_id`` ranges of a collection at once."""
    if spec is None:
        return False, 1
    if type(spec) is not dict or set(spec) - {"enable", "parallelism"} or type(spec.get("enable", False)) is not bool:
        msg = "initialSync must be {enable: true|false, parallelism: <positive integer>}"
        raise SpecError(msg, ("config", "initialSync"))
    parallelism = spec.get("parallelism", 1)
    if type(parallelism) is not int or parallelism < 1:
        msg = f"initialSync.parallelism must be a positive integer; got {parallelism!r}"
        raise SpecError(msg, ("config", "initialSync", "parallelism"))
    if spec.get("enable", False) and ("startAfter" in config or "startAtOperationTime" in config):
        msg = "initialSync starts the stream where the copy begins; it excludes startAfter and startAtOperationTime"
        raise SpecError(msg, ("config", "initialSync"))
    return spec.get("enable", False), parallelism
