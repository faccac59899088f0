"""Array expression operators.

https://www.mongodb.com/docs/manual/reference/operator/aggregation/#array-expression-operators
"""

from __future__ import annotations

import datetime
import functools
from typing import Any, Callable

from bson import Decimal128, Int64

from translator._bson_order import compare, sort_key
from translator._bson_types import INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, bson_type_name
from runtime.ejson import MAX_DOCUMENT_BYTES
from translator._limits import check_built, shallow_size, value_size
from translator._types import MISSING, is_nullish
from translator.errors import ExpressionError, SpecError
from translator.expressions._numbers import is_number
from translator.expressions.arithmetic import format_double
from translator.expressions.boolean import truthy
from translator.expressions.compile import (
    compile_expression,
    expression_operator,
    is_constant,
    named_arguments,
    operands,
)
from translator._bson_order import bson_key, bson_sorted, natively_ordered
from translator.expressions.variables import check_variable_name

# mongod refuses a $range whose result would pass internalQueryMaxRangeBytes (100 MiB), counting
# sizeof(std::vector<Value>) plus one 16-byte Value per element.
RANGE_MEMORY_LIMIT = 100 * 1024 * 1024
RANGE_VECTOR_BYTES, RANGE_ELEMENT_BYTES = 24, 16


def describe(value: Any) -> str:
    """A value as mongod's ``Value::toString`` shows it inside error messages."""
    kind = type(value)
    if kind is str:
        return f'"{value}"'
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is Int64:
        return str(int(value))
    if kind is float:
        return format_double(value)
    if value is None:
        return "null"
    if value is MISSING:
        return "MISSING"
    if kind is list:
        return "[" + ", ".join(describe(v) for v in value) + "]"
    if kind is dict:
        return "{" + ", ".join(f"{k}: {describe(v)}" for k, v in value.items()) + "}"
    if kind is datetime.datetime:
        return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return str(value)


def _int64_of(value: Any) -> int | None:
    """The int a number stands for when it is whole and fits 64 bits (mongod's integral64Bit)."""
    kind = type(value)
    if kind is int or kind is Int64:
        number = int(value)
    elif kind is float:
        if not value.is_integer():  # false for NaN and the infinities too
            return None
        number = int(value)
    elif kind is Decimal128:
        exact = value.to_decimal()
        if not exact.is_finite() or exact != exact.to_integral_value():
            return None
        number = int(exact)
    else:
        return None
    return number if INT64_MIN <= number <= INT64_MAX else None


def int32_of(value: Any) -> int | None:
    """The int a number stands for when mongod calls it integral (whole and within 32 bits)."""
    number = _int64_of(value)
    return number if number is not None and INT32_MIN <= number <= INT32_MAX else None


def _as_double(value: Any) -> float:
    return float(value.to_decimal()) if type(value) is Decimal128 else float(value)


# ----------------------------------------------------------------------------- element access


def _element_at(name: str, arity: int, array: Any, index: Any) -> Any:
    """``$arrayElemAt`` (and ``$first``/``$last``): out of range gives missing, not an error."""
    if is_nullish(array) or is_nullish(index):
        return None
    if type(array) is not list:
        which = "argument" if arity == 1 else "first argument"
        msg = f"{name}'s {which} must be an array, but is {bson_type_name(array)}"
        raise ExpressionError(msg)
    if not is_number(index):
        msg = f"{name}'s second argument must be a numeric value, but is {bson_type_name(index)}"
        raise ExpressionError(msg)
    i = int32_of(index)
    if i is None:
        msg = f"{name}'s second argument must be representable as a 32-bit integer: {format_double(_as_double(index))}"
        raise ExpressionError(msg)
    if -len(array) <= i < len(array):
        return array[i]
    return MISSING


@expression_operator("$arrayElemAt")
def compile_array_elem_at(args: Any, at: tuple, scope: Any):
    array, index = operands("$arrayElemAt", args, at, scope, 2, 2)

    def array_elem_at(doc: dict, vars: Any) -> Any:
        value = array(doc, vars)
        i = index(doc, vars)
        if type(value) is list and type(i) is int and -len(value) <= i < len(value):
            return value[i]
        return _element_at("$arrayElemAt", 2, value, i)

    return array_elem_at


