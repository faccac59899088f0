"""``$unwind``: one output document per element of an array field.

https://www.mongodb.com/docs/manual/reference/operator/aggregation/unwind/
"""

from __future__ import annotations

from typing import Any

from translator._types import MISSING
from translator.errors import SpecError
from translator.parse import Stage
from translator.plan import FLAT_MAP, STATELESS, PlanContext, StagePlan
from translator.stages._registry import stage_planner


def _field_path(value: Any, at: tuple, what: str) -> tuple:
    if type(value) is not str or not value.startswith("$") or value.startswith("$$") or len(value) < 2:
        msg = f"{what} must be a field path starting with '$'; got {value!r}"
        raise SpecError(msg, at)
    return tuple(value[1:].split("."))


def _get(doc: dict, parts: tuple) -> Any:
    for part in parts:
        if type(doc) is not dict:
            return MISSING
        doc = doc.get(part, MISSING)
    return doc


def _with(doc: dict, parts: tuple, value: Any) -> dict:
    """A copy of ``doc`` with ``parts`` set to ``value``, copying only the dicts on the path."""
    out = dict(doc)
    if len(parts) == 1:
        out[parts[0]] = value
    else:
        inner = out.get(parts[0])
        out[parts[0]] = _with(inner if type(inner) is dict else {}, parts[1:], value)
    return out


def _without(doc: dict, parts: tuple) -> dict:
    """A copy of ``doc`` without the field at ``parts``."""
    out = dict(doc)
    if len(parts) == 1:
        out.pop(parts[0], None)
    elif type(out.get(parts[0])) is dict:
        out[parts[0]] = _without(out[parts[0]], parts[1:])
    return out


@stage_planner("$unwind")
def plan_unwind(stage: Stage, ctx: PlanContext) -> StagePlan:
    spec = stage.spec
    if type(spec) is str:
        spec = {"path": spec}
    if type(spec) is not dict or "path" not in spec:
        msg = "$unwind expects a field path or {path, includeArrayIndex, preserveNullAndEmptyArrays}"
        raise SpecError(msg)
    unknown = set(spec) - {"path", "includeArrayIndex", "preserveNullAndEmptyArrays"}
    if unknown:
        msg = f"unknown field {sorted(unknown)[0]!r}"
        raise SpecError(msg, (sorted(unknown)[0],))
    parts = _field_path(spec["path"], ("path",), "path")
    index_field = spec.get("includeArrayIndex")
    if index_field is not None and (type(index_field) is not str or not index_field or index_field.startswith("$")):
        msg = "includeArrayIndex must be a field name not starting with '$'"
        raise SpecError(msg, ("includeArrayIndex",))
    index_parts = tuple(index_field.split(".")) if index_field else None
    preserve = spec.get("preserveNullAndEmptyArrays", False)
    if type(preserve) is not bool:
        msg = "preserveNullAndEmptyArrays must be a boolean"
        raise SpecError(msg, ("preserveNullAndEmptyArrays",))

    def unwind(doc: dict) -> list:
        value = _get(doc, parts)
        if type(value) is list and value:
            if index_parts is None:
                return [_with(doc, parts, element) for element in value]
            return [_with(_with(doc, parts, element), index_parts, i) for i, element in enumerate(value)]
        if type(value) is not list and value is not None and value is not MISSING:
            return [doc if index_parts is None else _with(doc, index_parts, None)]
        if not preserve:
            return []
        kept = _without(doc, parts) if type(value) is list else doc  # [] unwinds to a missing field
        return [kept if index_parts is None else _with(kept, index_parts, None)]

    return StagePlan(stage, STATELESS, f"one document per element of {spec['path']}", kind=FLAT_MAP, doc_fn=unwind)
