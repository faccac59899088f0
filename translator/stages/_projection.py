"""Projection trees shared by ``$project``, ``$addFields``/``$set`` and ``$unset``.

A spec becomes a tree of field names → include / exclude / computed expression /
subtree; each tree compiles to one ``doc -> doc`` function that never mutates its input.
https://www.mongodb.com/docs/manual/reference/operator/aggregation/project/
"""

from __future__ import annotations

from typing import Any, Callable

from runtime.stream_meta import STREAM_META
from translator._types import MISSING, NO_VARS
from translator.errors import SpecError
from translator.expressions import compile_expression

INCLUDE, EXCLUDE = "include", "exclude"


def _is_expression_object(value: Any) -> bool:
    return type(value) is dict and any(key.startswith("$") for key in value)


def _insert(tree: dict, parts: list, value: Any, at: tuple) -> None:
    for part in parts[:-1]:
        node = tree.setdefault(part, {})
        if type(node) is not dict:
            msg = f"path collision: {part} is already projected, so {'.'.join(parts)} cannot be"
            raise SpecError(msg, at)
        tree = node
    if parts[-1] in tree:
        msg = f"path collision: {'.'.join(parts)} is projected twice, or together with a field inside it"
        raise SpecError(msg, at)
    tree[parts[-1]] = value


def _check_key(key: str, at: tuple) -> list:
    if key.startswith("$") or ".$" in key:
        msg = f"field name {key!r} may not start with '$'" if key.startswith("$") else f"field path {key!r} has a component starting with '$'"
        raise SpecError(msg, at)
    if any(part == "" for part in key.split(".")):
        msg = f"field path {key!r} has an empty component"
        raise SpecError(msg, at)
    return key.split(".")


def projection_tree(spec: Any, at: tuple = (), literals_are_values: bool = False) -> dict:
    """Parse a projection spec; with ``literals_are_values`` ($addFields) 1/true are values, not inclusions."""
    if type(spec) is not dict or not spec:
        msg = "expected a nonempty object of fields"
        raise SpecError(msg, at)
    tree: dict = {}
    for key, value in spec.items():
        where = (*at, key)
        parts = _check_key(key, where)
        if type(value) is dict and value and not _is_expression_object(value):
            node = projection_tree(value, where, literals_are_values)
        elif not literals_are_values and (type(value) is bool or type(value) in (int, float)):
            node = INCLUDE if value else EXCLUDE
        elif type(value) is dict and not value:
            msg = "an empty object is not a valid value; use {$literal: {}} for an empty document"
            raise SpecError(msg, where)
        else:
            node = compile_expression(value, where)
        _insert(tree, parts, node, where)
    return tree


# Kept by inclusion projections unless excluded, like _id: Atlas drops a document's stream
# metadata only when told to ({$project: {_stream_meta: 0}} or $unset).
IMPLICIT_FIELDS = ("_id", STREAM_META)


def _modes(tree: dict, prefix: str = "") -> tuple[list, list]:
    """(excluded paths, included-or-computed paths), ignoring top-level ``_id`` and ``_stream_meta``."""
    excluded, kept = [], []
    for key, node in tree.items():
        path = f"{prefix}{key}"
        if type(node) is dict:
            sub_excluded, sub_kept = _modes(node, f"{path}.")
            excluded += sub_excluded
            kept += sub_kept
        elif path not in IMPLICIT_FIELDS:
            (excluded if node == EXCLUDE else kept).append(path)
    return excluded, kept


def compile_projection(spec: Any, at: tuple = ()) -> Callable[[dict], dict]:
    """``$project``: an inclusion (with computed fields) or an exclusion projection."""
    tree = projection_tree(spec, at)
    excluded, kept = _modes(tree)
    if excluded and kept:
        msg = f"cannot do exclusion on field {excluded[0]} in inclusion projection"
        raise SpecError(msg, at)
    if excluded or not kept:
        return exclusion(tree)
    id_node = tree.pop("_id", INCLUDE)
    if id_node != EXCLUDE:
        tree = {"_id": id_node, **tree}  # _id leads, as in mongod's output
    if tree.get(STREAM_META, INCLUDE) == EXCLUDE:
        del tree[STREAM_META]
    else:
        tree.setdefault(STREAM_META, INCLUDE)
    return _inclusion(tree)


def _inclusion(tree: dict) -> Callable[[dict], dict]:
    """Included fields in the input's order, then computed fields in the spec's, as mongod does."""
    kept = {key: None if node == INCLUDE else _nested_inclusion(node) for key, node in tree.items() if not callable(node)}
    computed = tuple((key, node) for key, node in tree.items() if callable(node))
    # Subtrees with computed fields appear even when the input lacks them.
    computed_subtrees = tuple(
        (key, apply) for key, apply in kept.items() if apply is not None and _has_computed(tree[key])
    )
    if all(apply is None for apply in kept.values()):
        return _flat_inclusion(frozenset(kept), computed)

    def project(doc: dict, root: dict | None = None) -> dict:
        root = doc if root is None else root
        out = {}
        for key, value in doc.items():
            if key in kept:
                apply = kept[key]
                if apply is None:
                    out[key] = value
                else:
                    value = apply(value, root)
                    if value is not MISSING:
                        out[key] = value
        for key, apply in computed_subtrees:
            if key not in out:
                out[key] = apply({}, root)
        for key, fn in computed:
            value = fn(root, NO_VARS)
            if value is not MISSING:
                out[key] = value
        return out

    return project


