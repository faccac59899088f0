"""``{"$source": {"documents": [...]}}``: a finite array, for tests and examples.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-source/#document-array
"""

from __future__ import annotations

import bytewax.operators as op

from connectors.documents import DocumentsSource
from translator._types import NO_VARS
from translator.errors import ExpressionError, PipelineValidationError, Problem, SpecError
from translator.expressions import compile_expression
from translator.expressions.compile import is_constant
from translator.parse import Stage
from translator.plan import SOURCE, PlanContext, StagePlan
from translator.stages.source import DOCUMENTS, compile_time_field, only_fields, source_variant

ALLOWED = frozenset({"documents", "timeField", "tsFieldName"})


NOT_DOCUMENTS = "documents must be (or evaluate to) an array of documents"


@source_variant(DOCUMENTS)
def plan_documents(stage: Stage, connection: dict | None, ctx: PlanContext) -> StagePlan:
    """An array is checked now; an expression is compiled now and evaluated only when the flow
    is built to run (validation never runs the pipeline: it could loop or fill memory)."""
    spec = stage.spec
    only_fields(spec, ALLOWED, "a documents source")
    docs = spec["documents"]
    time_field = compile_time_field(spec)
    ts_field_name = spec.get("tsFieldName", "_ts")
    if type(docs) is list:
        _check_field_names(docs)
        source = _source(docs, time_field, ts_field_name, SpecError(NOT_DOCUMENTS, ("documents",)))
        return StagePlan(
            stage,
            SOURCE,
            f"{len(docs)} documents from the pipeline, then end",
            build=lambda flow, bctx: op.input(stage.step_id, flow, source),
        )
    documents = compile_expression(docs, ("documents",))
    if is_constant(documents) and type(documents.constant) is not list:
        raise SpecError(NOT_DOCUMENTS, ("documents",))

    def build(flow, bctx):
        def failed(message: str) -> PipelineValidationError:
            return PipelineValidationError([Problem(stage.index, stage.name, "documents", message)])

        try:
            evaluated = documents({}, NO_VARS)
        except ExpressionError as exc:
            raise failed(str(exc)) from None
        return op.input(stage.step_id, flow, _source(evaluated, time_field, ts_field_name, failed(NOT_DOCUMENTS)))

    return StagePlan(stage, SOURCE, "the documents an expression evaluates to when the flow starts, then end", build=build)


def _check_field_names(docs: list) -> None:
    """Field names as an expression object allows them, which ``documents`` is in Atlas:
    none starts with '$' (that would be an operator) or holds a '.'.

    A walk that keeps no paths clears the documents; only names it refuses are located.
    """
    stack = list(docs)
    while stack:
        value = stack.pop()
        if type(value) is dict:
            for key in value:
                if key.startswith("$") or "." in key:
                    _locate_field_name(docs)
            stack.extend(item for item in value.values() if type(item) in (dict, list))
        elif type(value) is list:
            stack.extend(item for item in value if type(item) in (dict, list))


def _locate_field_name(docs: list) -> None:
    stack = [(doc, ("documents", str(i))) for i, doc in enumerate(docs)]
    while stack:
        value, at = stack.pop()
        if type(value) is list:
            stack.extend((item, (*at, str(i))) for i, item in enumerate(value))
        elif type(value) is dict:
            for key, item in value.items():
                if key.startswith("$") or "." in key:
                    msg = f"field name {key!r} may not start with '$' or contain '.'"
                    raise SpecError(msg, (*at, key))
                if type(item) in (dict, list):
                    stack.append((item, (*at, key)))


def _source(docs: object, time_field, ts_field_name: str, error: Exception) -> DocumentsSource:
    try:  # the connector checks every document once
        return DocumentsSource(docs, time_field=time_field, ts_field_name=ts_field_name)
    except TypeError:
        raise error from None
