"""Window stages and ``$setWindowFields`` into Bytewax steps: routing, one engine per shard, unkeying.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/windows/
"""

from __future__ import annotations

from typing import Any

from bytewax.dataflow import Stream

from translator.builders._registry import builds
from translator.fusion import fuse
from translator.plan import StagePlan
from translator.windows.engine import window_engines
from translator.windows.inner import InnerPipeline
from translator.windows.operator import Routing, window_operator
from translator.windows.plan import SetWindowFieldsPlan, WindowPlan
from translator.windows.set_window_fields import fresh_set_window_fields
from translator.windows.shards import SHARDS, shard_by


def _routing(shard_key: Any, shard_field: str | None, time_field: str | None) -> Routing:
    shard_of = shard_by(shard_key, shard_field, SHARDS) if shard_key is not None else None
    return Routing(shard_of, time_field)


@builds(WindowPlan)
def build_window(plan: StagePlan, up: Stream, bctx: Any) -> Stream:
    """One window engine per shard, each keeping Atlas's watermark over every source partition."""
    spec: WindowPlan = plan.spec
    partitions = bctx.source_partitions
    options: dict = {"time_field": spec.time.ts_field_name, "partition_idle_timeout": spec.time.idle_timeout}
    if partitions is not None:
        options["source_partitions"] = partitions.partition_ids
    inner, combine = spec.inner.fused(fuse), None
    if spec.combine:
        inner, stages = inner.split_at_window_wide()
        combine = InnerPipeline(None, None, stages, False)
    make_engine = window_engines(spec.window, inner, spec.partition_by, **options)
    time_field = None if spec.window.processing_time else spec.time.ts_field_name
    routing = _routing(spec.shard_key, spec.shard_field, time_field)
    probe = bctx.stats.probe(spec.step_id) if bctx.stats is not None else None
    down = window_operator(spec.step_id, up, make_engine, probe=probe, routing=routing, partitions=partitions, combine=combine)
    return bctx.split_dead_letters(spec.step_id, down)


@builds(SetWindowFieldsPlan)
def build_set_window_fields(plan: StagePlan, up: Stream, bctx: Any) -> Stream:
    """One ``$setWindowFields`` engine per shard of its partitions."""
    spec: SetWindowFieldsPlan = plan.spec
    probe = bctx.stats.probe(spec.step_id) if bctx.stats is not None else None
    routing = _routing(spec.shard_key, spec.shard_field, None)
    down = window_operator(spec.step_id, up, lambda: fresh_set_window_fields(spec.compiled), probe=probe, routing=routing)
    return bctx.split_dead_letters(spec.step_id, down)
