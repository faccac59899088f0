"""The table of stage planners, filled by each stage module under its MongoDB name."""

from __future__ import annotations

from typing import Callable

from translator._registry import registrar

from translator.parse import Stage
from translator.plan import PlanContext, StagePlan

Planner = Callable[[Stage, PlanContext], StagePlan]
STAGE_PLANNERS: dict[str, Planner] = {}


stage_planner = registrar(STAGE_PLANNERS, "stage")
"""Register ``plan_<stage>(stage, ctx) -> StagePlan`` under one or more stage names."""
