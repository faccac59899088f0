"""``$hoppingWindow``: hopping windows over event or processing time, each emitted once.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-hopping/
"""

from __future__ import annotations

from translator.parse import Stage
from translator.plan import PlanContext, StagePlan
from translator.stages._registry import stage_planner
from translator.windows.plan import plan_window


@stage_planner("$hoppingWindow")
def plan_hopping_window(stage: Stage, ctx: PlanContext) -> StagePlan:
    return plan_window(stage, ctx)
