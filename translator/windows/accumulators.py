"""``$group`` accumulators whose state is the accumulator's state, never the documents.

https://www.mongodb.com/docs/manual/reference/operator/aggregation/group/#accumulator-operator

Each accumulator is an operator object with ``init() -> state``, ``add(state, value) -> state``,
``merge(a, b) -> state`` and ``result(state) -> value``; the state itself is a plain value
(a number, a short list, a dict). Keeping state outside the object makes a million groups cost
a million small values rather than a million objects, and pickles compactly into Bytewax's
recovery store. ``arg`` is the compiled argument, ``fn(doc, vars) -> value``.
"""

from __future__ import annotations

import bisect
import math
from decimal import Decimal
from typing import Any, Callable

from bson import Decimal128

from translator._bson_order import bson_key, compare
from translator._registry import registrar
from translator._bson_types import INT64_MAX, INT64_MIN, bson_type_name
from translator._limits import shallow_size
from translator._types import MISSING, NO_VARS, Compiled, Path
from translator.errors import ExpressionError, SpecError
from translator.expressions import ROOT_SCOPE, compile_expression
from translator.expressions._numbers import NUMBER_TYPES, from_decimal, to_decimal
from translator.expressions.accumulators import PERCENTILE_METHODS, constant_percentiles, percentiles_of
from translator.expressions.arithmetic import int_or_long
from translator.expressions.compile import (
    CODE_OPERATORS,
    REFUSED_CODE,
    compile_field_path,
    constant,
    is_constant,
    named_arguments,
)

AccumulatorCompiler = Callable[[Any, Path], "Accumulator"]
ACCUMULATORS: dict[str, AccumulatorCompiler] = {}


accumulator = registrar(ACCUMULATORS, "accumulator")
"""Register the compiler of one accumulator under its MongoDB spelling: ``@accumulator("$sum")``."""


def compile_accumulator(spec: Any, at: Path) -> Accumulator:
    """``{"$sum": "$amount"}`` → an Accumulator with its argument compiled."""
    if type(spec) is not dict or len(spec) != 1:
        msg = "an accumulator must be an object with exactly one field, e.g. {$sum: '$x'}"
        raise SpecError(msg, at)
    ((name, args),) = spec.items()
    if name in CODE_OPERATORS:
        msg = f"{name} is refused: {REFUSED_CODE}"
        raise SpecError(msg, (*at, name))
    compiler = ACCUMULATORS.get(name)
    if compiler is None:
        msg = f"unknown group operator {name!r}"
        raise SpecError(msg, (*at, name))
    return compiler(args, (*at, name))


def _is_numeric(value: Any) -> bool:
    return type(value) in NUMBER_TYPES


# A sum is an int while only integers come (exact, and the fast path); a double turns it into
# [integer total, high, low], a compensated sum rounded once at the end as mongod's
# double-double summation is; a Decimal128 turns it into a Decimal.


def _as_decimal(total: Any) -> Decimal:
    if type(total) is list:
        return to_decimal(total[0]) + to_decimal(total[1]) + to_decimal(total[2])
    return to_decimal(total)


def _add_double(total: list, x: float) -> list:
    high = total[1]
    t = high + x
    if math.isfinite(t):  # Neumaier: keep what the addition rounded away
        total[2] += (high - t) + x if abs(high) >= abs(x) else (x - t) + high
    total[1] = t
    return total


def _add_numbers(total: Any, value: Any) -> Any:
    """``total + value`` for any numeric value, widening the total as needed."""
    if type(total) is Decimal or type(value) is Decimal128:
        return _as_decimal(total) + to_decimal(value)
    if type(value) is float:
        return _add_double([total, 0.0, 0.0] if type(total) is not list else total, value)
    if type(total) is list:
        total[0] += value
        return total
    return total + value


def _merge_totals(a: Any, b: Any) -> Any:
    if type(a) is Decimal or type(b) is Decimal:
        return _as_decimal(a) + _as_decimal(b)
    if type(b) is list:
        a = _add_double(_add_numbers(a, 0.0), b[1])
        a[0] += b[0]
        a[2] += b[2]
        return a
    return _add_numbers(a, b)


