"""``$project``: include, exclude, compute and reshape fields.

https://www.mongodb.com/docs/manual/reference/operator/aggregation/project/
"""

from __future__ import annotations

from translator.parse import Stage
from translator.plan import MAP, STATELESS, PlanContext, StagePlan
from translator.stages._projection import compile_projection
from translator.stages._registry import stage_planner


@stage_planner("$project")
def plan_project(stage: Stage, ctx: PlanContext) -> StagePlan:
    return StagePlan(stage, STATELESS, "reshape each document", kind=MAP, doc_fn=compile_projection(stage.spec))
