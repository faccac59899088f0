"""Plans into a Bytewax dataflow: consecutive stateless stages fuse into one batch step.

Bytewax charges per step and per item, so documents travel in chunks and a run of
stateless stages costs one ``flat_map_batch``. Dead letters leave the main stream at
the step that produced them and end in one DLQ output.

A document belongs to the step holding it: stages may update the documents they receive in
place, so a step that keeps a document in its state emits a copy, never the document itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Callable

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream

from connectors.console import ConsoleSink
from connectors.dead_letter_sink import DeadLetterSink
from runtime.dead_letters import DeadLetters
from runtime.stats import FlowStats, WorkerBinding, counting_writers
from translator.builders import BUILDERS
from translator.dlq import WriterFactory
from translator.fusion import fuse, fused_step_id, segments
from translator.plan import SINK, SOURCE, STATELESS, StagePlan
from translator.segment import compile_segment, generates

DLQ_STEP = "dlq"


@dataclass
class BuildContext:
    """What stage builders share while wiring one dataflow."""

    flow: Dataflow
    processor_name: str
    dlq_writer_factory: WriterFactory
    output_sink: Any = None  # where documents go when the pipeline has no sink (default: stdout)
    dead_letters: list = field(default_factory=list)
    tap: Callable[[list, bool], list] | None = None  # sees the chunks reaching the sink and the DLQ (samples)
    stats: FlowStats | None = None  # None: nothing counted (benches compare both)
    source_partitions: Any = None  # runtime.source_partitions.SourcePartitions, set by a partitioned source's builder

    def tapped(self, step_id: str, up: Stream, dead: bool) -> Stream:
        """``up`` through the tap, when there is one; the chunks pass unchanged."""
        if self.tap is None:
            return up
        tap = self.tap
        return op.flat_map_batch(step_id, up, lambda chunks: tap(chunks, dead))

    def split_dead_letters(self, step_id: str, up: Stream) -> Stream:
        """Route DeadLetters chunks of ``up`` to the DLQ; return the document chunks.

        The split also counts, per chunk, what the stage ``step_id`` passed on and dead-lettered.
        """
        position = self.stats.position(step_id) if self.stats is not None else None
        if position is None:
            is_dead = _is_dead_letters
        else:
            is_dead = _counting_split(self.stats, position)
        branch = op.branch(f"{step_id}_dead_letters", up, is_dead)
        self.dead_letters.append(branch.trues)
        return branch.falses


def _is_dead_letters(chunk: list) -> bool:
    return type(chunk) is DeadLetters


def _counting_split(stats: FlowStats, position: int) -> Callable[[list], bool]:
    if position == 0:
        return _counting_source_split(stats)

    def is_dead(chunk: list) -> bool:
        worker = stats.worker()
        if type(chunk) is DeadLetters:
            worker.dead_letters(position, chunk)
            return True
        worker.out[position] += len(chunk)
        return False

    return is_dead


def _counting_source_split(stats: FlowStats) -> Callable[[list], bool]:
    """The source's split counts what it received, good or not, and keeps the latest event time
    of each chunk's last document: the watermark of a pipeline without windows."""
    ts_field = stats.ts_field

    def is_dead(chunk: list) -> bool:
        worker = stats.worker()
        worker.into[0] += len(chunk)
        if type(chunk) is DeadLetters:
            worker.dead_letters(0, chunk)
            return True
        worker.out[0] += len(chunk)
        ts = chunk[-1].get(ts_field)
        if type(ts) is datetime and (worker.watermark[0] is None or ts > worker.watermark[0]):
            worker.watermark[0] = ts
        return False

    return is_dead


def _sink_context(head: StagePlan, ctx: BuildContext) -> BuildContext:
    """``ctx`` for a sink: its own dead letters count for its stage."""
    if ctx.stats is None:
        return ctx
    return replace(ctx, dlq_writer_factory=counting_writers(ctx.dlq_writer_factory, ctx.stats, head.stage.index))


def build_dataflow(plans: list[StagePlan], ctx: BuildContext) -> Dataflow:
    """Wire every plan; a pipeline without ``$merge``/``$emit`` prints its output."""
    stream: Stream | None = None
    sunk = False
    for group in segments(plans):
        head = group[0]
        if head.role == STATELESS:
            step_id = fused_step_id(group)
            run = compile_segment(group, ctx.stats) if generates(group) else fuse(group, ctx.stats)
            stream = ctx.split_dead_letters(step_id, op.flat_map_batch(step_id, stream, run))
            continue
        builder = BUILDERS[type(head.spec)]
        if head.role == SINK:
            builder(head, ctx.tapped("sample_tap", stream, False), _sink_context(head, ctx))
            sunk = True
        elif head.role == SOURCE:
            stream = ctx.split_dead_letters(head.stage.step_id, builder(head, ctx.flow, ctx))
        else:
            stream = builder(head, stream, ctx)
    if not sunk:
        op.output("output", ctx.tapped("sample_tap", stream, False), ctx.output_sink or ConsoleSink())
    dead = ctx.dead_letters[0] if len(ctx.dead_letters) == 1 else op.merge("dead_letters", *ctx.dead_letters)
    dead_letter_sink = DeadLetterSink(ctx.dlq_writer_factory, ctx.processor_name)
    dead = ctx.tapped("sample_tap_dlq", dead, True)
    op.output(DLQ_STEP, dead, WorkerBinding(dead_letter_sink, ctx.stats) if ctx.stats is not None else dead_letter_sink)
    return ctx.flow
