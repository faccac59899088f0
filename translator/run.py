"""``translate`` and ``process``: a planned pipeline built into a Bytewax dataflow, and run.

Bytewax and the drivers load with this module (through :mod:`translator.build` and
:mod:`translator.builders`), which :mod:`translator` imports only when these are first used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, TextIO

from bytewax.dataflow import Dataflow
from bytewax.outputs import DynamicSink, FixedPartitionedSink
from bytewax._bytewax import cli_main

from connectors.console import ConsoleSink
from runtime import stop
from runtime.logs import configure_logging
from runtime.redaction import redact
from runtime.report import report_every, report_from_environment
from runtime.stats import FlowStats, StageInfo, activate
from translator.build import BuildContext, build_dataflow
from translator.builders.dead_letters import dlq_writer_factory
from translator.connections import Registry
from translator.errors import SettingError
from translator.parse import Pipeline
from translator.validate import plan


@dataclass(frozen=True)
class Translation:
    pipeline: Pipeline
    plans: list
    flow: Dataflow | None
    stats: FlowStats | None = None


def translate(
    pipeline: Pipeline,
    registry: Registry | None = None,
    output: TextIO | DynamicSink | None = None,
    dlq_output: TextIO | None = None,
    tap: Callable[[list, bool], list] | None = None,
    flow_id: str | None = None,
    stats: bool = True,
    start_at: datetime | None = None,
) -> Translation:
    """The pipeline as a Bytewax dataflow.

    Without a ``$merge``/``$emit``, documents go to ``output``: a text stream (default stdout)
    or any Bytewax sink taking chunks. Dead letters without ``options.dlq`` go to ``dlq_output``
    (default stderr). ``tap(chunks, dead)`` sees every batch bound for the sink or the DLQ.
    ``flow_id`` (default: the name) prefixes every step id, hence every checkpoint key.
    The flow counts its stats (see ``runtime.stats``) unless ``stats`` is False;
    ``SLUICE_STATS_FILE`` and ``SLUICE_METRICS_ADDR`` report them. ``start_at``: see :func:`translator.plan`.
    """
    registry = registry or Registry()  # running needs connections resolved, even to fail clearly
    plans = plan(pipeline, registry, start_at)
    writers = dlq_writer_factory(pipeline.options, registry, dlq_output)  # plan checked options.dlq
    flow_id = re.sub(r"[^A-Za-z0-9_-]", "_", flow_id or pipeline.name)  # Bytewax ids may not contain dots
    sink = output if isinstance(output, (DynamicSink, FixedPartitionedSink)) else ConsoleSink(output, writers, pipeline.name)
    counters = None
    try:
        configure_logging(pipeline.name, redact)
        if stats:
            stages = [StageInfo(p.stage.index, p.stage.name, p.role, p.stage.step_id) for p in plans]
            counters = FlowStats(pipeline.name, stages, plans[0].spec.time.ts_field_name)
            report_from_environment(counters)
    except ValueError as exc:
        raise SettingError(str(exc)) from None
    activate(counters)
    ctx = BuildContext(Dataflow(flow_id), pipeline.name, writers, sink, stats=counters, tap=tap)
    return Translation(pipeline, plans, build_dataflow(plans, ctx), counters)


def process(
    pipeline: Pipeline,
    registry: Registry | None = None,
    output: TextIO | DynamicSink | None = None,
    dlq_output: TextIO | None = None,
    on_stats: Callable[[dict], None] | None = None,
    stats_interval: float | None = None,
) -> None:
    """Run a pipeline in this process until its source ends, as ``sluice process`` does.

    Runs through Bytewax's ``cli_main`` (what ``bytewax.run`` uses). SIGTERM and SIGINT stop
    it cleanly (``runtime.stop``); after SIGINT (Ctrl-C) this raises KeyboardInterrupt.
    ``on_stats`` gets the stats document when the run ends, and every ``stats_interval`` seconds
    while it runs, if given.
    """
    translation = translate(pipeline, registry, output, dlq_output)
    if on_stats is not None:
        report_every(translation.stats, stats_interval, on_stats)
    status = "error"
    try:
        with stop.handling_signals():
            cli_main(translation.flow)
            status = "stopped"
            if stop.interrupted():
                raise KeyboardInterrupt
    finally:
        translation.stats.finish(status)
