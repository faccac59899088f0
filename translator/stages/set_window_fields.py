"""``$setWindowFields`` over a stream (Atlas lacks it): windows per partition, in arrival order.

https://www.mongodb.com/docs/manual/reference/operator/aggregation/setWindowFields/
"""

from __future__ import annotations

from translator.parse import Stage
from translator.plan import PlanContext, StagePlan
from translator.stages._registry import stage_planner
from translator.windows.plan import plan_set_window_fields


@stage_planner("$setWindowFields")
def plan_set_window_fields_stage(stage: Stage, ctx: PlanContext) -> StagePlan:
    return plan_set_window_fields(stage, ctx)