def _total_out(total: Any) -> Any:
    """The total typed as mongod types it: int, long past 32 bits, double past 64 or with doubles."""
    if type(total) is Decimal:
        return from_decimal(total)
    if type(total) is list:
        integers, high, low = total
        if not math.isfinite(high):
            return high
        rounded = float(integers)
        return math.fsum((high, low, rounded, float(integers - int(rounded))))
    return int_or_long(total) if INT64_MIN <= total <= INT64_MAX else float(total)


class Accumulator:
    """Base operator object; subclasses keep their state as a plain value."""

    __slots__ = ("arg",)

    def __init__(self, arg: Compiled) -> None:
        self.arg = arg

    def init(self) -> Any:
        raise NotImplementedError

    def add(self, state: Any, value: Any) -> Any:
        raise NotImplementedError

    def merge(self, a: Any, b: Any) -> Any:
        raise NotImplementedError

    def result(self, state: Any) -> Any:
        return state

    def fold(self, values: Any) -> Any:
        """The result over an iterable of argument values (``$setWindowFields`` recomputes)."""
        state = self.init()
        for value in values:
            state = self.add(state, value)
        return self.result(state)


class Sum(Accumulator):
    """Sum of the numeric values; anything else is ignored, as mongod does."""

    __slots__ = ()

    def init(self) -> Any:
        return 0

    def add(self, state: Any, value: Any) -> Any:
        if type(value) is int and type(state) is int:
            return state + value
        if type(value) not in NUMBER_TYPES:
            return state
        return _add_numbers(state, value)

    def merge(self, a: Any, b: Any) -> Any:
        return _merge_totals(a, b)

    def result(self, state: Any) -> Any:
        return _total_out(state)


class Avg(Accumulator):
    """State ``[total, count]`` over the numeric values, the total kept as ``$sum`` keeps it."""

    __slots__ = ()

    def init(self) -> list:
        return [0, 0]

    def add(self, state: list, value: Any) -> list:
        if type(value) in NUMBER_TYPES:
            state[0] = _add_numbers(state[0], value)
            state[1] += 1
        return state

    def merge(self, a: list, b: list) -> list:
        return [_merge_totals(a[0], b[0]), a[1] + b[1]]

    def result(self, state: list) -> Any:
        total, count = state
        if not count:
            return None
        if type(total) is Decimal:
            return from_decimal(total / count)
        return float(_total_out(total)) / count


class _Extreme(Accumulator):
    """``$min``/``$max`` in BSON order; null and missing never win."""

    __slots__ = ()
    sign = 1

    def init(self) -> Any:
        return MISSING

    def add(self, state: Any, value: Any) -> Any:
        if value is None or value is MISSING:
            return state
        if state is MISSING or compare(value, state) == self.sign:
            return value
        return state

    def merge(self, a: Any, b: Any) -> Any:
        return a if b is MISSING else self.add(a, b)

    def result(self, state: Any) -> Any:
        return None if state is MISSING else state


class Max(_Extreme):
    __slots__ = ()
    sign = 1


class Min(_Extreme):
    __slots__ = ()
    sign = -1


class First(Accumulator):
    """The first document's value; a missing field counts as null."""

    __slots__ = ()

    def init(self) -> Any:
        return MISSING

    def add(self, state: Any, value: Any) -> Any:
        if state is MISSING:
            return None if value is MISSING else value
        return state

    def merge(self, a: Any, b: Any) -> Any:
        return b if a is MISSING else a

    def result(self, state: Any) -> Any:
        return None if state is MISSING else state


class Last(First):
    __slots__ = ()

    def add(self, state: Any, value: Any) -> Any:
        return None if value is MISSING else value

    def merge(self, a: Any, b: Any) -> Any:
        return a if b is MISSING else b


# mongod's internalQueryMaxPushBytes and internalQueryMaxAddToSetBytes.
COLLECTED_BYTES_LIMIT = 100 * 1024 * 1024


class _Values(list):
    """``$push`` state: the values and about what they cost (see :func:`translator._limits.shallow_size`)."""

    __slots__ = ("size",)


class _Set(dict):
    """``$addToSet`` state: each value's hashable form to the value, and about what they cost."""

    __slots__ = ("size",)


def _grown(name: str, state: Any, value: Any) -> int:
    """The state's size once ``value`` joins it; mongod's error past its limit."""
    size = getattr(state, "size", 0) + shallow_size(value)
    if size > COLLECTED_BYTES_LIMIT:
        msg = f"{name} used too much memory and cannot spill to disk. Memory limit: {COLLECTED_BYTES_LIMIT} bytes"
        raise ExpressionError(msg)
    return size


