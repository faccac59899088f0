"""``$validate``: documents that fail the validator are discarded or sent to the DLQ.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-validate/
"""

from __future__ import annotations

from translator.errors import ExpressionError
from translator.parse import Stage
from translator.plan import FILTER, STATELESS, PlanContext, StagePlan
from translator.query import compile_query
from translator.stages._registry import stage_planner


@stage_planner("$validate")
def plan_validate(stage: Stage, ctx: PlanContext) -> StagePlan:
    validator = compile_query(stage.spec["validator"], ("validator",))
    if stage.spec.get("validationAction", "discard") == "discard":
        return StagePlan(stage, STATELESS, "discard documents failing the validator", kind=FILTER, doc_fn=validator)

    def valid_or_dead(doc: dict) -> bool:
        if validator(doc):
            return True
        msg = "document failed $validate's validator"
        raise ExpressionError(msg)

    return StagePlan(stage, STATELESS, "send documents failing the validator to the DLQ", kind=FILTER, doc_fn=valid_or_dead)