def _end_element(name: str, position: int) -> None:
    @expression_operator(name)
    def compile_end_element(args: Any, at: tuple, scope: Any):
        (array,) = operands(name, args, at, scope, 1, 1)

        def end_element(doc: dict, vars: Any) -> Any:
            value = array(doc, vars)
            if type(value) is list and value:
                return value[position]
            return _element_at(name, 1, value, position)

        return end_element


_end_element("$first", 0)
_end_element("$last", -1)


@expression_operator("$concatArrays")
def compile_concat_arrays(args: Any, at: tuple, scope: Any):
    fns = operands("$concatArrays", args, at, scope)

    def concat_arrays(doc: dict, vars: Any) -> Any:
        out = []
        for fn in fns:
            value = fn(doc, vars)
            if type(value) is not list:
                if is_nullish(value):
                    return None
                msg = f"$concatArrays only supports arrays, not {bson_type_name(value)}"
                raise ExpressionError(msg)
            out.extend(value)
        check_built("$concatArrays", shallow_size(out))
        return out

    return concat_arrays


@expression_operator("$in")
def compile_in(args: Any, at: tuple, scope: Any):
    needle, haystack = operands("$in", args, at, scope, 2, 2)

    def check(values: Any) -> None:
        if type(values) is not list:
            msg = f"$in requires an array as a second argument, found: {bson_type_name(values)}"
            raise ExpressionError(msg)

    if is_constant(haystack) and type(haystack.constant) is list:
        keys = frozenset(bson_key(v) for v in haystack.constant)

        # An array never holds a missing value, so a missing needle is never found.
        return lambda doc, vars: (value := needle(doc, vars)) is not MISSING and bson_key(value) in keys

    def in_array(doc: dict, vars: Any) -> bool:
        value = needle(doc, vars)
        values = haystack(doc, vars)
        check(values)
        kind = type(value)
        if kind is str:
            return value in values  # a string equals only the same string
        if (kind is int or kind is float) and value == value:
            return _contains_number(values, value)
        if value is MISSING:
            return False
        key = bson_key(value)
        return any(bson_key(v) == key for v in values)

    return in_array


def _contains_number(values: list, number: Any) -> bool:
    """BSON equality for a plain int or float that is not NaN, without building keys."""
    for v in values:
        if v == number and type(v) is not bool:  # Python compares int, Int64 and float exactly
            return True
        if type(v) is Decimal128 and v.to_decimal() == number:
            return True
    return False


def _index_bound(value: Any, what: str) -> int:
    i = int32_of(value)
    if i is None:
        # mongod's message really lacks the space after the operator name.
        msg = (f"$indexOfArrayrequires an integral {what}, found a value of type: {bson_type_name(value)}, "
               f"with value: {describe(value)}")  # fmt: skip
        raise ExpressionError(msg)
    if i < 0:
        msg = f"$indexOfArray requires a nonnegative {what}, found: {describe(value)}"
        raise ExpressionError(msg)
    return i


@expression_operator("$indexOfArray")
def compile_index_of_array(args: Any, at: tuple, scope: Any):
    fns = operands("$indexOfArray", args, at, scope, 2, 4)
    array, search = fns[0], fns[1]
    start = fns[2] if len(fns) > 2 else None
    end = fns[3] if len(fns) > 3 else None

    def index_of_array(doc: dict, vars: Any) -> Any:
        values = array(doc, vars)
        if type(values) is not list:
            if is_nullish(values):
                return None
            msg = f"$indexOfArray requires an array as a first argument, found: {bson_type_name(values)}"
            raise ExpressionError(msg)
        first = 0 if start is None else _index_bound(start(doc, vars), "starting index")
        stop = len(values) if end is None else min(len(values), _index_bound(end(doc, vars), "ending index"))
        target = search(doc, vars)
        if type(target) is str:
            for i in range(first, stop):
                if values[i] == target:
                    return i
            return -1
        if target is MISSING:
            return -1
        key = bson_key(target)
        for i in range(first, stop):
            if bson_key(values[i]) == key:
                return i
        return -1

    return index_of_array


@expression_operator("$isArray")
def compile_is_array(args: Any, at: tuple, scope: Any):
    (fn,) = operands("$isArray", args, at, scope, 1, 1)
    return lambda doc, vars: type(fn(doc, vars)) is list


@expression_operator("$size")
def compile_size(args: Any, at: tuple, scope: Any):
    (fn,) = operands("$size", args, at, scope, 1, 1)

    def size(doc: dict, vars: Any) -> int:
        value = fn(doc, vars)
        if type(value) is not list:
            msg = f"The argument to $size must be an array, but was of type: {bson_type_name(value)}"
            raise ExpressionError(msg)
        return len(value)

    return size


