"""A window's inner ``pipeline``: ``$group``, then window-wide ``$sort``/``$limit``/``$count``.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-tumbling/#syntax

Per-document stages (``$match``, ``$project``, ``$unwind``, ...) are compiled by the
translator's core through ``compile_stages``; the window-wide stages see a whole window.
"""

from __future__ import annotations

from typing import Any, Callable

from connectors.dead_letters import DeadLetters
from translator._types import Path
from translator.errors import SpecError
from translator.windows.accumulators import compile_sort_by
from translator.windows.group import Group
from translator.windows.watermark import STREAM_META

ChunkFn = Callable[[list], list]  # one window's documents → documents
ChunksFn = Callable[[list], list]  # chunks → chunks and DeadLetters, like the core's fused steps
StagesCompiler = Callable[[list], ChunksFn]  # [(index, stage), ...] of per-document stages → one ChunksFn


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

    Stages before ``$group`` run as documents arrive; without a ``$group`` the window keeps
    the documents themselves, as nothing smaller could stand for them. Documents a stage
    rejects land in ``dead``.
    """

    def __init__(self, before: ChunksFn | None, group: Group | None, after: list[ChunksFn]) -> None:
        self.before = before
        self.group = group
        self.after = after

    def admit(self, docs: list, dead: DeadLetters) -> list:
        return docs if self.before is None else _run(self.before, docs, dead)

    def add(self, state: dict, docs: list) -> list[tuple[dict, str]]:
        """Fold admitted documents into one window's state; returns failures."""
        if self.group is not None:
            return self.group.add_documents(state, docs)
        state.setdefault(None, []).extend(docs)
        return []

    def merge(self, into: dict, other: dict) -> dict:
        if self.group is not None:
            return self.group.merge(into, other)
        into.setdefault(None, []).extend(other.get(None, []))
        return into

    def close(self, state: dict, window: dict, dead: DeadLetters) -> list:
        """The window's output documents, each carrying ``_stream_meta.window``."""
        docs = self.group.results(state) if self.group is not None else state.get(None, [])
        for doc in docs:
            meta = doc.get(STREAM_META)
            doc[STREAM_META] = {**meta, "window": window} if type(meta) is dict else {"window": window}
        for stage in self.after:
            if not docs:
                break
            docs = _run(stage, docs, dead)
        return docs


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


def compile_inner_pipeline(pipeline: list, compile_stages: StagesCompiler | None, at: Path = ("pipeline",)) -> InnerPipeline:
    """Split the stages around ``$group``; runs of per-document stages compile together.

    Without a ``$group`` every stage runs when the window closes, over its documents.
    """
    group_at = [i for i, stage in enumerate(pipeline) if type(stage) is dict and "$group" in stage]
    if len(group_at) > 1:
        msg = "a window pipeline may hold one $group"
        raise SpecError(msg, (*at, str(group_at[1])))
    split = group_at[0] if group_at else 0
    group = None
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
            after.append(_window_wide(WINDOW_WIDE[name](spec, (*where, name))))
        else:
            run.append((i, stage))
    end_run()
    return InnerPipeline(before[0] if before else None, group, after)
