"""``{"$source": {"documents": [...]}}``: a finite array, for tests and examples.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-source/#document-array
"""

from __future__ import annotations

import bytewax.operators as op

from connectors.documents import DocumentsSource
from translator._types import NO_VARS
from translator.errors import SpecError
from translator.expressions import compile_expression
from translator.parse import Stage
from translator.plan import SOURCE, PlanContext, StagePlan
from translator.stages.source import DOCUMENTS, compile_time_field, only_fields, source_variant

ALLOWED = frozenset({"documents", "timeField", "tsFieldName"})


@source_variant(DOCUMENTS)
def plan_documents(stage: Stage, connection: dict | None, ctx: PlanContext) -> StagePlan:
    spec = stage.spec
    only_fields(spec, ALLOWED, "a documents source")
    docs = spec["documents"]
    if type(docs) is not list:
        docs = compile_expression(docs, ("documents",))({}, NO_VARS)
    try:  # the connector checks every document once
        source = DocumentsSource(docs, time_field=compile_time_field(spec), ts_field_name=spec.get("tsFieldName", "_ts"))
    except TypeError:
        msg = "documents must be (or evaluate to) an array of documents"
        raise SpecError(msg, ("documents",)) from None
    return StagePlan(
        stage,
        SOURCE,
        f"{len(docs)} documents from the pipeline, then end",
        build=lambda flow, bctx: op.input(stage.step_id, flow, source),
    )