@expression_operator("$reverseArray")
def compile_reverse_array(args: Any, at: tuple, scope: Any):
    (fn,) = operands("$reverseArray", args, at, scope, 1, 1)

    def reverse_array(doc: dict, vars: Any) -> Any:
        value = fn(doc, vars)
        if type(value) is not list:
            if is_nullish(value):
                return None
            msg = f"The argument to $reverseArray must be an array, but was of type: {bson_type_name(value)}"
            raise ExpressionError(msg)
        return value[::-1]

    return reverse_array


def _slice_int(value: Any, position: str, numeric: str = "a numeric value") -> int:
    """An argument of $slice as an int32, in mongod's words (the third says "numeric")."""
    if not is_number(value):
        msg = f"{position} argument to $slice must be {numeric}, but is of type: {bson_type_name(value)}"
        raise ExpressionError(msg)
    i = int32_of(value)
    if i is None:
        shown = format_double(_as_double(value))
        msg = f"{position} argument to $slice can't be represented as a 32-bit integer: {shown}"
        raise ExpressionError(msg)
    return i


@expression_operator("$slice")
def compile_slice(args: Any, at: tuple, scope: Any):
    fns = operands("$slice", args, at, scope, 2, 3)
    array, second = fns[0], fns[1]
    count_fn = fns[2] if len(fns) == 3 else None

    def slice_array(doc: dict, vars: Any) -> Any:
        values = array(doc, vars)
        arg = second(doc, vars)
        if is_nullish(values) or is_nullish(arg):
            return None
        if type(values) is not list:
            msg = f"First argument to $slice must be an array, but is of type: {bson_type_name(values)}"
            raise ExpressionError(msg)
        n = _slice_int(arg, "Second")
        if count_fn is None:
            # One number: that many from the front, or from the back when negative.
            return values[:n] if n >= 0 else values[max(0, len(values) + n) :]
        begin = max(0, len(values) + n) if n < 0 else min(len(values), n)
        count = count_fn(doc, vars)
        if is_nullish(count):
            return None
        c = _slice_int(count, "Third", "numeric")
        if c <= 0:
            msg = f"Third argument to $slice must be positive: {c}"
            raise ExpressionError(msg)
        return values[begin : begin + c]

    return slice_array


def _range_bound(value: Any, what: str, article: str) -> int:
    if not is_number(value):
        msg = f"$range requires a numeric {what} value, found value of type: {bson_type_name(value)}"
        raise ExpressionError(msg)
    i = int32_of(value)
    if i is None:
        msg = (f"$range requires {article} {what} value that can be represented as a 32-bit integer, "
               f"found value: {describe(value)}")  # fmt: skip
        raise ExpressionError(msg)
    return i


@expression_operator("$range")
def compile_range(args: Any, at: tuple, scope: Any):
    fns = operands("$range", args, at, scope, 2, 3)
    start_fn, end_fn = fns[0], fns[1]
    step_fn = fns[2] if len(fns) == 3 else None

    def range_array(doc: dict, vars: Any) -> list:
        start = _range_bound(start_fn(doc, vars), "starting", "a")
        end = _range_bound(end_fn(doc, vars), "ending", "an")
        step = 1
        if step_fn is not None:
            step_value = step_fn(doc, vars)
            if not is_number(step_value):
                # mongod's message has no space after the colon here.
                msg = f"$range requires a numeric step value, found value of type:{bson_type_name(step_value)}"
                raise ExpressionError(msg)
            step = _range_bound(step_value, "step", "a")
            if step == 0:
                msg = "$range requires a non-zero step value"
                raise ExpressionError(msg)
        steps = int((end - start) / step)  # C++ division truncates toward zero
        needed = RANGE_VECTOR_BYTES + (steps + 1 if steps >= 0 else 0) * RANGE_ELEMENT_BYTES
        if needed >= RANGE_MEMORY_LIMIT:
            msg = (f"$range would use too much memory ({needed} bytes) and cannot spill to disk. "
                   f"Memory limit: {RANGE_MEMORY_LIMIT} bytes")  # fmt: skip
            raise ExpressionError(msg)
        return list(range(start, end, step))

    return range_array


# ----------------------------------------------------------------------------- $map $filter $reduce

_GROWN = frozenset({str, list, dict})  # the values whose size $map and $reduce keep an eye on


