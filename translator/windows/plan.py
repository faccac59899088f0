"""Planning the window stages and ``$setWindowFields``: compile once, into plans as data.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/windows/

A plan's spec holds the parsed window, its inner stages planned (StagePlans, fused when the
dataflow is built by ``translator.builders.windows``), what the source said about event time
and how the stage spreads its state over workers. Inner stages are planned through
``ctx.plan_stage``, which validation provides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable

from translator._types import Compiled
from translator.errors import SpecError
from translator.expressions import compile_expression
from translator.fusion import fuse
from translator.parse import Stage
from translator.plan import OPERATOR, STATELESS, PlanContext, SourceTime, StagePlan
from translator.windows.group import top_level_field
from translator.windows.inner import WINDOW_WIDE, ChunksFn, InnerPipeline, compile_inner_pipeline
from translator.windows.shards import SHARDS
from translator.windows.set_window_fields import SetWindowFields, set_window_fields_factory
from translator.windows.spec import WindowSpec, parse_window


@dataclass(frozen=True)
class InnerStage(Stage):
    """A stage inside another stage's pipeline; errors and dead letters name both."""

    outer: Stage | None = None

    @property
    def location(self) -> str:
        return f"stage {self.outer.index} ({self.outer.name}) pipeline.{self.index} ({self.name})"


def plan_inner_run(ctx: PlanContext, run: list, container: str, outer: Stage | None = None) -> tuple[StagePlan, ...]:
    """A run of per-document inner stages, planned by the core (``ctx.plan_stage``).

    Only stateless stages may run inside ``container``; errors point into ``pipeline``, and
    with ``outer`` the plans' failures name the stage holding them.
    """
    plans = []
    for index, body in run:
        ((name, spec),) = body.items()
        at = ("pipeline", str(index), name)
        if name == "$group" or name in WINDOW_WIDE:  # the window's own stages, nowhere else
            msg = f"{name} cannot run inside {container}"
            raise SpecError(msg, at)
        stage = InnerStage(index, name, spec, outer=outer) if outer is not None else Stage(index, name, spec)
        try:
            plan = ctx.plan_stage(stage, ctx)
        except SpecError as exc:
            raise SpecError(exc.message, (*at, *exc.path)) from None
        if plan.role != STATELESS:
            msg = f"{name} cannot run inside {container}"
            raise SpecError(msg, at)
        plans.append(plan)
    return tuple(plans)


def inner_stages_compiler(ctx: PlanContext, container: str = "a window pipeline") -> Callable[[list], ChunksFn]:
    """Runs of per-document inner stages, planned by the core and fused into one function each."""
    return lambda run: fuse(list(plan_inner_run(ctx, run, container)))


@dataclass(frozen=True)
class WindowPlan:
    """A ``$tumblingWindow``, ``$hoppingWindow`` or ``$sessionWindow`` stage, as data."""

    step_id: str
    window: WindowSpec
    inner: InnerPipeline  # its runs of per-document stages still StagePlans
    time: SourceTime
    partition_by: Compiled | None  # sessions' partitionBy, compiled
    shard_key: Compiled | None  # what spreads the state over workers; None: one shard
    shard_field: str | None  # the shard key when it is a top-level field, read directly
    combine: bool = False  # a combine step runs the stages after $group that need all of a window's groups


@dataclass(frozen=True)
class SetWindowFieldsPlan:
    """A ``$setWindowFields`` stage, as data: its outputs compiled once."""

    step_id: str
    compiled: SetWindowFields
    shard_key: Compiled | None  # partitionBy; None: one shard
    shard_field: str | None


def locate_inner(exc: SpecError) -> SpecError:
    """An error from inside a window's pipeline, located by the inner stage it names."""
    path = exc.path
    if len(path) < 2 or path[0] != "pipeline" or exc.within:
        return exc
    named = len(path) > 2 and path[2].startswith("$")
    within = f"pipeline.{path[1]} ({path[2]})" if named else f"pipeline.{path[1]}"
    return SpecError(exc.message, path[3 if named else 2 :], within=within)


def _shard_key(expression: Any, at: tuple) -> tuple[Compiled, str | None]:
    return compile_expression(expression, at), top_level_field(expression)


