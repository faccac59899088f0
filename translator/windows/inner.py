"""A window's inner ``pipeline``: ``$group``, then window-wide ``$sort``/``$limit``/``$count``.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-tumbling/#syntax

Per-document stages (``$match``, ``$project``, ``$unwind``, ...) are compiled by the
translator's core through ``compile_stages``; the window-wide stages see a whole window.
"""

from __future__ import annotations

from typing import Any, Callable

from runtime.dead_letters import DeadLetters, dead_letter
from runtime.stream_meta import STREAM_META
from translator._types import Path
from translator.errors import SpecError
from translator.plan import FILTER
from translator.windows.accumulators import compile_sort_by
from translator.windows.group import Group

ChunkFn = Callable[[list], list]  # one window's documents → documents
ChunksFn = Callable[[list], list]  # chunks → chunks and DeadLetters, like the core's fused steps
StagesCompiler = Callable[[list], Any]  # [(index, stage), ...] of per-document stages → one ChunksFn, or their StagePlans


def compile_sort(spec: Any, at: Path) -> ChunkFn:
    sort_key = compile_sort_by(spec, at)

    def sort(docs: list) -> list:
        return sorted(docs, key=sort_key)

    return sort


def compile_limit(spec: Any, at: Path) -> ChunkFn:
    if type(spec) is not int or spec < 1:
        msg = f"$limit must be a positive integer; got {spec!r}"
        raise SpecError(msg, at)

    def limit(docs: list) -> list:
        return docs[:spec]

    return limit


def compile_count(spec: Any, at: Path) -> ChunkFn:
    if type(spec) is not str or not spec or spec.startswith("$") or "." in spec:
        msg = f"$count takes a non-empty field name without '$' or '.'; got {spec!r}"
        raise SpecError(msg, at)

    def count(docs: list) -> list:
        if not docs:
            return []
        out = {spec: len(docs)}
        if STREAM_META in docs[0]:  # the count still belongs to its window
            out[STREAM_META] = docs[0][STREAM_META]
        return [out]

    return count


WINDOW_WIDE = {"$sort": compile_sort, "$limit": compile_limit, "$count": compile_count}


class InnerPipeline:
    """Per-document stages, then ``$group`` (or none), then the rest.

    As in Atlas, a document carries ``_stream_meta.window`` from the moment it is assigned to
    a window, so ``$group`` may key on the window's start; the copies that takes are made only
    when the pipeline reads stream metadata. Without a ``$group`` the window keeps the
    documents themselves, as nothing smaller could stand for them.
    """

    def __init__(self, before: Any, group: Group | None, after: list, reads_meta: bool, window_wide_at: int | None = None) -> None:
        self.before = before  # ChunksFn, or the run's StagePlans until ``fused``
        self.group = group
        self.after = after  # ChunksFns, or StagePlans for runs of per-document stages until ``fused``
        self.reads_meta = reads_meta
        self.window_wide_at = window_wide_at  # where in ``after`` the first $sort, $limit or $count is: it sees all groups

    def fused(self, fuse: Callable[[list], ChunksFn]) -> InnerPipeline:
        """This pipeline with its planned runs of per-document stages fused into functions (at build)."""

        def run(part: Any) -> Any:
            return fuse(list(part)) if type(part) is tuple else part

        before = run(self.before) if self.before is not None else None
        return InnerPipeline(before, self.group, [run(part) for part in self.after], self.reads_meta, self.window_wide_at)

    def split_at_window_wide(self) -> tuple[InnerPipeline, list]:
        """The part each shard runs (up to the first window-wide stage) and the stages that need
        every shard's groups of a window, which a combine step runs."""
        at = self.window_wide_at
        return InnerPipeline(self.before, self.group, self.after[:at], self.reads_meta), self.after[at:]

    def finish(self, docs: list, dead: DeadLetters) -> list:
        """Run ``after`` over a window's documents (the combine step's share of the work)."""
        for stage in self.after:
            if not docs:
                break
            docs = _run(stage, docs, dead)
        return docs

    def before_group_filters_only(self) -> bool:
        """Whether the stages before ``$group`` only drop documents, so a document's group key
        can be read before them (the stage spreads its state by that key)."""
        return self.before is None or (type(self.before) is tuple and all(plan.kind == FILTER for plan in self.before))

    def add(self, state: dict, docs: list, window: dict, dead: DeadLetters) -> None:
        """Fold documents assigned to one window into its state; failures go to ``dead``."""
        if self.reads_meta:
            docs = [{**doc, STREAM_META: _with_window(doc.get(STREAM_META), window)} for doc in docs]
        if self.before is not None:
            docs = _run(self.before, docs, dead)
        if self.group is None:
            state.setdefault(None, []).extend(docs)
            return
        for doc, reason in self.group.add_documents(state, docs):
            dead.append(dead_letter(doc, reason))

    def merge(self, into: dict, other: dict) -> dict:
        if self.group is not None:
            return self.group.merge(into, other)
        into.setdefault(None, []).extend(other.get(None, []))
        return into

    def close(self, state: dict, window: dict, source: dict | None, dead: DeadLetters) -> list:
        """The window's output documents, each carrying ``_stream_meta.window``.

        ``$group`` results carry the source's type too, as Atlas's do.
        """
        if self.group is not None:
            meta = {"source": source, "window": window} if source else {"window": window}
            docs = self.group.results(state)
            for doc in docs:
                doc[STREAM_META] = meta
        else:  # the documents themselves: copies, as stages never mutate their input
            docs = [{**doc, STREAM_META: _with_window(doc.get(STREAM_META), window)} for doc in state.get(None, [])]
        return self.finish(docs, dead)