class Push(Accumulator):
    __slots__ = ()

    def init(self) -> list:
        return _Values()

    def add(self, state: list, value: Any) -> list:
        if value is not MISSING:
            size = _grown("$push", state, value)
            if type(state) is not _Values:  # a state restored from before sizes were kept
                state = _Values(state)
            state.append(value)
            state.size = size
        return state

    def merge(self, a: list, b: list) -> list:
        merged = _Values(a + b)
        merged.size = getattr(a, "size", 0) + getattr(b, "size", 0)
        return merged

    def result(self, state: list) -> list:
        return list(state)


class AddToSet(Accumulator):
    __slots__ = ()

    def init(self) -> dict:
        return _Set()

    def add(self, state: dict, value: Any) -> dict:
        if value is not MISSING:
            key = bson_key(value)
            if key not in state:
                size = _grown("$addToSet", state, value)
                if type(state) is not _Set:
                    state = _Set(state)
                state[key] = value
                state.size = size
        return state

    def merge(self, a: dict, b: dict) -> dict:
        merged = _Set(a)
        merged.size = getattr(a, "size", 0)
        for key, value in b.items():
            if key not in merged:
                merged[key] = value
                merged.size += shallow_size(value)
        return merged

    def result(self, state: dict) -> list:
        return list(state.values())


class MergeObjects(Accumulator):
    __slots__ = ()

    def init(self) -> dict:
        return {}

    def add(self, state: dict, value: Any) -> dict:
        if value is None or value is MISSING:
            return state
        if type(value) is not dict:
            msg = f"$mergeObjects requires object inputs, but input {value!r} is of type {bson_type_name(value)}"
            raise ExpressionError(msg)
        state.update(value)
        return state

    def merge(self, a: dict, b: dict) -> dict:
        return {**a, **b}

    def result(self, state: dict) -> dict:
        return dict(state)


class SortKey:
    """Sort values of one document under a ``sortBy`` spec; orders by BSON comparison.

    A module-level class (not ``functools.cmp_to_key``) so states holding keys pickle.
    """

    __slots__ = ("values", "directions")

    def __init__(self, values: tuple, directions: tuple) -> None:
        self.values = values
        self.directions = directions

    def __lt__(self, other: SortKey) -> bool:
        for a, b, direction in zip(self.values, other.values, self.directions):
            found = compare(a, b)
            if found:
                return found == -direction
        return False

    def __getstate__(self) -> tuple:
        return (self.values, self.directions)

    def __setstate__(self, state: tuple) -> None:
        self.values, self.directions = state


def compile_sort_by(spec: Any, at: Path) -> Callable[[dict], SortKey]:
    """``{a: 1, b: -1}`` → ``fn(doc) -> SortKey``; a missing field sorts as null."""
    if type(spec) is not dict or not spec:
        msg = "sortBy must be a non-empty object such as {field: 1}"
        raise SpecError(msg, at)
    getters, directions = [], []
    for field, direction in spec.items():
        if direction not in (1, -1):
            msg = f"sortBy direction for {field!r} must be 1 or -1; got {direction!r}"
            raise SpecError(msg, (*at, field))
        getters.append(compile_field_path(field, (*at, field)))
        directions.append(direction)
    directions_tuple = tuple(directions)

    def sort_key(doc: dict) -> SortKey:
        return SortKey(tuple(None if (v := get(doc, NO_VARS)) is MISSING else v for get in getters), directions_tuple)

    return sort_key


def _constant_n(args: dict, at: Path) -> int:
    n = compile_expression(args["n"], (*at, "n"))
    value = n.constant if is_constant(n) else None
    if type(value) is not int or value < 1:
        msg = f"n must be a positive integer constant; got {args['n']!r}"
        raise SpecError(msg, (*at, "n"))
    return value


