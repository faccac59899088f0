"""Object expression operators, with ``$arrayToObject`` and ``$objectToArray``.

https://www.mongodb.com/docs/manual/reference/operator/aggregation/#object-expression-operators
"""

from __future__ import annotations

from typing import Any

from translator._bson_types import bson_type_name
from translator._types import MISSING, is_nullish
from translator.errors import ExpressionError, SpecError
from translator.expressions.array import describe
from translator.expressions.compile import (
    ROOT_SCOPE,
    compile_expression,
    constant,
    expression_operator,
    is_constant,
    named_arguments,
    operands,
)


def _merge_into(out: dict, value: Any) -> None:
    if type(value) is dict:
        out.update(value)
    elif not is_nullish(value):
        msg = f"$mergeObjects requires object inputs, but input {describe(value)} is of type {bson_type_name(value)}"
        raise ExpressionError(msg)


@expression_operator("$mergeObjects")
def compile_merge_objects(args: Any, at: tuple, scope: Any):
    fns = operands("$mergeObjects", args, at, scope)
    if len(fns) == 1:
        (fn,) = fns

        # One argument may be an array of documents, merged in order (as the accumulator does).
        def merge_one(doc: dict, vars: Any) -> dict:
            value = fn(doc, vars)
            out: dict = {}
            for item in value if type(value) is list else (value,):
                _merge_into(out, item)
            return out

        return merge_one

    def merge_objects(doc: dict, vars: Any) -> dict:
        out: dict = {}
        for fn in fns:
            _merge_into(out, fn(doc, vars))
        return out

    return merge_objects


@expression_operator("$objectToArray")
def compile_object_to_array(args: Any, at: tuple, scope: Any):
    (fn,) = operands("$objectToArray", args, at, scope, 1, 1)

    def object_to_array(doc: dict, vars: Any) -> Any:
        value = fn(doc, vars)
        if type(value) is dict:
            return [{"k": k, "v": v} for k, v in value.items()]
        if is_nullish(value):
            return None
        msg = f"$objectToArray requires a document input, found: {bson_type_name(value)}"
        raise ExpressionError(msg)

    return object_to_array


def _checked_key(key: str) -> str:
    if "\0" in key:
        msg = "Key field cannot contain an embedded null byte"
        raise ExpressionError(msg)
    return key


def _pairs_to_object(pairs: list) -> dict:
    """``[[k, v], ...]``: each element a two-element array led by a string key."""
    out = {}
    for pair in pairs:
        if type(pair) is not list:
            # The missing spaces ("mustall", "arrays,found") are in mongod's messages.
            msg = ("$arrayToObject requires a consistent input format. Elements mustall be arrays or all be objects. "
                   f"Array was detected, now found: {bson_type_name(pair)}")  # fmt: skip
            raise ExpressionError(msg)
        if len(pair) != 2:
            msg = f"$arrayToObject requires an array of size 2 arrays,found array of size: {len(pair)}"
            raise ExpressionError(msg)
        key, value = pair
        if type(key) is not str:
            msg = ("$arrayToObject requires an array of key-value pairs, where the key must be of type string. "
                   f"Found key type: {bson_type_name(key)}")  # fmt: skip
            raise ExpressionError(msg)
        out[_checked_key(key)] = value  # a repeated key keeps its first place and takes the last value
    return out


def _kv_documents_to_object(documents: list) -> dict:
    """``[{k: key, v: value}, ...]``: each element exactly the fields k and v."""
    out = {}
    for document in documents:
        if type(document) is not dict:
            msg = ("$arrayToObject requires a consistent input format. Elements mustall be arrays or all be objects. "
                   f"Object was detected, now found: {bson_type_name(document)}")  # fmt: skip
            raise ExpressionError(msg)
        if len(document) != 2:
            msg = ("$arrayToObject requires an object keys of 'k' and 'v'. "
                   f"Found incorrect number of keys:{len(document)}")  # fmt: skip
            raise ExpressionError(msg)
        if "k" not in document or "v" not in document:
            msg = ("$arrayToObject requires an object with keys 'k' and 'v'. "
                   f"Missing either or both keys from: {describe(document)}")  # fmt: skip
            raise ExpressionError(msg)
        key = document["k"]
        if type(key) is not str:
            msg = ("$arrayToObject requires an object with keys 'k' and 'v', where the value of 'k' must be of type "
                   f"string. Found type: {bson_type_name(key)}")  # fmt: skip
            raise ExpressionError(msg)
        out[_checked_key(key)] = document["v"]
    return out