def _variable(spec: dict, at: tuple, key: str, default: str | None) -> str | None:
    """The variable named by ``as`` (``this`` when left out) or ``arrayIndexAs`` (MongoDB 8.3)."""
    if key not in spec:
        return default
    check_variable_name(spec[key], (*at, key))
    return spec[key]


# mongod's messages for an operator's object argument: not an object, unknown key, missing key.
_VARIABLE_OPERATOR_WORDING = (
    "{name} only supports an object as its argument",
    "Unrecognized parameter to {name}: {key}",
    "Missing '{key}' parameter to {name}",
)
_REQUIRES_WORDING = (
    "{name} requires an object as an argument, found: {type}",
    "{name} found an unknown argument: {key}",
    "{name} requires '{key}' to be specified",
)


@expression_operator("$map")
def compile_map(args: Any, at: tuple, scope: Any):
    named_arguments("$map", args, at, ("input", "in"), ("as", "arrayIndexAs"), _VARIABLE_OPERATOR_WORDING)
    name = _variable(args, at, "as", "this")
    index_name = _variable(args, at, "arrayIndexAs", None)
    source = compile_expression(args["input"], (*at, "input"), scope)
    body = compile_expression(args["in"], (*at, "in"), scope.with_variables(v for v in (name, index_name) if v))

    def map_array(doc: dict, vars: Any) -> Any:
        values = source(doc, vars)
        if type(values) is not list:
            if is_nullish(values):
                return None
            msg = f"input to $map must be an array not {bson_type_name(values)}"
            raise ExpressionError(msg)
        inner = dict(vars)
        out = []
        built = 0  # the results' top-level sizes: enough to stop a $map of big strings or arrays
        for i, value in enumerate(values):
            inner[name] = value
            if index_name is not None:
                inner[index_name] = i
            result = body(doc, inner)
            kind = type(result)
            if kind is str:
                built += len(result)
            elif kind is dict or kind is list:
                built += len(result) << 3  # shallow_size's cost of each element, inlined
            if built > MAX_DOCUMENT_BYTES:
                check_built("$map", built)
            out.append(None if result is MISSING else result)
        return out

    return map_array


@expression_operator("$filter")
def compile_filter(args: Any, at: tuple, scope: Any):
    named_arguments("$filter", args, at, ("input", "cond"), ("as", "limit", "arrayIndexAs"), _VARIABLE_OPERATOR_WORDING)
    name = _variable(args, at, "as", "this")
    index_name = _variable(args, at, "arrayIndexAs", None)
    source = compile_expression(args["input"], (*at, "input"), scope)
    cond = compile_expression(args["cond"], (*at, "cond"), scope.with_variables(v for v in (name, index_name) if v))
    limit_fn = compile_expression(args["limit"], (*at, "limit"), scope) if "limit" in args else None

    def filter_array(doc: dict, vars: Any) -> Any:
        values = source(doc, vars)
        if type(values) is not list:
            if is_nullish(values):
                return None
            msg = f"input to $filter must be an array not {bson_type_name(values)}"
            raise ExpressionError(msg)
        if not values:
            return values
        remaining = -1  # no limit
        if limit_fn is not None:
            limit = limit_fn(doc, vars)
            if not is_nullish(limit):  # a null limit means no limit
                remaining = int32_of(limit)
                if remaining is None:
                    msg = f"$filter: limit must be represented as a 32-bit integral value: {describe(limit)}"
                    raise ExpressionError(msg)
                if remaining <= 0:
                    msg = f"$filter: limit must be greater than 0: {describe(limit)}"
                    raise ExpressionError(msg)
        inner = dict(vars)
        out = []
        for i, value in enumerate(values):
            inner[name] = value
            if index_name is not None:
                inner[index_name] = i
            if truthy(cond(doc, inner)):
                out.append(value)
                remaining -= 1
                if remaining == 0:
                    break
        return out

    return filter_array