def reads_stream_meta(spec: Any) -> bool:
    """Whether a pipeline can see ``_stream_meta``: a ``$meta``, a path into it, or the whole document."""
    if type(spec) is str:
        return spec.startswith(("$_stream_meta", "$$ROOT", "$$CURRENT"))
    if type(spec) is dict:
        return "$meta" in spec or any(reads_stream_meta(value) for value in spec.values())
    if type(spec) is list:
        return any(reads_stream_meta(value) for value in spec)
    return False


def _with_window(meta: Any, window: dict) -> dict:
    return {**meta, "window": window} if type(meta) is dict else {"window": window}


def _run(stage: ChunksFn, docs: list, dead: DeadLetters) -> list:
    out: list = []
    for chunk in stage([docs]):
        if type(chunk) is DeadLetters:
            dead.extend(chunk)
        else:
            out.extend(chunk)
    return out


def _window_wide(fn: ChunkFn) -> ChunksFn:
    return lambda chunks: [fn(docs) for docs in chunks]


def compile_inner_pipeline(pipeline: list, compile_stages: StagesCompiler | None) -> InnerPipeline:
    """Split the stages around ``$group``; runs of per-document stages compile together.

    Without a ``$group`` every stage runs when the window closes, over its documents.
    """
    at: Path = ("pipeline",)
    group_at = [i for i, stage in enumerate(pipeline) if type(stage) is dict and "$group" in stage]
    if len(group_at) > 1:
        msg = "a window pipeline may hold one $group"
        raise SpecError(msg, (*at, str(group_at[1])))
    split = group_at[0] if group_at else 0
    group = None
    window_wide_at = None
    before: list[ChunksFn] = []
    after: list[ChunksFn] = []
    run: list[tuple[int, dict]] = []  # consecutive per-document stages

    def end_run() -> None:
        if run:
            if compile_stages is None:
                msg = f"{next(iter(run[0][1]))} is not supported inside a window pipeline here"
                raise SpecError(msg, (*at, str(run[0][0])))
            (before if run[0][0] < split else after).append(compile_stages(list(run)))
            run.clear()

    for i, stage in enumerate(pipeline):
        where = (*at, str(i))
        if type(stage) is not dict or len(stage) != 1:
            msg = "a stage must be an object with exactly one field, the stage name"
            raise SpecError(msg, where)
        ((name, spec),) = stage.items()
        if name == "$group" or name in WINDOW_WIDE:
            end_run()
        if name == "$group":
            group = Group(spec, (*where, name))
        elif name in WINDOW_WIDE:
            if i < split:
                msg = f"{name} sees a whole window, so it must come after $group"
                raise SpecError(msg, (*where, name))
            if window_wide_at is None:
                window_wide_at = len(after)
            after.append(_window_wide(WINDOW_WIDE[name](spec, (*where, name))))
        else:
            run.append((i, stage))
    end_run()
    return InnerPipeline(before[0] if before else None, group, after, reads_stream_meta(pipeline[: split + 1]), window_wide_at)
