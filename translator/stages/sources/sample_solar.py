"""``{"$source": {"connectionName": "sample_stream_solar"}}``: the built-in sample stream.

Registry settings for it (all optional): ``rate`` (documents per second, default 10),
``seed`` (default 42), ``limit`` (stop after that many documents; default never).
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.stream_meta import TimeField
from translator.errors import SpecError
from translator.parse import Stage
from translator.plan import SOURCE, PlanContext, SourceTime, StagePlan
from translator.stages.source import SAMPLE, compile_time_field, only_fields, source_variant

ALLOWED = frozenset({"connectionName", "timeField", "tsFieldName"})


@dataclass(frozen=True)
class SampleSolarSpec:
    """Reproducible solar readings at ``rate`` per second, ``limit`` of them (None: forever)."""

    rate: float
    seed: int
    limit: int | None
    time_field: TimeField | None
    time: SourceTime


@source_variant(SAMPLE)
def plan_sample_solar(stage: Stage, connection: dict | None, ctx: PlanContext) -> StagePlan:
    spec = stage.spec
    only_fields(spec, ALLOWED, "the sample_stream_solar source")
    settings = connection or {}
    rate, seed, limit = settings.get("rate", 10), settings.get("seed", 42), settings.get("limit")
    problem = None
    if type(rate) not in (int, float) or not rate > 0:
        problem = f"rate must be a positive number; got {rate!r}"
    elif type(seed) is not int:
        problem = f"seed must be an integer; got {seed!r}"
    elif limit is not None and (type(limit) is not int or limit < 0):
        problem = f"limit must be a non-negative integer; got {limit!r}"
    if problem:
        msg = f"sample_stream_solar settings in the registry: {problem}"
        raise SpecError(msg, ("connectionName",))
    time = SourceTime(ts_field_name=spec.get("tsFieldName", "_ts"), finite=False)
    source = SampleSolarSpec(rate, seed, limit, compile_time_field(spec), time)
    shown = "forever" if limit is None else f"{limit} readings"
    return StagePlan(stage, SOURCE, f"solar readings at {rate}/s, {shown}", spec=source)
