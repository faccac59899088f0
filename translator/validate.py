"""Pipeline-level rules, then every stage planned; all problems are raised together.

The rules mirror Atlas Stream Processing: ``$source`` first, one sink last, one window.
https://www.mongodb.com/docs/atlas/atlas-stream-processing/stream-aggregation/
"""

from __future__ import annotations

from datetime import datetime

from translator.connections import Registry
from translator.dlq import check_options
from translator.errors import PipelineValidationError, Problem, SpecError
from translator.parse import Pipeline
from translator.plan import SOURCE, PlanContext, StagePlan
from translator.stages import STAGE_PLANNERS
from translator.stages._fields import KNOWN_STAGES, SINK_STAGES, WINDOW_ONLY, WINDOW_STAGES, check_stage_fields
from translator.unsupported import check_stage, refusal


def _problem(stage, message: str, path: tuple = (), within: str = "") -> Problem:
    return Problem(stage.index, stage.name, ".".join(path), message, within)


def known_stages(pipeline: Pipeline) -> list[Problem]:
    problems = []
    for stage in pipeline.stages:
        if stage.name in WINDOW_ONLY:
            problems.append(_problem(stage, f"{stage.name} is only valid inside a window's pipeline"))
        elif stage.name not in KNOWN_STAGES:
            problems.append(_problem(stage, f"unknown stage {stage.name}"))
    return problems


def source_first(pipeline: Pipeline) -> list[Problem]:
    problems = []
    if pipeline.stages[0].name != "$source":
        problems.append(_problem(pipeline.stages[0], "the first stage must be $source"))
    problems += [_problem(s, "$source is only valid as the first stage") for s in pipeline.stages[1:] if s.name == "$source"]
    return problems


def sink_last(pipeline: Pipeline) -> list[Problem]:
    return [
        _problem(stage, f"{stage.name} is only valid as the last stage")
        for stage in pipeline.stages[:-1]
        if stage.name in SINK_STAGES
    ]


def one_window(pipeline: Pipeline) -> list[Problem]:
    windows = [stage for stage in pipeline.stages if stage.name in WINDOW_STAGES]
    return [_problem(stage, f"only one window stage is allowed; {windows[0].name} came first") for stage in windows[1:]]


RULES = (known_stages, source_first, sink_last, one_window)


def plan_stage(stage, ctx: PlanContext) -> StagePlan:
    check_stage(stage.name, stage.spec)
    check_stage_fields(stage.name, stage.spec)
    planner = STAGE_PLANNERS.get(stage.name)
    if planner is None:
        raise SpecError(refusal(f"{stage.name}: it is not built yet"))
    try:
        return planner(stage, ctx)
    except RecursionError:
        msg = "nested too deeply to compile; flatten the expression"
        raise SpecError(msg) from None


def plan_pipeline(pipeline: Pipeline, ctx: PlanContext) -> list[StagePlan]:
    """Every stage's plan, or one PipelineValidationError listing every problem found."""
    problems = [problem for rule in RULES for problem in rule(pipeline)]
    ctx.last_stage = pipeline.stages[-1].index
    ctx.plan_stage = plan_stage
    reported = {p.stage_index for p in problems}
    plans = []
    for stage in pipeline.stages:
        if stage.index in reported:
            continue
        try:
            plans.append(plan_stage(stage, ctx))
        except SpecError as exc:
            problems.append(_problem(stage, exc.message, exc.path, exc.within))
            continue
        if plans[-1].role == SOURCE:  # the stateful stages after it read its time
            ctx.source_time = plans[-1].spec.time
    if problems:
        problems.sort(key=lambda p: -1 if p.stage_index is None else p.stage_index)
        raise PipelineValidationError(problems)
    return plans


def plan(pipeline: Pipeline, registry: Registry | None = None, start_at: datetime | None = None) -> list[StagePlan]:
    """Validate and compile every stage; raise PipelineValidationError listing every problem.

    ``start_at``: when the processor was started, where a change stream with neither a
    checkpoint nor a start option of its own begins (instead of "now")."""
    try:
        check_options(pipeline.options, registry)
    except SpecError as exc:
        raise PipelineValidationError([Problem(None, None, ".".join(exc.path), exc.message)]) from None
    return plan_pipeline(pipeline, PlanContext(registry, pipeline.name, start_at=start_at))
