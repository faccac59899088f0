"""The table of stage planners, filled by each stage module under its MongoDB name."""

from __future__ import annotations

from typing import Callable

from translator.parse import Stage
from translator.plan import PlanContext, StagePlan

Planner = Callable[[Stage, PlanContext], StagePlan]
STAGE_PLANNERS: dict[str, Planner] = {}


def stage_planner(*names: str) -> Callable[[Planner], Planner]:
    """Register ``plan_<stage>(stage, ctx) -> StagePlan`` under one or more stage names."""

    def register(planner: Planner) -> Planner:
        for name in names:
            if name in STAGE_PLANNERS:
                msg = f"stage {name} registered twice"
                raise RuntimeError(msg)
            STAGE_PLANNERS[name] = planner
        return planner

    return register
