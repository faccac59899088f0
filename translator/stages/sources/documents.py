"""``{"$source": {"documents": [...]}}``: a finite array, for tests and examples.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-source/#document-array
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.stream_meta import TimeField
from translator._types import Compiled
from translator.errors import SpecError
from translator.expressions import compile_expression
from translator.expressions.compile import is_constant
from translator.parse import Stage
from translator.plan import SOURCE, PlanContext, SourceTime, StagePlan
from translator.stages.source import DOCUMENTS, compile_time_field, only_fields, source_variant

ALLOWED = frozenset({"documents", "timeField", "tsFieldName"})


NOT_DOCUMENTS = "documents must be (or evaluate to) an array of documents"


@dataclass(frozen=True)
class DocumentsSourceSpec:
    """A finite source: the checked array, or the expression giving it when the flow is built."""

    docs: list | None  # None when ``expression`` gives them
    expression: Compiled | None
    time_field: TimeField | None
    time: SourceTime


@source_variant(DOCUMENTS)
def plan_documents(stage: Stage, connection: dict | None, ctx: PlanContext) -> StagePlan:
    """An array is checked now; an expression is compiled now and evaluated only when the flow
    is built to run (validation never runs the pipeline: it could loop or fill memory)."""
    spec = stage.spec
    only_fields(spec, ALLOWED, "a documents source")
    docs = spec["documents"]
    time_field = compile_time_field(spec)
    time = SourceTime(ts_field_name=spec.get("tsFieldName", "_ts"), finite=True)
    if type(docs) is list:
        if not all(type(doc) is dict for doc in docs):
            raise SpecError(NOT_DOCUMENTS, ("documents",))
        _check_field_names(docs)
        source = DocumentsSourceSpec(docs, None, time_field, time)
        return StagePlan(stage, SOURCE, f"{len(docs)} documents from the pipeline, then end", spec=source)
    documents = compile_expression(docs, ("documents",))
    if is_constant(documents) and type(documents.constant) is not list:
        raise SpecError(NOT_DOCUMENTS, ("documents",))
    source = DocumentsSourceSpec(None, documents, time_field, time)
    description = "the documents an expression evaluates to when the flow starts, then end"
    return StagePlan(stage, SOURCE, description, spec=source)


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
