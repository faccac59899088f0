"""``{"$source": {"connectionName": "sample_stream_solar"}}``: the built-in sample stream.

Registry settings for it (all optional): ``rate`` (documents per second, default 10),
``seed`` (default 42), ``limit`` (stop after that many documents; default never).
"""

from __future__ import annotations

import bytewax.operators as op

from connectors.sample_solar import SolarSource
from translator.errors import SpecError
from translator.parse import Stage
from translator.plan import SOURCE, PlanContext, StagePlan
from translator.stages.source import SAMPLE, compile_time_field, only_fields, source_variant

ALLOWED = frozenset({"connectionName", "timeField", "tsFieldName"})


@source_variant(SAMPLE)
def plan_sample_solar(stage: Stage, connection: dict | None, ctx: PlanContext) -> StagePlan:
    spec = stage.spec
    only_fields(spec, ALLOWED, "the sample_stream_solar source")
    settings = connection or {}
    try:
        source = SolarSource(
            rate=settings.get("rate", 10),
            seed=settings.get("seed", 42),
            limit=settings.get("limit"),
            time_field=compile_time_field(spec),
            ts_field_name=spec.get("tsFieldName", "_ts"),
        )
    except (TypeError, ValueError) as exc:
        msg = f"sample_stream_solar settings in the registry: {exc}"
        raise SpecError(msg, ("connectionName",)) from None
    limit = "forever" if source.limit is None else f"{source.limit} readings"
    return StagePlan(
        stage,
        SOURCE,
        f"solar readings at {source.rate}/s, {limit}",
        build=lambda flow, bctx: op.input(stage.step_id, flow, source),
    )
