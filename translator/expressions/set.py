"""Set expression operators: arrays taken as sets under BSON equality (1 equals 1.0).

https://www.mongodb.com/docs/manual/reference/operator/aggregation/#set-expression-operators
"""

from __future__ import annotations

from typing import Any, Callable, Iterable


from translator._bson_order import bson_key, bson_sorted
from translator._bson_types import bson_type_name
from translator._types import is_nullish
from translator.errors import ExpressionError, SpecError
from translator.expressions.boolean import truthy
from translator.expressions.compile import expression_operator, is_constant, operands


def _unique(values: Any, seen: set) -> list:
    """Values not yet in ``seen`` (which grows), first occurrence kept, order preserved."""
    out = []
    for value in values:
        key = bson_key(value)
        if key not in seen:
            seen.add(key)
            out.append(value)
    return out


def _sorted_set(values: list) -> list:
    """mongod returns set results from an ordered set: ascending BSON order, no duplicates."""
    return bson_sorted(_unique(values, set()))


def _first_by_key(values: list) -> dict:
    """Each BSON-distinct value of ``values`` by its key, the first of equal ones kept."""
    found: dict = {}
    for value in values:
        found.setdefault(bson_key(value), value)
    return found


def _constant_list(fn: Callable) -> list | None:
    """The operand's array when it is a constant one, so its keys can be built once, now."""
    return fn.constant if is_constant(fn) and type(fn.constant) is list else None


def _constant_keys(fn: Callable) -> frozenset | None:
    """The keys of a constant array operand, built once; None when the operand is not one."""
    fixed = _constant_list(fn)
    return None if fixed is None else frozenset(bson_key(v) for v in fixed)


def _elements_true(name: str, combine: Callable[[Iterable], bool]) -> None:
    """``$allElementsTrue``/``$anyElementTrue``: truthiness of an array's elements, combined."""

    @expression_operator(name)
    def compile_elements_true(args: Any, at: tuple, scope: Any):
        (fn,) = operands(name, args, at, scope, 1, 1)

        def elements_true(doc: dict, vars: Any) -> bool:
            value = fn(doc, vars)
            if type(value) is not list:
                msg = f"{name}'s argument must be an array, but is {bson_type_name(value)}"
                raise ExpressionError(msg)
            return combine(truthy(v) for v in value)

        return elements_true


_elements_true("$allElementsTrue", all)
_elements_true("$anyElementTrue", any)


@expression_operator("$setDifference")
def compile_set_difference(args: Any, at: tuple, scope: Any):
    left, right = operands("$setDifference", args, at, scope, 2, 2)
    right_keys = _constant_keys(right)

    def set_difference(doc: dict, vars: Any) -> Any:
        a = left(doc, vars)
        b = right(doc, vars)
        if is_nullish(a) or is_nullish(b):
            return None
        for position, value in (("First", a), ("Second", b)):
            if type(value) is not list:
                msg = (f"both operands of $setDifference must be arrays. {position} argument is of type: "
                       f"{bson_type_name(value)}")  # fmt: skip
                raise ExpressionError(msg)
        # Elements of the first array in their order, minus the second array and repeats.
        return _unique(a, {bson_key(v) for v in b} if right_keys is None else set(right_keys))

    return set_difference


@expression_operator("$setEquals")
def compile_set_equals(args: Any, at: tuple, scope: Any):
    fns = operands("$setEquals", args, at, scope)
    if len(fns) < 2:
        msg = f"$setEquals needs at least two arguments had: {len(fns)}"
        raise SpecError(msg, at)
    fixed_keys = [_constant_keys(fn) for fn in fns]

    def set_equals(doc: dict, vars: Any) -> bool:
        sets = []
        for i, (fn, keys) in enumerate(zip(fns, fixed_keys)):
            value = fn(doc, vars)
            if type(value) is not list:
                msg = (f"All operands of $setEquals must be arrays. {i + 1}-th argument is of type: "
                       f"{bson_type_name(value)}")  # fmt: skip
                raise ExpressionError(msg)
            sets.append({bson_key(v) for v in value} if keys is None else keys)
        first = sets[0]
        return all(s == first for s in sets[1:])

    return set_equals


@expression_operator("$setIntersection")
def compile_set_intersection(args: Any, at: tuple, scope: Any):
    fns = operands("$setIntersection", args, at, scope)
    fixed_values = [None if (fixed := _constant_list(fn)) is None else _first_by_key(fixed) for fn in fns]

    def set_intersection(doc: dict, vars: Any) -> Any:
        common: dict | None = None
        for fn, fixed in zip(fns, fixed_values):
            value = fn(doc, vars)
            if is_nullish(value):
                return None
            if type(value) is not list:
                msg = (f"All operands of $setIntersection must be arrays. One argument is of type: "
                       f"{bson_type_name(value)}")  # fmt: skip
                raise ExpressionError(msg)
            found = _first_by_key(value) if fixed is None else fixed  # never changed below: safe to share
            if common is None:
                common = found
            elif common:
                # Like mongod, keep the values of the smaller set (it matters for 1 versus 1.0).
                smaller, larger = (found, common) if len(common) > len(found) else (common, found)
                common = {k: v for k, v in smaller.items() if k in larger}
        return [] if common is None else bson_sorted(common.values())

    return set_intersection


@expression_operator("$setIsSubset")
def compile_set_is_subset(args: Any, at: tuple, scope: Any):
    left, right = operands("$setIsSubset", args, at, scope, 2, 2)
    right_keys = _constant_keys(right)

    def set_is_subset(doc: dict, vars: Any) -> bool:
        a = left(doc, vars)
        if type(a) is not list:
            msg = f"both operands of $setIsSubset must be arrays. First argument is of type: {bson_type_name(a)}"
            raise ExpressionError(msg)
        b = right(doc, vars)
        if type(b) is not list:
            msg = f"both operands of $setIsSubset must be arrays. Second argument is of type: {bson_type_name(b)}"
            raise ExpressionError(msg)
        keys = {bson_key(v) for v in b} if right_keys is None else right_keys
        return all(bson_key(v) in keys for v in a)

    return set_is_subset


@expression_operator("$setUnion")
def compile_set_union(args: Any, at: tuple, scope: Any):
    fns = operands("$setUnion", args, at, scope)

    def set_union(doc: dict, vars: Any) -> Any:
        values = []
        for fn in fns:
            value = fn(doc, vars)
            if is_nullish(value):
                return None
            if type(value) is not list:
                msg = f"All operands of $setUnion must be arrays. One argument is of type: {bson_type_name(value)}"
                raise ExpressionError(msg)
            values.extend(value)
        return _sorted_set(values)

    return set_union
