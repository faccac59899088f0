"""Miscellaneous and data-size expression operators, with Atlas Stream Processing's additions.

``$meta`` reads stream metadata, ``$currentDate`` and ``$createUUID`` are Atlas-only, the rest
follow mongod.
https://www.mongodb.com/docs/manual/reference/operator/aggregation/#miscellaneous-operators
https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-meta/
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timezone
from typing import Any

import bson
from bson import Binary

from translator._bson_types import bson_type_name
from translator._types import MISSING
from translator.errors import ExpressionError, SpecError
from translator.expressions.compile import expression_operator, get_path, operands

STREAM_META_FIELD = "_stream_meta"


@expression_operator("$meta")
def compile_meta(args: Any, at: tuple, scope: Any):
    if type(args) is not str or not (args == "stream" or args.startswith("stream.")):
        msg = f'$meta expects "stream" or "stream.<path>"; got {args!r}'
        raise SpecError(msg, at)
    parts = (STREAM_META_FIELD, *args.split(".")[1:])
    return lambda doc, vars: get_path(doc, parts)


def _no_arguments(name: str, args: Any, at: tuple) -> None:
    """Operators spelled ``{name: {}}``: anything inside the object is refused."""
    if type(args) is not dict or args:
        msg = f"{name} takes no arguments: write {{{name}: {{}}}}; got {args!r}"
        raise SpecError(msg, at)


@expression_operator("$rand")
def compile_rand(args: Any, at: tuple, scope: Any):
    if type(args) is not dict or args:
        msg = "$rand does not currently accept arguments"
        raise SpecError(msg, at)
    uniform = random.random  # a double in [0, 1), as mongod's
    return lambda doc, vars: uniform()


@expression_operator("$currentDate")
def compile_current_date(args: Any, at: tuple, scope: Any):
    """Atlas's wall clock, read at every evaluation, at BSON's millisecond precision."""
    _no_arguments("$currentDate", args, at)

    def current_date(doc: dict, vars: Any) -> datetime:
        now = datetime.now(timezone.utc)
        return now.replace(microsecond=now.microsecond - now.microsecond % 1000)

    return current_date


@expression_operator("$createUUID")
def compile_create_uuid(args: Any, at: tuple, scope: Any):
    """Atlas's random UUID (version 4) as BinData subtype 4."""
    _no_arguments("$createUUID", args, at)
    return lambda doc, vars: Binary(uuid.uuid4().bytes, bson.UUID_SUBTYPE)


@expression_operator("$binarySize")
def compile_binary_size(args: Any, at: tuple, scope: Any):
    (fn,) = operands("$binarySize", args, at, scope, 1, 1)

    def binary_size(doc: dict, vars: Any) -> Any:
        value = fn(doc, vars)
        if type(value) is str:
            return len(value.encode("utf-8", "surrogatepass"))
        if isinstance(value, bytes):  # Binary is a bytes subclass
            return len(value)
        if value is None or value is MISSING:
            return None
        msg = f"$binarySize requires a string or BinData argument, found: {bson_type_name(value)}"
        raise ExpressionError(msg)

    return binary_size


@expression_operator("$bsonSize")
def compile_bson_size(args: Any, at: tuple, scope: Any):
    (fn,) = operands("$bsonSize", args, at, scope, 1, 1)

    def bson_size(doc: dict, vars: Any) -> Any:
        value = fn(doc, vars)
        if type(value) is dict:
            try:
                return len(bson.encode(value))
            except (bson.errors.InvalidDocument, OverflowError) as error:
                msg = f"$bsonSize could not encode the document: {error}"
                raise ExpressionError(msg) from None
        if value is None or value is MISSING:
            return None
        msg = f"$bsonSize requires a document input, found: {bson_type_name(value)}"
        raise ExpressionError(msg)

    return bson_size
