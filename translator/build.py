"""Plans into a Bytewax dataflow: consecutive stateless stages fuse into one batch step.

Bytewax charges per step and per item, so documents travel in chunks and a run of
stateless stages costs one ``flat_map_batch``. Dead letters leave the main stream at
the step that produced them and end in one DLQ output.

A document belongs to the step holding it: stages may update the documents they receive in
place, so a step that keeps a document in its state emits a copy, never the document itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream

from connectors.console import ConsoleSink
from connectors.dead_letters import DeadLetters, DeadLetterSink
from translator.dlq import WriterFactory
from translator.errors import UnsupportedFeatureError
from translator.plan import FILTER, MAP, SINK, SOURCE, STATELESS, StagePlan
from translator.segment import compile_segment, failure

DLQ_STEP = "dlq"


@dataclass
class BuildContext:
    """What stage builders share while wiring one dataflow."""

    flow: Dataflow
    processor_name: str
    dlq_writer_factory: WriterFactory
    output_sink: Any = None  # where documents go when the pipeline has no sink (default: stdout)
    dead_letters: list = field(default_factory=list)

    def split_dead_letters(self, step_id: str, up: Stream) -> Stream:
        """Route DeadLetters chunks of ``up`` to the DLQ; return the document chunks."""
        branch = op.branch(f"{step_id}_dead_letters", up, lambda chunk: type(chunk) is DeadLetters)
        self.dead_letters.append(branch.trues)
        return branch.falses


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


def fuse(group: list[StagePlan]) -> Callable[[list], list]:
    """One batch function for a run of stateless stages: chunks in, chunks out.

    One closure call per stage and document: the reference the differential tests hold
    ``translator.segment.compile_segment`` (which the dataflow's fused steps run) to, and what
    window stages run their inner stages with.
    """
    runners = [_runner(plan) for plan in group]

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
            stream = ctx.split_dead_letters(step_id, op.flat_map_batch(step_id, stream, compile_segment(group)))
            continue
        if head.build is None:
            msg = f"stage {head.stage.index} ({head.stage.name}) is valid, but sluice cannot run it yet: {head.description}"
            raise UnsupportedFeatureError(msg)
        if head.role == SOURCE:
            stream = ctx.split_dead_letters(head.stage.step_id, head.build(ctx.flow, ctx))
        elif head.role == SINK:
            head.build(stream, ctx)
            sunk = True
        else:
            stream = head.build(stream, ctx)
    if not sunk:
        op.output("output", stream, ctx.output_sink or ConsoleSink())
    dead = ctx.dead_letters[0] if len(ctx.dead_letters) == 1 else op.merge("dead_letters", *ctx.dead_letters)
    op.output(DLQ_STEP, dead, DeadLetterSink(ctx.dlq_writer_factory, ctx.processor_name))
    return ctx.flow
