"""Plans into a Bytewax dataflow: consecutive stateless stages fuse into one batch step.

Bytewax charges per step and per item, so documents travel in chunks and a run of
stateless stages costs one ``flat_map_batch``. Dead letters leave the main stream at
the step that produced them and end in one DLQ output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream

from connectors.console import ConsoleSink
from connectors.dead_letters import DeadLetters, DeadLetterSink, dead_letter
from translator.dlq import WriterFactory
from translator.errors import ExpressionError, UnsupportedFeatureError
from translator.plan import FILTER, MAP, SINK, SOURCE, STATELESS, StagePlan

DLQ_STEP = "dlq"


@dataclass
class BuildContext:
    """What stage builders share while wiring one dataflow."""

    flow: Dataflow
    processor_name: str
    registry: Any
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


def _describe(exc: Exception) -> str:
    return str(exc) if isinstance(exc, ExpressionError) else f"{type(exc).__name__}: {exc}"


def _runner(plan: StagePlan) -> Callable[[list, DeadLetters], list]:
    """Run one stateless stage over a chunk: a comprehension, or per document once one fails."""
    fn, kind = plan.doc_fn, plan.kind
    where = f"{plan.stage.name} (stage {plan.stage.index})"
    if kind == FILTER:
        fast: Callable[[list], list] = lambda docs: [doc for doc in docs if fn(doc)]
    elif kind == MAP:
        fast = lambda docs: [fn(doc) for doc in docs]
    else:
        fast = lambda docs: [out for doc in docs for out in fn(doc)]

    def one_by_one(docs: list, dead: DeadLetters) -> list:
        kept: list = []
        for doc in docs:
            try:
                result = fn(doc)
            except Exception as exc:  # one document's failure must not stop the stream
                dead.append(dead_letter(doc, f"{where}: {_describe(exc)}"))
                continue
            if kind == FILTER:
                if result:
                    kept.append(doc)
            elif kind == MAP:
                kept.append(result)
            else:
                kept.extend(result)
        return kept

    def run(docs: list, dead: DeadLetters) -> list:
        try:
            return fast(docs)
        except Exception:  # stage functions are pure, so the chunk can be redone one by one
            return one_by_one(docs, dead)

    return run


def _filter_then_map(first: Callable, second: Callable, predicate: Callable, mapper: Callable) -> Callable:
    """``$match`` then a map in one comprehension; on a failure, the two runners one by one."""

    def run(docs: list, dead: DeadLetters) -> list:
        try:
            return [mapper(doc) for doc in docs if predicate(doc)]
        except Exception:  # pure stage functions: redoing the chunk is safe
            return second(first(docs, dead), dead)

    return run


def _runners(group: list[StagePlan]) -> list[Callable[[list, DeadLetters], list]]:
    runners = []
    i = 0
    while i < len(group):
        plan = group[i]
        after = group[i + 1] if i + 1 < len(group) else None
        if plan.kind == FILTER and after is not None and after.kind == MAP:
            runners.append(_filter_then_map(_runner(plan), _runner(after), plan.doc_fn, after.doc_fn))
            i += 2
        else:
            runners.append(_runner(plan))
            i += 1
    return runners


def fuse(group: list[StagePlan]) -> Callable[[list], list]:
    """One batch function for a run of stateless stages: chunks in, chunks out."""
    runners = _runners(group)

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
            stream = ctx.split_dead_letters(step_id, op.flat_map_batch(step_id, stream, fuse(group)))
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