@expression_operator("$arrayToObject")
def compile_array_to_object(args: Any, at: tuple, scope: Any):
    (fn,) = operands("$arrayToObject", args, at, scope, 1, 1)

    def array_to_object(doc: dict, vars: Any) -> Any:
        value = fn(doc, vars)
        if type(value) is not list:
            if is_nullish(value):
                return None
            msg = f"$arrayToObject requires an array input, found: {bson_type_name(value)}"
            raise ExpressionError(msg)
        if not value:
            return {}
        # The first element decides the format for the whole array.
        first = type(value[0])
        if first is list:
            return _pairs_to_object(value)
        if first is dict:
            return _kv_documents_to_object(value)
        msg = f"Unrecognised input type format for $arrayToObject: {bson_type_name(value[0])}"
        raise ExpressionError(msg)

    return array_to_object


# ----------------------------------------------------------------------------- $getField $setField $unsetField

CURRENT = compile_expression("$$CURRENT", (), ROOT_SCOPE)


def _is_options_form(args: Any) -> bool:
    """``{field, input}`` rather than an expression (an operator object or any other value)."""
    return type(args) is dict and not (len(args) == 1 and next(iter(args)).startswith("$"))


def _field_name(name: str, spec: Any, at: tuple, scope: Any, dynamic: bool) -> Any:
    """The ``field`` argument: a string, or (``$getField`` only) an expression giving one."""
    fn = compile_expression(spec, at, scope)
    if is_constant(fn):
        if type(fn.constant) is not str:
            msg = f"{name} requires 'field' to evaluate to type String, but got {bson_type_name(fn.constant)}"
            raise SpecError(msg, at)
        return fn
    if type(spec) is str and spec.startswith("$"):
        if dynamic:
            return fn
        msg = f"A field path reference which is not allowed in this context. Did you mean {{$literal: '{spec}'}}?"
        raise SpecError(msg, at)
    if not dynamic:
        msg = f"{name} requires 'field' to evaluate to a constant, but got a non-constant argument"
        raise SpecError(msg, at)
    return fn


@expression_operator("$getField")
def compile_get_field(args: Any, at: tuple, scope: Any):
    if _is_options_form(args):
        named_arguments("$getField", args, at, required=("field", "input"))
        field = _field_name("$getField", args["field"], (*at, "field"), scope, dynamic=True)
        source = compile_expression(args["input"], (*at, "input"), scope)
    else:
        field, source = _field_name("$getField", args, at, scope, dynamic=True), CURRENT
    if is_constant(field) and source is CURRENT:
        key = field.constant
        return lambda doc, vars: doc.get(key, MISSING)
    if is_constant(field):
        key = field.constant

        def get_constant_field(doc: dict, vars: Any) -> Any:
            value = source(doc, vars)
            if type(value) is dict:
                return value.get(key, MISSING)
            return None if value is None else MISSING  # null gives null; missing or a non-object, missing

        return get_constant_field

    def get_field(doc: dict, vars: Any) -> Any:
        key = field(doc, vars)
        if type(key) is not str:
            msg = f"$getField requires 'field' to evaluate to type String, but got {bson_type_name(key)}"
            raise ExpressionError(msg)
        value = source(doc, vars)
        if type(value) is dict:
            return value.get(key, MISSING)
        return None if value is None else MISSING

    return get_field


def _compile_set_field(name: str, args: Any, at: tuple, scope: Any, value_spec: Any) -> Any:
    """``$setField``, and ``$unsetField`` as ``$setField`` with the value ``$$REMOVE``."""
    if type(args) is not dict:
        msg = f"{name} only supports an object as its argument"
        raise SpecError(msg, at)
    keys = ("field", "input", "value") if value_spec is None else ("field", "input")
    named_arguments(name, args, at, required=keys)
    key = _field_name(name, args["field"], (*at, "field"), scope, dynamic=False).constant
    source = compile_expression(args["input"], (*at, "input"), scope)
    value_fn = compile_expression(args["value"], (*at, "value"), scope) if value_spec is None else value_spec

    def set_field(doc: dict, vars: Any) -> Any:
        target = source(doc, vars)
        if type(target) is not dict:
            if is_nullish(target):
                return None
            msg = f"{name} requires 'input' to evaluate to type Object"
            raise ExpressionError(msg)
        out = dict(target)
        value = value_fn(doc, vars)
        if value is MISSING:
            out.pop(key, None)
        else:
            out[key] = value
        return out

    return set_field


@expression_operator("$setField")
def compile_set_field(args: Any, at: tuple, scope: Any):
    return _compile_set_field("$setField", args, at, scope, None)


@expression_operator("$unsetField")
def compile_unset_field(args: Any, at: tuple, scope: Any):
    return _compile_set_field("$unsetField", args, at, scope, constant(MISSING))
