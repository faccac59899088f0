"""``$replaceRoot`` and ``$replaceWith``: a computed document becomes the document.

https://www.mongodb.com/docs/manual/reference/operator/aggregation/replaceRoot/
"""

from __future__ import annotations

from typing import Any

from runtime.stream_meta import STREAM_META
from translator._bson_types import bson_type_name
from translator._types import NO_VARS
from translator.errors import ExpressionError, SpecError
from translator.expressions import compile_expression
from translator.parse import Stage
from translator.plan import MAP, STATELESS, PlanContext, StagePlan
from translator.stages._registry import stage_planner


@stage_planner("$replaceRoot", "$replaceWith")
def plan_replace_root(stage: Stage, ctx: PlanContext) -> StagePlan:
    if stage.name == "$replaceRoot":
        if type(stage.spec) is not dict or set(stage.spec) != {"newRoot"}:
            msg = "$replaceRoot expects exactly one field, 'newRoot'"
            raise SpecError(msg)
        new_root = compile_expression(stage.spec["newRoot"], ("newRoot",))
    else:
        new_root = compile_expression(stage.spec)

    def replace(doc: dict) -> dict:
        value: Any = new_root(doc, NO_VARS)
        if type(value) is not dict:
            msg = f"'newRoot' expression must evaluate to an object, but resulting value was of type {bson_type_name(value)}"
            raise ExpressionError(msg)
        meta = doc.get(STREAM_META)
        if meta is not None and STREAM_META not in value:
            # Atlas keeps the stream metadata through a new root; only $project/$unset drop it.
            value = {**value, STREAM_META: meta}
        return value

    return StagePlan(stage, STATELESS, "replace each document with a computed one", kind=MAP, doc_fn=replace)
