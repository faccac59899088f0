"""Pipeline files (Extended JSON) into typed :class:`Pipeline` and :class:`Stage` nodes.

A file holds an array of stages, or ``{"name", "pipeline", "options"}`` as given to
``sp.createStreamProcessor(name, pipeline, options)``.
https://www.mongodb.com/docs/atlas/atlas-stream-processing/manage-stream-processor/
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from bson import json_util

from connectors import ejson
from translator.errors import PipelineSyntaxError

DEFAULT_NAME = "sluice"
# Stages whose Bytewax steps keep state in checkpoints (contract C4: stable step ids).
STATEFUL_STAGES = frozenset({"$tumblingWindow", "$hoppingWindow", "$sessionWindow", "$setWindowFields"})


@dataclass(frozen=True)
class Stage:
    """One stage: its position, its name (``"$match"``), its body, untouched, and its ordinal
    among the pipeline's stages of the same name."""

    index: int
    name: str
    spec: Any
    ordinal: int = 0

    @property
    def step_id(self) -> str:
        """Bytewax step ids lead straight back to the stage: ``"01_match"``.

        A stateful stage is named by kind and ordinal instead (``"tumblingWindow_0"``), so its
        checkpointed state survives stateless stages added or removed before it.
        """
        if self.name in STATEFUL_STAGES:
            return f"{self.name.lstrip('$')}_{self.ordinal}"
        return f"{self.index:02d}_{self.name.lstrip('$')}"


@dataclass(frozen=True)
class Pipeline:
    name: str
    stages: tuple
    options: dict = field(default_factory=dict)


def parse_pipeline(value: Any, name: str = DEFAULT_NAME) -> Pipeline:
    """Check the outer shape and split stages; stage bodies are checked by validation."""
    options: dict = {}
    if type(value) is dict:
        unknown = set(value) - {"name", "pipeline", "options"}
        if unknown:
            msg = f"unknown field {sorted(unknown)[0]!r} in a processor definition: expected name, pipeline, options"
            raise PipelineSyntaxError(msg)
        name = value.get("name", name)
        options = value.get("options") or {}
        if type(name) is not str or type(options) is not dict:
            msg = "a processor definition needs a string 'name' and an object 'options'"
            raise PipelineSyntaxError(msg)
        value = value.get("pipeline")
    if type(value) is not list or not value:
        msg = "a pipeline must be a nonempty array of stages, or {name, pipeline, options}"
        raise PipelineSyntaxError(msg)
    stages = []
    seen: dict[str, int] = {}
    for index, body in enumerate(value):
        if type(body) is not dict or len(body) != 1:
            msg = f"stage {index}: a stage must be an object with exactly one field, the stage name"
            raise PipelineSyntaxError(msg)
        ((stage_name, spec),) = body.items()
        stages.append(Stage(index, stage_name, spec, seen.get(stage_name, 0)))
        seen[stage_name] = seen.get(stage_name, 0) + 1
    return Pipeline(name, tuple(stages), options)


def _pipeline_object(pairs: list) -> Any:
    """Extended JSON, except that ``{"$regex": ..., "$options": ...}`` stays the query operator
    it is in a pipeline (json_util would turn it into a Regex value and drop bad options)."""
    if pairs and pairs[0][0] == "$regex":
        return dict(pairs)
    return json_util.object_pairs_hook(pairs, ejson.RELAXED)


def load_pipeline(path: str) -> Pipeline:
    """Read and parse a pipeline file; the processor is named after the file unless it says."""
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except OSError as exc:
        msg = f"cannot read pipeline file {path}: {exc.strerror}"
        raise PipelineSyntaxError(msg) from None
    try:
        value = json.loads(text, object_pairs_hook=_pipeline_object)
    except Exception as exc:  # json_util raises several types for bad input
        msg = f"{path} is not valid Extended JSON: {exc}"
        raise PipelineSyntaxError(msg) from None
    return parse_pipeline(value, os.path.splitext(os.path.basename(path))[0])
