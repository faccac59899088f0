"""``$merge``: write each document into a MongoDB collection, fixed or chosen per document.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-merge/
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from connectors.mongodb_options import merge_options
from connectors.options import OptionError
from translator._types import NO_VARS
from translator.errors import SpecError
from translator.expressions import compile_expression
from translator.parse import Stage
from translator.plan import SINK, PlanContext, StagePlan
from translator._spec_values import integer_value
from translator.stages._registry import stage_planner

MAX_PARALLELISM = 16


@dataclass(frozen=True)
class MergeSpec:
    """Documents merged into a collection (``db``/``coll`` a name, or a callable per document)."""

    uri: str = field(repr=False)  # may hold credentials: never shown; empty without a registry
    db: str | Callable[[dict], Any]
    coll: str | Callable[[dict], Any]
    on: tuple[str, ...]
    when_matched: str | list | Callable[[dict], Any]
    when_not_matched: str | Callable[[dict], Any]
    let: dict | None  # variable name -> callable of the document, for a whenMatched pipeline
    parallelism: int


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
    when_matched = _per_document(spec.get("whenMatched", "merge"), ("whenMatched",))
    when_not_matched = _per_document(spec.get("whenNotMatched", "insert"), ("whenNotMatched",))
    on = spec.get("on", "_id")
    try:
        on_fields = merge_options(
            db=db, coll=coll, on=on, when_matched=when_matched, when_not_matched=when_not_matched, parallelism=parallelism
        )
    except OptionError as exc:
        raise SpecError(exc.message, exc.path) from None
    uri = connection["uri"] if connection else ""
    sink = MergeSpec(uri, db, coll, on_fields, when_matched, when_not_matched, variables, parallelism)
    target = f"{_shown(into['db'])}.{_shown(into['coll'])}"
    matched = spec.get("whenMatched", "merge")
    description = (
        f"merge into {target} on {on} (whenMatched: {_shown(matched)}, "
        f"whenNotMatched: {_shown(spec.get('whenNotMatched', 'insert'))}); insert first, "
        "update existing keys, unordered bulk writes per batch; effectively exactly-once: each target document "
        "records the last source position applied per source partition (_sluicePositions) and every write "
        "is filtered on it, so a replayed event is never applied twice (at-least-once for documents "
        "whose _stream_meta was removed)"
    )
    if parallelism > 1:
        description += f"; parallelism {parallelism}: up to {parallelism} bulk writes at once, spread by key (one key's writes keep their order)"
    return StagePlan(stage, SINK, description, spec=sink)


def _shown(value: Any) -> str:
    if type(value) is str:
        return value
    return "<pipeline>" if type(value) is list else "<expression>"