@expression_operator("$reduce")
def compile_reduce(args: Any, at: tuple, scope: Any):
    named_arguments("$reduce", args, at, ("input", "initialValue", "in"), ("arrayIndexAs",), _REQUIRES_WORDING)
    source = compile_expression(args["input"], (*at, "input"), scope)
    initial = compile_expression(args["initialValue"], (*at, "initialValue"), scope)
    index_name = _variable(args, at, "arrayIndexAs", None)
    inner_scope = scope.with_variables(v for v in ("this", "value", index_name) if v)
    body = compile_expression(args["in"], (*at, "in"), inner_scope)

    def reduce_array(doc: dict, vars: Any) -> Any:
        values = source(doc, vars)
        if type(values) is not list:
            if is_nullish(values):
                return None
            msg = f"$reduce requires that 'input' be an array, found: {describe(values)}"
            raise ExpressionError(msg)
        accumulated = initial(doc, vars)
        inner = dict(vars)
        for i, value in enumerate(values):
            inner["this"] = value
            inner["value"] = accumulated
            if index_name is not None:
                inner[index_name] = i
            accumulated = body(doc, inner)
            if not i & (i + 1) and type(accumulated) in _GROWN:  # after iterations 1, 2, 4, 8, ...
                check_built("$reduce", value_size("$reduce", accumulated))
        if type(accumulated) in _GROWN:
            check_built("$reduce", value_size("$reduce", accumulated))
        return accumulated

    return reduce_array


# ----------------------------------------------------------------------------- $firstN $lastN $maxN $minN


def _validate_n(value: Any) -> int:
    """mongod's rule for 'n': a number with a whole value, at least 1."""
    n = _int64_of(value)
    if n is None:
        msg = f"Value for 'n' must be of integral type, but found {describe(value)}"
        raise ExpressionError(msg)
    if n <= 0:
        msg = f"'n' must be greater than 0, found {n}"
        raise ExpressionError(msg)
    return n


def _n_operator(name: str, pick: Callable[[list, int], list]) -> None:
    """The array forms of the N accumulators: ``{name: {n, input}}``."""

    @expression_operator(name)
    def compile_n_operator(args: Any, at: tuple, scope: Any):
        if type(args) is not dict:
            msg = f"specification must be an object; found {describe(args)}"
            raise SpecError(msg, at)
        for key in args:
            if key not in ("n", "input"):
                msg = f"Unknown argument for 'n' operator: {key}"
                raise SpecError(msg, (*at, key))
        for key in ("n", "input"):
            if key not in args:
                msg = f"Missing value for '{key}'"
                raise SpecError(msg, at)
        n_fn = compile_expression(args["n"], (*at, "n"), scope)
        source = compile_expression(args["input"], (*at, "input"), scope)

        def n_operator(doc: dict, vars: Any) -> list:
            n = _validate_n(n_fn(doc, vars))
            values = source(doc, vars)
            if type(values) is not list:
                msg = "Input must be an array"
                raise ExpressionError(msg)
            return pick(values, n)

        return n_operator


def _smallest(values: list, n: int) -> list:
    # null and missing take no part in $minN/$maxN.
    return bson_sorted(v for v in values if v is not None)[:n]


def _largest(values: list, n: int) -> list:
    return bson_sorted((v for v in values if v is not None), reverse=True)[:n]


_n_operator("$firstN", lambda values, n: values[:n])
_n_operator("$lastN", lambda values, n: values[-n:])
_n_operator("$minN", _smallest)
_n_operator("$maxN", _largest)


# ----------------------------------------------------------------------------- $sortArray


def _sort_direction(value: Any, at: tuple) -> int:
    direction = int32_of(value)
    if direction == 1 or direction == -1:
        return direction
    msg = "The $sort element value must be either 1 or -1"
    raise SpecError(msg, at)


def _field_sort_value(element: Any, parts: tuple) -> Any:
    """The value an element sorts by: the field at a dotted path, null when absent.

    Like mongod's sort-key extraction for $sortArray, the path does not fan out over arrays
    (a numeric component indexes one) and an array value compares as a whole.
    """
    for part in parts:
        kind = type(element)
        if kind is dict:
            element = element.get(part, MISSING)
        elif kind is list and part.isdigit() and str(int(part)) == part and int(part) < len(element):
            element = element[int(part)]  # an array's BSON keys are "0", "1", ...
        else:
            return None
    return None if element is MISSING else element


