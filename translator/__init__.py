"""sluice's translator: Atlas Stream Processing pipelines → Bytewax dataflows.

parse → validate (plan every stage, expressions compiled once) → build. Example::

    from translator import translate
    from translator.parse import parse_pipeline

    pipeline = parse_pipeline([{"$source": {"documents": [{"a": 1}]}}, {"$match": {"a": 1}}])
    flow = translate(pipeline).flow   # run with bytewax.testing.run_main(flow)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TextIO

from bytewax.dataflow import Dataflow
from bytewax.outputs import DynamicSink, FixedPartitionedSink
from bytewax._bytewax import cli_main

from connectors import stop
from connectors.console import ConsoleSink
from translator import expressions, query  # noqa: F401  (register operators)
from translator.build import BuildContext, build_dataflow
from translator.connections import Registry
from translator.dlq import check_dlq_options, dlq_writer_factory
from translator.errors import PipelineValidationError, Problem, SpecError
from translator.parse import Pipeline
from translator.plan import PlanContext, StagePlan
from translator.validate import plan_pipeline


@dataclass(frozen=True)
class Translation:
    pipeline: Pipeline
    plans: list
    flow: Dataflow | None


def plan(pipeline: Pipeline, registry: Registry | None = None) -> list[StagePlan]:
    """Validate and compile every stage; raise PipelineValidationError listing every problem."""
    try:
        check_dlq_options(pipeline.options)
    except SpecError as exc:
        raise PipelineValidationError([Problem(None, None, ".".join(exc.path), exc.message)]) from None
    return plan_pipeline(pipeline, PlanContext(registry, pipeline.name))


def translate(
    pipeline: Pipeline,
    registry: Registry | None = None,
    output: TextIO | DynamicSink | None = None,
    dlq_output: TextIO | None = None,
) -> Translation:
    """The pipeline as a Bytewax dataflow.

    Without a ``$merge``/``$emit``, documents go to ``output``: a text stream (default stdout)
    or any Bytewax sink taking chunks. Dead letters without ``options.dlq`` go to ``dlq_output``
    (default stderr).
    """
    registry = registry or Registry()  # running needs connections resolved, even to fail clearly
    plans = plan(pipeline, registry)
    try:
        writers = dlq_writer_factory(pipeline.options, registry, dlq_output)
    except SpecError as exc:
        raise PipelineValidationError([Problem(None, None, ".".join(exc.path), exc.message)]) from None
    flow_id = re.sub(r"[^A-Za-z0-9_-]", "_", pipeline.name)  # Bytewax ids may not contain dots
    sink = output if isinstance(output, (DynamicSink, FixedPartitionedSink)) else ConsoleSink(output)
    ctx = BuildContext(Dataflow(flow_id), pipeline.name, writers, sink)
    return Translation(pipeline, plans, build_dataflow(plans, ctx))


def process(
    pipeline: Pipeline,
    registry: Registry | None = None,
    output: TextIO | DynamicSink | None = None,
    dlq_output: TextIO | None = None,
) -> None:
    """Run a pipeline in this process until its source ends, as ``sluice process`` does.

    Runs through Bytewax's ``cli_main`` (what ``bytewax.run`` uses). SIGTERM and SIGINT stop
    it cleanly (``connectors.stop``); after SIGINT (Ctrl-C) this raises KeyboardInterrupt.
    """
    flow = translate(pipeline, registry, output, dlq_output).flow
    with stop.handling_signals():
        cli_main(flow)
        if stop.interrupted():
            raise KeyboardInterrupt

