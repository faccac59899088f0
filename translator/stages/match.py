"""``$match``: keep the documents a query filter matches.

https://www.mongodb.com/docs/manual/reference/operator/aggregation/match/
"""

from __future__ import annotations

from translator.parse import Stage
from translator.plan import FILTER, STATELESS, PlanContext, StagePlan
from translator.query import compile_query
from translator.stages._registry import stage_planner


@stage_planner("$match")
def plan_match(stage: Stage, ctx: PlanContext) -> StagePlan:
    return StagePlan(stage, STATELESS, "filter by a compiled query", kind=FILTER, doc_fn=compile_query(stage.spec))
