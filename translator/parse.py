"""Pipeline files (Extended JSON) into typed :class:`Pipeline` and :class:`Stage` nodes.

A file holds an array of stages, or ``{"name", "pipeline", "options"}`` as given to
``sp.createStreamProcessor(name, pipeline, options)``.
https://www.mongodb.com/docs/atlas/atlas-stream-processing/manage-stream-processor/
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass, field
from typing import Any

from bson import json_util

from runtime import ejson
from translator.errors import PipelineSyntaxError, PipelineValidationError, Problem

DEFAULT_NAME = "sluice"
MAX_FILE_BYTES = 16 * 1024 * 1024  # Atlas's limit on a processor definition
# Levels of objects and arrays inside one stage (or ``options``): mongod refuses commands
# nested past 200 BSON levels; 150 leaves room for the wrapping and keeps compilation far
# from Python's recursion limit.
MAX_NESTING = 150
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
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

    @property
    def location(self) -> str:
        """How dead letters name the stage: ``"$addFields (stage 2)"``."""
        return f"{self.name} (stage {self.index})"


@dataclass(frozen=True)
class Pipeline:
    name: str
    stages: tuple
    options: dict = field(default_factory=dict)


def parse_pipeline(value: Any, name: str = DEFAULT_NAME) -> Pipeline:
    """Check the outer shape and split stages; stage bodies are checked by validation."""
    options: dict = {}
    for what, item in (("the processor definition", value), ("options", getattr(value, "get", dict().get)("options"))):
        if type(item) is _DuplicateKeys:
            msg = f"duplicate field {item.duplicate!r} in {what}"
            raise PipelineSyntaxError(msg)
    if type(value) is dict:
        unknown = set(value) - {"name", "pipeline", "options"}
        if unknown:
            msg = f"unknown field {sorted(unknown)[0]!r} in a processor definition: expected name, pipeline, options"
            raise PipelineSyntaxError(msg)
        name = value.get("name", name)
        options = value.get("options")
        options = {} if options is None else options
        if type(name) is not str or not name or type(options) is not dict:
            msg = "a processor definition needs a non-empty string 'name' and an object 'options'"
            raise PipelineSyntaxError(msg)
        value = value.get("pipeline")
    if type(value) is not list or not value:
        msg = "a pipeline must be a nonempty array of stages, or {name, pipeline, options}"
        raise PipelineSyntaxError(msg)
    stages = []
    seen: dict[str, int] = {}
    for index, body in enumerate(value):
        if type(body) is _DuplicateKeys:
            msg = f"stage {index}: duplicate field {body.duplicate!r}; a stage must be an object with exactly one field"
            raise PipelineSyntaxError(msg)
        if type(body) is not dict or len(body) != 1:
            msg = f"stage {index}: a stage must be an object with exactly one field, the stage name"
            raise PipelineSyntaxError(msg)
        ((stage_name, spec),) = body.items()
        stages.append(Stage(index, stage_name, spec, seen.get(stage_name, 0)))
        seen[stage_name] = seen.get(stage_name, 0) + 1
    located = [(stage.index, stage.name, (), _shape_problem(stage.spec)) for stage in stages]
    located.append((None, None, ("options",), _shape_problem(options)))
    problems = [Problem(index, name, ".".join((*prefix, *found[0])), found[1]) for index, name, prefix, found in located if found]
    if problems:
        raise PipelineValidationError(problems)
    return Pipeline(name, tuple(stages), options)


class _DuplicateKeys(dict):
    """An object whose JSON text names one field twice; refused, with its place, after parsing."""

    duplicate: str


def _shape_problem(value: Any) -> tuple[tuple, str] | None:
    """The first thing no stage may hold, found without recursion: nesting past MAX_NESTING, a
    field named twice, an integer out of the 64-bit range, a string that is not valid UTF-8.

    A fast walk that keeps no paths clears almost every pipeline (a ``documents`` source may
    hold a million documents); only a pipeline it refuses is walked again to locate the problem.
    """
    return None if _shape_is_sound(value) else _locate_shape_problem(value)


def _shape_is_sound(value: Any) -> bool:
    if not isinstance(value, (dict, list)):
        return _scalar_is_sound(value)
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if type(item) is _DuplicateKeys or depth > MAX_NESTING:
            return False
        for child in item.values() if isinstance(item, dict) else item:
            kind = type(child)
            if kind is dict or kind is list or kind is _DuplicateKeys:
                stack.append((child, depth + 1))
            elif (kind is int or kind is str) and not _scalar_is_sound(child):
                return False
    return True


def _scalar_is_sound(value: Any) -> bool:
    kind = type(value)
    if kind is int:
        return INT64_MIN <= value <= INT64_MAX
    if kind is str and not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
    return True


def _locate_shape_problem(value: Any) -> tuple[tuple, str] | None:
    stack = [(value, (), 1)]
    while stack:
        item, at, depth = stack.pop()
        kind = type(item)
        if kind is _DuplicateKeys:
            return at, f"duplicate field {item.duplicate!r}"
        if kind is dict or kind is list:
            if depth > MAX_NESTING:
                return at[:8] + ("...",), f"objects and arrays nested more than {MAX_NESTING} levels deep"
            pairs = item.items() if kind is dict else enumerate(item)
            stack.extend((child, (*at, str(key)), depth + 1) for key, child in pairs)
        elif kind is int and not INT64_MIN <= item <= INT64_MAX:
            return at, f"integer {item} is out of range for a 64-bit integer"
        elif kind is str and not item.isascii():
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return at, "string is not valid UTF-8 (it holds a lone surrogate escape)"
    return None


def _check_extended_json(pairs: list) -> None:
    """The Extended JSON forms json_util lets through although they are malformed."""
    key, value = pairs[0]
    if key == "$numberInt" and not (type(value) is str and value.lstrip("-").isdigit() and INT32_MIN <= int(value) <= INT32_MAX):
        msg = f"$numberInt must be a string holding a 32-bit integer; got {value!r}"
        raise ValueError(msg)
    if key == "$numberLong" and not (type(value) is str and value.lstrip("-").isdigit() and INT64_MIN <= int(value) <= INT64_MAX):
        msg = f"$numberLong must be a string holding a 64-bit integer; got {value!r}"
        raise ValueError(msg)
    if key == "$binary" and type(value) is dict:
        try:
            base64.b64decode(str(value.get("base64")), validate=True)
        except binascii.Error:
            msg = f"$binary.base64 is not valid base64: {value.get('base64')!r}"
            raise ValueError(msg) from None
    if key in ("$symbol", "$code") and type(value) is not str:
        msg = f"{key} must be a string; got {value!r}"
        raise ValueError(msg)
    if key == "$undefined" and value is not True:
        msg = f"$undefined must be true; got {value!r}"
        raise ValueError(msg)


def _pipeline_object(pairs: list) -> Any:
    """Extended JSON, except that ``{"$regex": ..., "$options": ...}`` stays the query operator
    it is in a pipeline (json_util would turn it into a Regex value and drop bad options).
    A field named twice is kept as a marker, so the error can say where it is."""
    if len({key for key, _ in pairs}) != len(pairs):
        seen: set = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))
        marked = _DuplicateKeys(pairs)
        marked.duplicate = duplicate
        return marked
    if pairs and pairs[0][0] == "$regex":
        return dict(pairs)
    if len(pairs) <= 2 and pairs and pairs[0][0].startswith("$"):
        _check_extended_json(pairs)
    return json_util.object_pairs_hook(pairs, ejson.RELAXED)


def _decode(data: bytes, path: str) -> str:
    if data[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff") or data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        msg = f"{path} is UTF-16 or UTF-32 text; pipeline files must be UTF-8"
        raise PipelineSyntaxError(msg)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        msg = f"{path} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); pipeline files must be UTF-8"
        raise PipelineSyntaxError(msg) from None


def load_pipeline(path: str) -> Pipeline:
    """Read and parse a pipeline file; the processor is named after the file unless it says."""
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        msg = f"cannot read pipeline file {path}: {exc.strerror}"
        raise PipelineSyntaxError(msg) from None
    if len(data) > MAX_FILE_BYTES:
        msg = f"{path} is larger than 16 MiB, the limit on a processor definition"
        raise PipelineSyntaxError(msg)
    text = _decode(data, path)
    try:
        value = json.loads(text, object_pairs_hook=_pipeline_object)
    except RecursionError:
        msg = f"{path}: objects and arrays nested more than {MAX_NESTING} levels deep"
        raise PipelineSyntaxError(msg) from None
    except Exception as exc:  # json_util raises several types for bad input
        msg = f"{path} is not valid Extended JSON: {exc}"
        raise PipelineSyntaxError(msg) from None
    return parse_pipeline(value, os.path.splitext(os.path.basename(path))[0])
