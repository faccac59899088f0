"""``$source``: picks the variant (documents, sample, change stream, Kafka) and plans it.

The variant follows from the stage's fields, so ``validate`` needs no registry; when a
registry is given, the named connection's type must agree.
https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-source/
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from translator._bson_types import bson_type_name
from translator._registry import registrar
from translator._types import NO_VARS
from translator.connections import SAMPLE_SOLAR
from translator.errors import ExpressionError, SpecError
from translator.expressions import compile_expression
from translator.parse import Stage
from translator.plan import PlanContext, StagePlan
from translator.stages._registry import stage_planner

VariantPlanner = Callable[[Stage, "dict | None", PlanContext], StagePlan]
SOURCE_VARIANTS: dict[str, VariantPlanner] = {}
DOCUMENTS, SAMPLE, MONGODB, KAFKA = "documents", SAMPLE_SOLAR, "mongodb", "kafka"


source_variant = registrar(SOURCE_VARIANTS, "source variant")
"""Register the planner of one kind of source: ``plan(stage, connection, ctx) -> StagePlan``."""


def only_fields(spec: dict, allowed: frozenset, what: str, at: tuple = ()) -> None:
    """Refuse a field that belongs to another kind of source (or to none)."""
    extra = sorted(set(spec) - allowed)
    if extra:
        msg = f"field {extra[0]!r} does not apply to {what}; expected one of {', '.join(sorted(allowed))}"
        raise SpecError(msg, (*at, extra[0]))


def variant_of(spec: dict) -> str:
    if "documents" in spec:
        return DOCUMENTS
    if spec.get("connectionName") == SAMPLE_SOLAR:
        return SAMPLE
    if "topic" in spec:
        return KAFKA
    return MONGODB


def compile_time_field(spec: dict) -> Callable[[dict], datetime] | None:
    """``timeField``: an expression that must give a date, evaluated once per document."""
    if "timeField" not in spec:
        return None
    fn = compile_expression(spec["timeField"], ("timeField",))

    def event_time(doc: dict) -> datetime:
        value: Any = fn(doc, NO_VARS)
        if type(value) is not datetime:
            msg = f"timeField must evaluate to a date; got {bson_type_name(value)}"
            raise ExpressionError(msg)
        return value

    return event_time


@stage_planner("$source")
def plan_source(stage: Stage, ctx: PlanContext) -> StagePlan:
    kind = variant_of(stage.spec)
    connection = None
    if kind != DOCUMENTS:
        why = f"but these fields describe a {kind} source"
        connection = ctx.connection(stage.spec.get("connectionName"), kind, ("connectionName",), why)
    return SOURCE_VARIANTS[kind](stage, connection, ctx)
