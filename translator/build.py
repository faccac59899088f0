"""Plans into a Bytewax dataflow: consecutive stateless stages fuse into one batch step.

Bytewax charges per step and per item, so documents travel in chunks and a run of
stateless stages costs one ``flat_map_batch``. Dead letters leave the main stream at
the step that produced them and end in one DLQ output.

A document belongs to the step holding it: stages may update the documents they receive in
place, so a step that keeps a document in its state emits a copy, never the document itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Callable

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream

from connectors.console import ConsoleSink
from connectors.dead_letters import DeadLetters, DeadLetterSink
from runtime.stats import FlowStats, WorkerBinding, counting_writers
from translator.dlq import WriterFactory
from translator.errors import UnsupportedFeatureError
from translator.plan import CHUNK, FILTER, MAP, SINK, SOURCE, STATELESS, StagePlan
from translator.segment import compile_segment, failure, generates

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


def segments(plans: list[StagePlan]) -> list[list[StagePlan]]:
    """Group plans: each run of stateless stages becomes one group, every other stage its own."""
    groups: list[list[StagePlan]] = []
    for plan in plans:
        if plan.role == STATELESS and groups and groups[-1][0].role == STATELESS:
            groups[-1].append(plan)
        else:
            groups.append([plan])
    return groups


def fused_step_id(group: list[StagePlan]) -> str:
    return "+".join(plan.stage.step_id for plan in group)


def _runner(plan: StagePlan) -> Callable[[list, DeadLetters], list]:
    """Run one stateless stage over a chunk; a document that fails goes to the dead letters.

    A ``try`` per document costs nothing until something raises (Python 3.11+), and it lets
    map stages update the documents they own in place: nothing is ever run twice.
    """
    fn, kind = plan.doc_fn, plan.kind
    if kind == CHUNK:
        return fn  # it handles its documents' failures itself
    record = failure(plan)

    def fail(doc: dict, exc: Exception, dead: DeadLetters) -> None:
        dead.append(record(doc, exc))

    if kind == FILTER:

        def run_filter(docs: list, dead: DeadLetters) -> list:
            kept = []
            for doc in docs:
                try:
                    if fn(doc):
                        kept.append(doc)
                except Exception as exc:  # one document's failure must not stop the stream
                    fail(doc, exc, dead)
            return kept

        return run_filter
    if kind == MAP:

        def run_map(docs: list, dead: DeadLetters) -> list:
            out = []
            append = out.append
            for doc in docs:
                try:
                    append(fn(doc))
                except Exception as exc:
                    fail(doc, exc, dead)
            return out

        return run_map

    def run_flat_map(docs: list, dead: DeadLetters) -> list:
        out = []
        for doc in docs:
            try:
                out.extend(fn(doc))
            except Exception as exc:
                fail(doc, exc, dead)
        return out

    return run_flat_map


def _counting(position: int, runner: Callable[[list, DeadLetters], list], stats: FlowStats) -> Callable[[list, DeadLetters], list]:
    """``runner``, counting per chunk the stage's documents in, out and dead-lettered, and its time;
    a chunk stage that holds state (``$cachedLookup``) says how much through ``state_bytes``."""
    clock = time.perf_counter
    state_bytes = getattr(runner, "state_bytes", None)

    def run_counted(docs: list, dead: DeadLetters) -> list:
        worker = stats.worker()
        failed = len(dead)
        started = clock()
        out = runner(docs, dead)
        worker.seconds[position] += clock() - started
        worker.into[position] += len(docs)
        worker.out[position] += len(out)
        if len(dead) != failed:
            worker.dead_letters(position, dead[failed:])
        if state_bytes is not None:
            worker.state[position] = state_bytes()
        return out

    return run_counted


def fuse(group: list[StagePlan], stats: FlowStats | None = None) -> Callable[[list], list]:
    """One batch function for a run of stateless stages: chunks in, chunks out (counted with ``stats``).

    One closure call per stage and document: the reference the differential tests hold
    ``translator.segment.compile_segment`` (which the dataflow's fused steps run) to, what
    window stages run their inner stages with, and what runs stages the generator leaves out.
    """
    runners = [_runner(plan) for plan in group]
    if stats is not None:
        runners = [_counting(plan.stage.index, runner, stats) for plan, runner in zip(group, runners)]

    def run_chunks(chunks: list) -> list:
        out = []
        for docs in chunks:
            dead = DeadLetters()
            for runner in runners:
                docs = runner(docs, dead)
                if not docs:
                    break
            if docs:
                out.append(docs)
            if dead:
                out.append(dead)
        return out

    return run_chunks


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
        if head.build is None:
            msg = f"stage {head.stage.index} ({head.stage.name}) is valid, but sluice cannot run it yet: {head.description}"
            raise UnsupportedFeatureError(msg)
        if head.role == SOURCE:
            stream = ctx.split_dead_letters(head.stage.step_id, head.build(ctx.flow, ctx))
        elif head.role == SINK:
            sink_ctx = ctx
            if ctx.stats is not None:  # the sink's own dead letters count for its stage
                sink_ctx = replace(ctx, dlq_writer_factory=counting_writers(ctx.dlq_writer_factory, ctx.stats, head.stage.index))
            head.build(ctx.tapped("sample_tap", stream, False), sink_ctx)
            sunk = True
        else:
            stream = head.build(stream, ctx)
    if not sunk:
        op.output("output", ctx.tapped("sample_tap", stream, False), ctx.output_sink or ConsoleSink())
    dead = ctx.dead_letters[0] if len(ctx.dead_letters) == 1 else op.merge("dead_letters", *ctx.dead_letters)
    dead_letter_sink = DeadLetterSink(ctx.dlq_writer_factory, ctx.processor_name)
    dead = ctx.tapped("sample_tap_dlq", dead, True)
    op.output(DLQ_STEP, dead, WorkerBinding(dead_letter_sink, ctx.stats) if ctx.stats is not None else dead_letter_sink)
    return ctx.flow
