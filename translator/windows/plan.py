"""Planning the window stages: compile once, describe for ``sluice translate``, wire at build.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/windows/
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable

from bytewax.dataflow import Stream

from translator.errors import SpecError
from translator.parse import Stage
from translator.plan import OPERATOR, STATELESS, PlanContext, StagePlan
from translator.windows.engine import window_engine_factory
from translator.windows.inner import ChunksFn
from translator.windows.operator import window_operator
from translator.windows.set_window_fields import set_window_fields_factory
from translator.windows.spec import WindowSpec, parse_window


def inner_stages_compiler(ctx: PlanContext, container: str = "a window pipeline") -> Callable[[list], ChunksFn]:
    """Runs of per-document inner stages through the core's planners and fusion.

    Only stateless stages may run inside ``container``; errors point into ``pipeline``.
    """

    def compile_run(run: list) -> ChunksFn:
        from translator.fusion import fuse  # imported here: the stage registry loads before them
        from translator.stages import STAGE_PLANNERS
        from translator.validate import plan_stage

        plans = []
        for index, body in run:
            ((name, spec),) = body.items()
            at = ("pipeline", str(index), name)
            if name not in STAGE_PLANNERS:  # $group & co. belong to the window itself, not to a run
                msg = f"{name} cannot run inside {container}"
                raise SpecError(msg, at)
            try:
                plan = plan_stage(Stage(index, name, spec), ctx)
            except SpecError as exc:
                raise SpecError(exc.message, (*at, *exc.path)) from None
            if plan.role != STATELESS:
                msg = f"{name} cannot run inside {container}"
                raise SpecError(msg, at)
            plans.append(plan)
        return fuse(plans)

    return compile_run


def kafka_partitions(flow: Any) -> dict:
    """What a window learns from the dataflow's Kafka source: its partitions and their idle timeout.

    Atlas knows a topic's partitions before any message, so one that has sent nothing holds
    the watermark back; sluice's Kafka source registers each partition it builds in its
    ``activity``.
    """
    activities = [step.source.activity for step in flow.substeps if hasattr(getattr(step, "source", None), "activity")]
    if not activities:
        return {}

    def partitions() -> list:
        return [part for activity in activities for part in activity.partitions()]

    options: dict = {"source_partitions": partitions}
    if activities[0].idle_timeout is not None:
        options["partition_idle_timeout"] = activities[0].idle_timeout
    return options


def _operator_plan(stage: Stage, description: str, make_engine: Callable[..., Any], watermarked: bool) -> StagePlan:
    step_id = stage.step_id

    def build(up: Stream, bctx: Any) -> Stream:
        found = kafka_partitions(bctx.flow) if watermarked else {}
        make = (lambda: make_engine(**found)) if found else make_engine
        probe = bctx.stats.probe(step_id) if bctx.stats is not None else None
        return bctx.split_dead_letters(step_id, window_operator(step_id, up, make, probe=probe))

    steps = (f"{step_id}_key", f"{step_id}_state", f"{step_id}_unkey", f"{step_id}_dead_letters")
    return StagePlan(stage, OPERATOR, description, build=build, steps=steps)


def _seconds(span: timedelta) -> str:
    return f"{span.total_seconds():g} s"


def _describe_window(window: WindowSpec) -> str:
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
    return f"{shape} {clock}{idle}; inner pipeline: {stages or 'none'}; each window emitted once, state in the recovery store"


def source_options(ctx: PlanContext) -> dict:
    """The ``$source``'s ``tsFieldName``: where event times live."""
    name = ctx.source.get("tsFieldName")
    return {"time_field": name} if type(name) is str else {}


def plan_window(stage: Stage, ctx: PlanContext) -> StagePlan:
    """``$tumblingWindow``, ``$hoppingWindow`` or ``$sessionWindow``."""
    window = parse_window(stage.name, stage.spec)
    factory = window_engine_factory(window, inner_stages_compiler(ctx), **source_options(ctx))
    return _operator_plan(stage, _describe_window(window), factory, watermarked=True)


def plan_set_window_fields(stage: Stage, ctx: PlanContext) -> StagePlan:
    factory = set_window_fields_factory(stage.spec, finite_source="documents" in ctx.source)
    notes = []
    for field, out in (stage.spec.get("output") or {}).items():
        window = out.get("window") if type(out) is dict else None
        bounds = window.get("range") if type(window) is dict else None
        if type(bounds) is list and len(bounds) == 2 and type(bounds[1]) is str and bounds[1] not in ("current", "unbounded"):
            notes.append(
                f"{field}: range {bounds!r} is read as [{bounds[0]!r}, 'current'] in {bounds[1]}s,"
                f" i.e. the {abs(bounds[0])} {bounds[1]}s up to the current document"
            )
    engine = factory()
    description = "each arriving document leaves once with its window's values; state per partition in the recovery store"
    if engine.waiting:
        fields = [engine.outputs[i][0] for i, _ in engine.waiting]
        verb = "reaches" if len(fields) == 1 else "reach"
        description += f"; {', '.join(fields)} {verb} past the current document, so documents wait for the later ones their windows need"
        description += " (the end of the stream for a window without an upper bound), then leave in arrival order"
    if notes:
        description += "; " + "; ".join(notes)
    return _operator_plan(stage, description, factory, watermarked=False)
