"""Runs of stateless stages fused into one function over chunks, with no Bytewax in sight.

The dataflow's fused steps run the generated ``translator.segment`` code; ``fuse`` here is
the reference the differential tests hold it to, what window stages run their inner stages
with, and what runs the stages the generator leaves out.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable

from runtime.dead_letters import DeadLetters
from translator.plan import CHUNK, FILTER, MAP, STATELESS, StagePlan
from translator.segment import failure

if TYPE_CHECKING:  # the stats sink side needs Bytewax; planning must not load it
    from runtime.stats import FlowStats


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
