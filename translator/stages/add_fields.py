"""``$addFields`` and its alias ``$set``: add or replace computed fields.

https://www.mongodb.com/docs/manual/reference/operator/aggregation/addFields/
"""

from __future__ import annotations

from translator.parse import Stage
from translator.plan import MAP, STATELESS, PlanContext, StagePlan
from translator.stages._projection import compile_add_fields
from translator.stages._registry import stage_planner


@stage_planner("$addFields", "$set")
def plan_add_fields(stage: Stage, ctx: PlanContext) -> StagePlan:
    return StagePlan(stage, STATELESS, "add computed fields", kind=MAP, doc_fn=compile_add_fields(stage.spec))