def _flat_inclusion(kept: frozenset, computed: tuple) -> Callable[[dict], dict]:
    """The common case, top-level fields only: one pass over the input, then computed fields."""

    def project(doc: dict, root: dict | None = None) -> dict:
        root = doc if root is None else root
        out = {}
        for key, value in doc.items():  # a plain loop: a comprehension costs a frame on 3.11
            if key in kept:
                out[key] = value
        for key, fn in computed:
            value = fn(root, NO_VARS)
            if value is not MISSING:
                out[key] = value
        return out

    project.inline = ("flat_inclusion", kept, computed)  # type: ignore[attr-defined]  # for translator.segment
    return project


def _has_computed(tree: dict) -> bool:
    return any(callable(node) or (type(node) is dict and _has_computed(node)) for node in tree.values())


def _nested_inclusion(tree: dict) -> Callable[[Any, dict], Any]:
    project = _inclusion(tree)
    has_computed = _has_computed(tree)

    def apply(value: Any, root: dict) -> Any:
        kind = type(value)
        if kind is dict:
            return project(value, root)
        if kind is list:
            out = []
            for element in value:
                projected = apply(element, root)
                if projected is not MISSING:
                    out.append(projected)
            return out
        # A scalar under a path with computed fields becomes a document holding them.
        return project({}, root) if has_computed and value is not MISSING else MISSING

    return apply


def exclusion(tree: dict) -> Callable[[dict], dict]:
    """Drop the excluded paths; also serves ``$unset``."""
    dropped = tuple(key for key, node in tree.items() if node == EXCLUDE)
    nested = tuple((key, _nested_exclusion(node)) for key, node in tree.items() if type(node) is dict)

    def exclude(doc: dict) -> dict:
        out = dict(doc)
        for key in dropped:
            out.pop(key, None)
        for key, apply in nested:
            if key in out:
                out[key] = apply(out[key])
        return out

    return exclude


def _nested_exclusion(tree: dict) -> Callable[[Any], Any]:
    exclude = exclusion(tree)

    def apply(value: Any) -> Any:
        if type(value) is dict:
            return exclude(value)
        if type(value) is list:
            return [apply(element) for element in value]
        return value

    return apply


def compile_add_fields(spec: Any, at: tuple = ()) -> Callable[[dict], dict]:
    """``$addFields``/``$set``: computed fields set on the document, which the stage owns.

    Every value is computed from the input before any is assigned, so the expressions see
    the document as it came in (and a failure leaves it untouched for the DLQ).
    """
    tree = projection_tree(spec, at, literals_are_values=True)
    top = tuple((key, node) for key, node in tree.items() if callable(node))
    nested = tuple((key, _nested_setter(node)) for key, node in tree.items() if type(node) is dict)

    def add_fields(doc: dict) -> dict:
        values = [(key, fn(doc, NO_VARS)) for key, fn in top]
        values += [(key, apply(doc.get(key, MISSING), doc)) for key, apply in nested]
        for key, value in values:
            if value is MISSING:
                doc.pop(key, None)
            else:
                doc[key] = value
        return doc

    if len(top) == 2 and not nested:  # the common shape, without building lists

        (key1, fn1), (key2, fn2) = top

        def add_two_fields(doc: dict) -> dict:
            value1 = fn1(doc, NO_VARS)
            value2 = fn2(doc, NO_VARS)
            if value1 is MISSING:
                doc.pop(key1, None)
            else:
                doc[key1] = value1
            if value2 is MISSING:
                doc.pop(key2, None)
            else:
                doc[key2] = value2
            return doc

        add_two_fields.inline = ("add_fields", top)  # type: ignore[attr-defined]  # for translator.segment
        return add_two_fields
    if not nested:
        add_fields.inline = ("add_fields", top)  # type: ignore[attr-defined]
    return add_fields


def _setter(tree: dict) -> Callable[[dict, dict], dict]:
    """Set computed fields on a copy of an embedded document, which others may share."""
    computed = tuple((key, node) for key, node in tree.items() if callable(node))
    nested = tuple((key, _nested_setter(node)) for key, node in tree.items() if type(node) is dict)

    def set_fields(doc: dict, root: dict) -> dict:
        out = dict(doc)  # expressions read ``root``, never ``out``
        for key, fn in computed:
            value = fn(root, NO_VARS)
            if value is MISSING:
                out.pop(key, None)
            else:
                out[key] = value
        for key, apply in nested:
            out[key] = apply(doc.get(key, MISSING), root)
        return out

    return set_fields


def _nested_setter(tree: dict) -> Callable[[Any, dict], Any]:
    set_fields = _setter(tree)

    def apply(value: Any, root: dict) -> Any:
        if type(value) is dict:
            return set_fields(value, root)
        if type(value) is list:
            return [apply(element, root) for element in value]
        return set_fields({}, root)

    return apply
