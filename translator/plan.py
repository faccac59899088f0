"""The validated plan: what each stage became, ready to be wired into a Bytewax dataflow."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Callable

from translator.errors import SpecError
from translator.parse import Stage

SOURCE, STATELESS, OPERATOR, SINK = "source", "stateless", "operator", "sink"
FILTER, MAP, FLAT_MAP = "filter", "map", "flat_map"
CHUNK = "chunk"  # doc_fn(docs, dead) -> docs: the stage takes a whole chunk (one query per chunk)


@dataclass(frozen=True)
class StagePlan:
    """One stage, compiled.

    A stateless stage carries ``doc_fn`` (a predicate, a doc→doc map, a doc→list flat map,
    or a chunk function, as ``kind`` says) and is fused with its neighbours into one batch step.
    Every other stage carries ``spec``, a frozen dataclass describing it (options checked and
    normalised, expressions compiled; no Bytewax, no connector), which the builder registered
    for its type in :mod:`translator.builders` turns into Bytewax steps.
    """

    stage: Stage
    role: str
    description: str
    kind: str | None = None
    doc_fn: Callable | None = None
    spec: Any = None  # a frozen description of a source, operator or sink, built by translator.builders
    steps: tuple = field(default=())  # names of the Bytewax steps it becomes, for `translate`


@dataclass(frozen=True)
class SourceTime:
    """What a source tells the stateful stages after it about event time."""

    ts_field_name: str = "_ts"  # where each document's event time is
    idle_timeout: timedelta | None = None  # a source partition silent this long stops holding the watermark
    finite: bool = False  # the source ends (inline documents): open state closes at its end


@dataclass
class PlanContext:
    """What planning may consult: the connection registry, if one was given."""

    registry: Any = None  # translator.connections.Registry or None (validate without one)
    processor_name: str = "sluice"
    last_stage: int | None = None  # the pipeline's last stage index: $https there is a sink
    source_time: SourceTime = SourceTime()  # the planned source's time (validate sets it)
    plan_stage: Callable[[Stage, PlanContext], StagePlan] | None = None  # how a window plans its inner stages
    start_at: Any = None  # datetime: where a change stream with no checkpoint and no start option begins

    def connection(self, name: str | None, kind: str, at: tuple, why: str) -> dict | None:
        """The connection a stage names (or the default), which must be of ``kind``; ``why``
        ends the message when it is not. None when planning without a registry."""
        if self.registry is None:
            return None
        name, found = self.registry.resolve(name, at)
        if found["type"] != kind:
            msg = f"connection {name!r} is of type {found['type']}, {why}"
            raise SpecError(msg, at)
        return found