class _Best(Accumulator):
    """Keep the ``n`` smallest ``(key, output)`` pairs by key, sorted; ``n`` None means one."""

    __slots__ = ("n",)

    def __init__(self, arg: Compiled, n: int | None) -> None:
        super().__init__(arg)
        self.n = n

    def init(self) -> list:
        return []

    def add(self, state: list, value: tuple) -> list:
        return self._insert(state, value)

    def _insert(self, state: list, pair: tuple) -> list:
        limit = self.n or 1
        if len(state) < limit or pair[0] < state[-1][0]:
            bisect.insort_right(state, pair, key=_first)
            if len(state) > limit:
                state.pop()
        return state

    def merge(self, a: list, b: list) -> list:
        for pair in b:
            a = self._insert(a, pair)
        return a

    def result(self, state: list) -> Any:
        outputs = [None if output is MISSING else output for _, output in state]
        if self.n is None:
            return outputs[0] if outputs else None
        return outputs


def _first(pair: tuple) -> Any:
    return pair[0]


def _compile_top_bottom(args: Any, at: Path, name: str, bottom: bool, with_n: bool) -> _Best:
    required = ("sortBy", "output", "n") if with_n else ("sortBy", "output")
    named_arguments(name, args, at, required)
    sort_by = args["sortBy"]
    if bottom and type(sort_by) is dict:  # the bottom n are the top n under the reversed order
        sort_by = {field: -direction for field, direction in sort_by.items()}
    sort_key = compile_sort_by(sort_by, (*at, "sortBy"))
    output = compile_expression(args["output"], (*at, "output"))

    def arg(doc: dict, vars: Any) -> tuple:
        return (sort_key(doc), output(doc, vars))

    return (_Reversed if bottom and with_n else _Best)(arg, _constant_n(args, at) if with_n else None)


class _Reversed(_Best):
    """``$bottomN``: the top n under the reversed order, reported in the original order."""

    __slots__ = ()

    def result(self, state: list) -> list:
        return super().result(state)[::-1]


class FirstN(Accumulator):
    __slots__ = ("n",)

    def __init__(self, arg: Compiled, n: int) -> None:
        super().__init__(arg)
        self.n = n

    def init(self) -> list:
        return []

    def add(self, state: list, value: Any) -> list:
        if len(state) < self.n:
            state.append(None if value is MISSING else value)
        return state

    def merge(self, a: list, b: list) -> list:
        return (a + b)[: self.n]

    def result(self, state: list) -> list:
        return list(state)


class LastN(FirstN):
    __slots__ = ()

    def add(self, state: list, value: Any) -> list:
        state.append(None if value is MISSING else value)
        if len(state) > self.n:
            del state[0]
        return state

    def merge(self, a: list, b: list) -> list:
        return (a + b)[-self.n :]


class _ExtremesN(_Best):
    """``$maxN``/``$minN``: the n best non-null values; kept as ``(SortKey, value)`` pairs."""

    __slots__ = ("direction",)

    def __init__(self, arg: Compiled, n: int, direction: int) -> None:
        super().__init__(arg, n)
        self.direction = (direction,)

    def add(self, state: list, value: Any) -> list:
        if value is None or value is MISSING:
            return state
        return self._insert(state, (SortKey((value,), self.direction), value))


class Percentile(Accumulator):
    """``$percentile``/``$median``: an exact answer needs the values (not the documents)."""

    __slots__ = ("ps", "method", "single")

    def __init__(self, arg: Compiled, ps: list, method: str, single: bool) -> None:
        super().__init__(arg)
        self.ps = ps
        self.method = method
        self.single = single

    def init(self) -> list:
        return []

    def add(self, state: list, value: Any) -> list:
        if _is_numeric(value):
            state.append(value)
        return state

    def merge(self, a: list, b: list) -> list:
        return a + b

    def result(self, state: list) -> Any:
        found = percentiles_of(state, self.ps, self.method)  # the expression form's rules
        return found[0] if self.single else found


class StdDev(Accumulator):
    """Welford's running ``[count, mean, m2]``; merged with Chan's formula."""

    __slots__ = ("sample",)

    def __init__(self, arg: Compiled, sample: bool) -> None:
        super().__init__(arg)
        self.sample = sample

    def init(self) -> list:
        return [0, 0.0, 0.0]

    def add(self, state: list, value: Any) -> list:
        if not _is_numeric(value):
            return state
        x = float(str(value)) if type(value) is Decimal128 else float(value)
        count = state[0] + 1
        delta = x - state[1]
        mean = state[1] + delta / count
        state[0], state[1], state[2] = count, mean, state[2] + delta * (x - mean)
        return state

    def merge(self, a: list, b: list) -> list:
        count = a[0] + b[0]
        if not count:
            return [0, 0.0, 0.0]
        delta = b[1] - a[1]
        mean = a[1] + delta * b[0] / count
        return [count, mean, a[2] + b[2] + delta * delta * a[0] * b[0] / count]

    def result(self, state: list) -> float | None:
        count = state[0] - (1 if self.sample else 0)
        if count <= 0:
            return None
        return math.sqrt(state[2] / count)


