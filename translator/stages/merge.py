"""``$merge``: write each document into a MongoDB collection, fixed or chosen per document.

Also registers the MongoDB dead-letter queue (``options.dlq: {connectionName, db, coll}``).
https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-merge/
"""

from __future__ import annotations

from typing import Any, Callable

import bytewax.operators as op

from connectors.mongodb_dlq import MongoDeadLetterWriter
from connectors.mongodb_merge import MergeSink
from translator._types import NO_VARS
from translator.dlq import WriterFactory, dlq_writer
from translator.errors import SpecError
from translator.expressions import compile_expression
from translator.parse import Stage
from translator.plan import SINK, PlanContext, StagePlan
from translator._spec_values import integer_value
from translator.stages._registry import stage_planner

MAX_PARALLELISM = 16


def _name(spec: Any, at: tuple) -> str | Callable[[dict], Any]:
    """A literal name, or a compiled expression (``"$field"``, ``{$concat: ...}``) per document."""
    if type(spec) is str and not spec.startswith("$"):
        return spec
    fn = compile_expression(spec, at)
    return lambda doc: fn(doc, NO_VARS)


def _per_document(spec: Any, at: tuple) -> Any:
    """A ``whenMatched``/``whenNotMatched`` given as an expression object becomes a callable."""
    if type(spec) is not dict:
        return spec
    fn = compile_expression(spec, at)
    return lambda doc: fn(doc, NO_VARS)


def _let(spec: Any) -> dict[str, Callable[[dict], Any]]:
    if type(spec) is not dict:
        msg = "let must be an object of variable expressions"
        raise SpecError(msg, ("let",))
    variables: dict[str, Callable[[dict], Any]] = {"new": lambda doc: doc}
    for name, expression in spec.items():
        fn = compile_expression(expression, ("let", name))
        variables[name] = lambda doc, fn=fn: fn(doc, NO_VARS)
    return variables


@stage_planner("$merge")
def plan_merge(stage: Stage, ctx: PlanContext) -> StagePlan:
    spec = stage.spec
    into = spec["into"]
    connection = ctx.connection(into.get("connectionName"), "mongodb", ("into", "connectionName"), "but $merge writes to MongoDB")
    db = _name(into["db"], ("into", "db"))
    coll = _name(into["coll"], ("into", "coll"))
    parallelism = integer_value(spec.get("parallelism", 1), ("parallelism",), 1, MAX_PARALLELISM, "parallelism")
    if parallelism > 1 and (callable(db) or callable(coll)):
        msg = "parallelism must be 1 when into.db or into.coll is an expression"
        raise SpecError(msg, ("parallelism",))
    variables = _let(spec["let"]) if "let" in spec else None
    options = dict(
        db=db,
        coll=coll,
        on=spec.get("on", "_id"),
        when_matched=_per_document(spec.get("whenMatched", "merge"), ("whenMatched",)),
        when_not_matched=_per_document(spec.get("whenNotMatched", "insert"), ("whenNotMatched",)),
        let=variables,
        parallelism=parallelism,
    )
    try:  # the connector checks names and modes; it connects only when Bytewax builds a worker
        MergeSink(connection["uri"] if connection else "", **options)
    except ValueError as exc:
        raise SpecError(str(exc).removeprefix("$merge."), ()) from None
    target = f"{_shown(into['db'])}.{_shown(into['coll'])}"
    matched = spec.get("whenMatched", "merge")
    description = (
        f"merge into {target} on {options['on']} (whenMatched: {_shown(matched)}, "
        f"whenNotMatched: {_shown(spec.get('whenNotMatched', 'insert'))}); insert first, "
        "update existing keys, unordered bulk writes per batch; effectively exactly-once: each target document "
        "records the last source position applied per source partition (_sluicePositions) and every write "
        "is filtered on it, so a replayed event is never applied twice (at-least-once for documents "
        "whose _stream_meta was removed)"
    )
    if parallelism > 1:
        description += f"; parallelism {parallelism}: up to {parallelism} bulk writes at once, spread by key (one key's writes keep their order)"

    def build(up, bctx) -> None:
        sink = MergeSink(
            connection["uri"],
            **options,
            dead_letter_writer_factory=bctx.dlq_writer_factory,
            processor_name=bctx.processor_name,
        )
        op.output(stage.step_id, up, sink)

    return StagePlan(stage, SINK, description, build=build)


def _shown(value: Any) -> str:
    if type(value) is str:
        return value
    return "<pipeline>" if type(value) is list else "<expression>"


@dlq_writer("mongodb")
def make_dlq_writer(connection: dict, dlq: dict) -> WriterFactory:
    """``options.dlq: {connectionName, db, coll}`` on a MongoDB connection."""
    for part in ("db", "coll"):
        if type(dlq.get(part)) is not str or not dlq[part]:
            msg = f"a MongoDB DLQ needs {part} as a non-empty string; got {dlq.get(part)!r}"
            raise SpecError(msg, ("options", "dlq", part))
    uri, db, coll = connection["uri"], dlq["db"], dlq["coll"]
    return lambda: MongoDeadLetterWriter(uri, db, coll)
