"""``$setStreamMeta``: set ``stream.*`` metadata, read later with ``{$meta: "stream.<key>"}``
(e.g. to choose a ``$merge`` collection), without touching the document's own fields.

A failing expression sends the document to the DLQ, as Atlas does.
https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-setstreammeta/
"""

from __future__ import annotations

from typing import Any, Callable

from runtime.stream_meta import STREAM_META
from translator._types import MISSING, NO_VARS
from translator.errors import SpecError
from translator.expressions import compile_expression
from translator.parse import Stage
from translator.plan import MAP, STATELESS, PlanContext, StagePlan
from translator.stages._registry import stage_planner

PREFIX = "stream."


def _metadata_path(key: str) -> tuple[str, ...]:
    parts = tuple(key[len(PREFIX) :].split(".")) if key.startswith(PREFIX) else ()
    if not parts or any(part == "" or part.startswith("$") for part in parts):
        msg = f'a $setStreamMeta key must be "stream.<field>" (dotted fields allowed); got {key!r}'
        raise SpecError(msg, (key,))
    return parts


def _with_value(meta: dict, parts: tuple, value: Any) -> dict:
    """A copy of ``meta`` with ``parts`` set: sources share one metadata object per chunk."""
    head, rest = parts[0], parts[1:]
    copy = dict(meta)
    if rest:
        inner = meta.get(head)
        copy[head] = _with_value(inner if type(inner) is dict else {}, rest, value)
    elif value is MISSING:
        copy.pop(head, None)
    else:
        copy[head] = value
    return copy


def compile_set_stream_meta(spec: dict) -> Callable[[dict], dict]:
    if not spec:
        msg = '$setStreamMeta needs at least one "stream.<field>": <expression>'
        raise SpecError(msg)
    fields = [(_metadata_path(key), compile_expression(expression, (key,))) for key, expression in spec.items()]

    def set_stream_meta(doc: dict) -> dict:
        values = [(parts, fn(doc, NO_VARS)) for parts, fn in fields]  # all read the incoming metadata
        meta = doc.get(STREAM_META)
        meta = meta if type(meta) is dict else {}
        for parts, value in values:
            meta = _with_value(meta, parts, value)
        doc[STREAM_META] = meta
        return doc

    return set_stream_meta


@stage_planner("$setStreamMeta")
def plan_set_stream_meta(stage: Stage, ctx: PlanContext) -> StagePlan:
    return StagePlan(stage, STATELESS, "set stream metadata", kind=MAP, doc_fn=compile_set_stream_meta(stage.spec))
