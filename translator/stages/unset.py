"""``$unset``: remove fields, given as one path or an array of paths.

https://www.mongodb.com/docs/manual/reference/operator/aggregation/unset/
"""

from __future__ import annotations

from translator.errors import SpecError
from translator.parse import Stage
from translator.plan import MAP, STATELESS, PlanContext, StagePlan
from translator.stages._projection import exclusion, projection_tree
from translator.stages._registry import stage_planner


@stage_planner("$unset")
def plan_unset(stage: Stage, ctx: PlanContext) -> StagePlan:
    paths = stage.spec if type(stage.spec) is list else [stage.spec]
    if not paths or any(type(path) is not str for path in paths):
        msg = "$unset expects a field path or a nonempty array of field paths"
        raise SpecError(msg)
    tree = projection_tree({path: 0 for path in paths})
    return StagePlan(stage, STATELESS, f"remove {', '.join(paths)}", kind=MAP, doc_fn=exclusion(tree))