def _compile_sort_by(sort_by: Any, at: tuple) -> Callable[[list], list]:
    """A function sorting a list by ``sortBy``: 1/-1 for whole values, or a sort document."""
    if type(sort_by) is not dict:
        descending = _sort_direction(sort_by, at) == -1

        return lambda values: bson_sorted(values, reverse=descending)
    if not sort_by:
        msg = "$sortArray requires a non-empty sortBy document"
        raise SpecError(msg, at)
    fields = []
    for path, direction in sort_by.items():
        if not path or path.startswith("$") or "" in path.split("."):
            msg = f"$sortArray sortBy has an invalid field name: {path!r}"
            raise SpecError(msg, (*at, path))
        fields.append((tuple(path.split(".")), _sort_direction(direction, (*at, path))))

    if len(fields) == 1:
        ((parts, direction),) = fields

        def sort_by_one_field(values: list) -> list:
            keys = [_field_sort_value(v, parts) for v in values]
            native = natively_ordered(keys)
            order = sorted(range(len(values)), key=keys.__getitem__ if native else lambda i: sort_key(keys[i]),
                           reverse=direction == -1)  # fmt: skip
            return [values[i] for i in order]

        return sort_by_one_field

    def compare_keys(a: tuple, b: tuple) -> int:
        for x, y, (_, direction) in zip(a[0], b[0], fields):
            found = compare(x, y)
            if found:
                return found * direction
        return 0

    decorated_key = functools.cmp_to_key(compare_keys)

    def sort_documents(values: list) -> list:
        keyed = [(tuple(_field_sort_value(v, parts) for parts, _ in fields), v) for v in values]
        keyed.sort(key=decorated_key)
        return [v for _, v in keyed]

    return sort_documents


@expression_operator("$sortArray")
def compile_sort_array(args: Any, at: tuple, scope: Any):
    named_arguments("$sortArray", args, at, ("input", "sortBy"), (), _REQUIRES_WORDING)
    source = compile_expression(args["input"], (*at, "input"), scope)
    sort = _compile_sort_by(args["sortBy"], (*at, "sortBy"))

    def sort_array(doc: dict, vars: Any) -> Any:
        values = source(doc, vars)
        if type(values) is not list:
            if is_nullish(values):
                return None
            msg = f"The input argument to $sortArray must be an array, but was of type: {bson_type_name(values)}"
            raise ExpressionError(msg)
        return sort(values) if len(values) > 1 else values

    return sort_array


# ----------------------------------------------------------------------------- $zip


@expression_operator("$zip")
def compile_zip(args: Any, at: tuple, scope: Any):
    if type(args) is not dict:
        msg = f"$zip only supports an object as an argument, found {bson_type_name(args)}"
        raise SpecError(msg, at)
    named_arguments("$zip", args, at, optional=("inputs", "useLongestLength", "defaults"))
    inputs = args.get("inputs", [])
    if type(inputs) is not list:
        msg = f"inputs must be an array of expressions, found {bson_type_name(inputs)}"
        raise SpecError(msg, (*at, "inputs"))
    if not inputs:
        msg = "$zip requires at least one input array"
        raise SpecError(msg, at)
    longest = args.get("useLongestLength", False)
    if type(longest) is not bool:
        # mongod names the type of the whole $zip argument here, which is always an object.
        msg = "useLongestLength must be a bool, found object"
        raise SpecError(msg, (*at, "useLongestLength"))
    defaults = args.get("defaults")
    if defaults is not None:
        if type(defaults) is not list:
            msg = f"defaults must be an array of expressions, found {bson_type_name(defaults)}"
            raise SpecError(msg, (*at, "defaults"))
        if not longest:
            msg = "cannot specify defaults unless useLongestLength is true"
            raise SpecError(msg, (*at, "defaults"))
        if len(defaults) != len(inputs):
            msg = "defaults and inputs must have the same length"
            raise SpecError(msg, (*at, "defaults"))
    input_fns = [compile_expression(spec, (*at, "inputs", str(i)), scope) for i, spec in enumerate(inputs)]
    default_fns = [compile_expression(spec, (*at, "defaults", str(i)), scope) for i, spec in enumerate(defaults or ())]

    def zip_arrays(doc: dict, vars: Any) -> Any:
        arrays = []
        for fn in input_fns:
            value = fn(doc, vars)
            if is_nullish(value):
                return None
            if type(value) is not list:
                msg = f"$zip found a non-array expression in input: {describe(value)}"
                raise ExpressionError(msg)
            arrays.append(value)
        lengths = [len(a) for a in arrays]
        if not longest or min(lengths) == max(lengths):
            return [list(row) for row in zip(*arrays)]
        fills = [None if (v := fn(doc, vars)) is MISSING else v for fn in default_fns] or [None] * len(arrays)
        return [[a[row] if row < len(a) else fill for a, fill in zip(arrays, fills)] for row in range(max(lengths))]

    return zip_arrays