def _unary(cls: type) -> AccumulatorCompiler:
    def compile_unary(args: Any, at: Path) -> Accumulator:
        if type(args) is list:
            msg = f"the {at[-1]} accumulator is a unary operator; got an array"
            raise SpecError(msg, at)
        return cls(compile_expression(args, at))

    return compile_unary


for _name, _cls in {
    "$sum": Sum, "$avg": Avg, "$min": Min, "$max": Max, "$first": First, "$last": Last,
    "$push": Push, "$addToSet": AddToSet, "$mergeObjects": MergeObjects,
}.items():  # fmt: skip
    accumulator(_name)(_unary(_cls))


@accumulator("$count")
def compile_count(args: Any, at: Path) -> Accumulator:
    if args != {}:
        msg = f"$count takes an empty object; got {args!r}"
        raise SpecError(msg, at)
    return Sum(constant(1))


@accumulator("$top")
def compile_top(args: Any, at: Path) -> Accumulator:
    return _compile_top_bottom(args, at, "$top", bottom=False, with_n=False)


@accumulator("$bottom")
def compile_bottom(args: Any, at: Path) -> Accumulator:
    return _compile_top_bottom(args, at, "$bottom", bottom=True, with_n=False)


@accumulator("$topN")
def compile_top_n(args: Any, at: Path) -> Accumulator:
    return _compile_top_bottom(args, at, "$topN", bottom=False, with_n=True)


@accumulator("$bottomN")
def compile_bottom_n(args: Any, at: Path) -> Accumulator:
    return _compile_top_bottom(args, at, "$bottomN", bottom=True, with_n=True)


def _input_and_n(name: str, args: Any, at: Path) -> tuple[Compiled, int]:
    named_arguments(name, args, at, ("input", "n"))
    return compile_expression(args["input"], (*at, "input")), _constant_n(args, at)


@accumulator("$firstN")
def compile_first_n(args: Any, at: Path) -> Accumulator:
    return FirstN(*_input_and_n("$firstN", args, at))


@accumulator("$lastN")
def compile_last_n(args: Any, at: Path) -> Accumulator:
    return LastN(*_input_and_n("$lastN", args, at))


@accumulator("$maxN")
def compile_max_n(args: Any, at: Path) -> Accumulator:
    return _ExtremesN(*_input_and_n("$maxN", args, at), direction=-1)


@accumulator("$minN")
def compile_min_n(args: Any, at: Path) -> Accumulator:
    return _ExtremesN(*_input_and_n("$minN", args, at), direction=1)


def _method(name: str, args: dict, at: Path) -> str:
    method = args["method"]
    if method not in PERCENTILE_METHODS:
        msg = f"{name}.method must be one of {', '.join(PERCENTILE_METHODS)}; got {method!r}"
        raise SpecError(msg, (*at, "method"))
    return method


@accumulator("$median")
def compile_median(args: Any, at: Path) -> Accumulator:
    named_arguments("$median", args, at, ("input", "method"))
    return Percentile(compile_expression(args["input"], (*at, "input")), [0.5], _method("$median", args, at), True)


@accumulator("$percentile")
def compile_percentile(args: Any, at: Path) -> Accumulator:
    named_arguments("$percentile", args, at, ("input", "p", "method"))
    ps = constant_percentiles(args["p"], (*at, "p"), ROOT_SCOPE)
    return Percentile(compile_expression(args["input"], (*at, "input")), ps, _method("$percentile", args, at), False)


@accumulator("$stdDevPop")
def compile_std_dev_pop(args: Any, at: Path) -> Accumulator:
    return StdDev(compile_expression(args, at), sample=False)


@accumulator("$stdDevSamp")
def compile_std_dev_samp(args: Any, at: Path) -> Accumulator:
    return StdDev(compile_expression(args, at), sample=True)