def _window_spread(window: WindowSpec, inner: InnerPipeline, time: SourceTime) -> tuple[Compiled | None, str | None, bool]:
    """What spreads a window's state, and whether a combine step finishes its windows.

    Sessions spread by ``partitionBy`` (a session's groups all share it). Fixed windows spread
    by their ``$group`` key when it can be read before the window's stages (they only filter);
    stages after ``$group`` that see all groups (``$sort``, ``$limit``, ``$count``) then run in a
    combine step, once every shard's frontier has passed the window's end. A shard holding no
    window wakes only when data comes, so a window closed by the clock (processing time,
    ``idleTimeout``, idle source partitions) keeps its groups in one shard instead.
    """
    if window.kind == "$sessionWindow":
        return (*_shard_key(window.partition_by, ("partitionBy",)), False)
    group = inner.group
    if group is None or inner.reads_meta or not inner.before_group_filters_only():
        return None, None, False
    combine = inner.window_wide_at is not None
    if combine and (window.processing_time or window.idle_timeout or time.idle_timeout):
        return None, None, False
    return group.key, top_level_field(group.id_spec), combine


def _seconds(span: timedelta) -> str:
    return f"{span.total_seconds():g} s"


def _describe_window(window: WindowSpec, spread: bool) -> str:
    if window.gap is not None:
        shape = f"sessions per partitionBy, closed {_seconds(window.gap)} after their last event"
    elif window.hop != window.size:
        shape = f"hopping windows of {_seconds(window.size)} every {_seconds(window.hop)}"
    else:
        shape = f"tumbling windows of {_seconds(window.size)}"
    if window.processing_time:
        clock = "on processing time"
    else:
        clock = f"on event time, allowedLateness {_seconds(window.allowed_lateness)}, late documents to the DLQ"
    idle = f", idleTimeout {_seconds(window.idle_timeout)}" if window.idle_timeout else ""
    stages = ", ".join(next(iter(s)) for s in window.pipeline if type(s) is dict and s)
    return f"{shape} {clock}{idle}; inner pipeline: {stages or 'none'}; each window emitted once; {_spread(spread)}, in the recovery store"


def plan_window(stage: Stage, ctx: PlanContext) -> StagePlan:
    """``$tumblingWindow``, ``$hoppingWindow`` or ``$sessionWindow``."""
    try:
        window = parse_window(stage.name, stage.spec)
        inner = compile_inner_pipeline(window.pipeline, lambda run: plan_inner_run(ctx, run, "a window pipeline", stage))
        partition_by = compile_expression(window.partition_by, ("partitionBy",)) if window.partition_by is not None else None
    except SpecError as exc:
        raise locate_inner(exc) from None
    shard_key, shard_field, combine = _window_spread(window, inner, ctx.source_time)
    spec = WindowPlan(stage.step_id, window, inner, ctx.source_time, partition_by, shard_key, shard_field, combine)
    description = _describe_window(window, shard_key is not None)
    if combine:
        description += "; the stages from the first $sort, $limit or $count on see every shard's groups of a window in a combine step"
    return StagePlan(stage, OPERATOR, description, spec=spec, steps=_steps(stage.step_id, combine))


def _steps(step_id: str, combine: bool = False) -> tuple:
    combining = (f"{step_id}_to_combine", f"{step_id}_combine") if combine else ()
    return (f"{step_id}_key", f"{step_id}_state", *combining, f"{step_id}_unkey", f"{step_id}_dead_letters")


def _spread(spread: bool) -> str:
    return f"state spread by key over {SHARDS} shards on every worker" if spread else "state in one shard, on one worker"


def plan_set_window_fields(stage: Stage, ctx: PlanContext) -> StagePlan:
    compiled = set_window_fields_factory(stage.spec, finite_source=ctx.source_time.finite)()
    notes = []
    for field, out in (stage.spec.get("output") or {}).items():
        window = out.get("window") if type(out) is dict else None
        bounds = window.get("range") if type(window) is dict else None
        if type(bounds) is list and len(bounds) == 2 and type(bounds[1]) is str and bounds[1] not in ("current", "unbounded"):
            notes.append(
                f"{field}: range {bounds!r} is read as [{bounds[0]!r}, 'current'] in {bounds[1]}s,"
                f" i.e. the {abs(bounds[0])} {bounds[1]}s up to the current document"
            )
    shard_key, shard_field = _shard_key(stage.spec["partitionBy"], ("partitionBy",)) if "partitionBy" in stage.spec else (None, None)
    description = f"each arriving document leaves once with its window's values; {_spread(shard_key is not None)}, in the recovery store"
    if compiled.waiting:
        fields = [compiled.outputs[i][0] for i, _ in compiled.waiting]
        verb = "reaches" if len(fields) == 1 else "reach"
        description += f"; {', '.join(fields)} {verb} past the current document, so documents wait for the later ones their windows need"
        description += " (the end of the stream for a window without an upper bound), then leave in arrival order per partition"
    if notes:
        description += "; " + "; ".join(notes)
    spec = SetWindowFieldsPlan(stage.step_id, compiled, shard_key, shard_field)
    return StagePlan(stage, OPERATOR, description, spec=spec, steps=_steps(stage.step_id))
