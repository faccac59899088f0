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

from translator._bson_order import compare
from translator._bson_types import bson_type_name
from translator._types import MISSING, NO_VARS, Compiled, Path
from translator.errors import ExpressionError, SpecError
from translator.expressions import compile_expression
from translator.expressions._numbers import NUMBER_TYPES, from_decimal, integral, to_decimal
from translator.expressions.compile import compile_field_path, constant, is_constant, named_arguments

AccumulatorCompiler = Callable[[Any, Path], "Accumulator"]
ACCUMULATORS: dict[str, AccumulatorCompiler] = {}


def accumulator(name: str) -> Callable[[AccumulatorCompiler], AccumulatorCompiler]:
    """Register the compiler of one accumulator under its MongoDB spelling."""

    def register(compiler: AccumulatorCompiler) -> AccumulatorCompiler:
        if name in ACCUMULATORS:
            msg = f"accumulator {name} registered twice"
            raise RuntimeError(msg)
        ACCUMULATORS[name] = compiler
        return compiler

    return register


def compile_accumulator(spec: Any, at: Path) -> Accumulator:
    """``{"$sum": "$amount"}`` → an Accumulator with its argument compiled."""
    if type(spec) is not dict or len(spec) != 1:
        msg = "an accumulator must be an object with exactly one field, e.g. {$sum: '$x'}"
        raise SpecError(msg, at)
    ((name, args),) = spec.items()
    compiler = ACCUMULATORS.get(name)
    if compiler is None:
        msg = f"unknown group operator {name!r}"
        raise SpecError(msg, (*at, name))
    return compiler(args, (*at, name))


def _is_numeric(value: Any) -> bool:
    return type(value) in NUMBER_TYPES


def _add_numbers(total: Any, value: Any) -> Any:
    """Sum kept as int, float or Decimal (Decimal once any Decimal128 arrives)."""
    if type(total) is Decimal or type(value) is Decimal128:
        return to_decimal(total) + to_decimal(value)
    return total + value


def _number_out(total: Any) -> Any:
    if type(total) is Decimal:
        return from_decimal(total)
    if type(total) is int:
        return integral(total)
    return total


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
        kind = type(value)
        if kind is int or kind is float:
            if type(state) is not Decimal:
                return state + value
        elif kind not in NUMBER_TYPES:
            return state
        return _add_numbers(state, value)

    def merge(self, a: Any, b: Any) -> Any:
        return _add_numbers(a, b)

    def result(self, state: Any) -> Any:
        return _number_out(state)


class Avg(Accumulator):
    """State ``[total, count]`` over the numeric values."""

    __slots__ = ()

    def init(self) -> list:
        return [0, 0]

    def add(self, state: list, value: Any) -> list:
        if _is_numeric(value):
            state[0] = _add_numbers(state[0], value)
            state[1] += 1
        return state

    def merge(self, a: list, b: list) -> list:
        return [_add_numbers(a[0], b[0]), a[1] + b[1]]

    def result(self, state: list) -> Any:
        total, count = state
        if not count:
            return None
        if type(total) is Decimal:
            return from_decimal(total / count)
        return total / count


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


class Push(Accumulator):
    __slots__ = ()

    def init(self) -> list:
        return []

    def add(self, state: list, value: Any) -> list:
        if value is not MISSING:
            state.append(value)
        return state

    def merge(self, a: list, b: list) -> list:
        return a + b

    def result(self, state: list) -> list:
        return list(state)


class AddToSet(Accumulator):
    """State maps each value's hashable form to the value, so equal values appear once."""

    __slots__ = ()

    def init(self) -> dict:
        return {}

    def add(self, state: dict, value: Any) -> dict:
        if value is not MISSING:
            state.setdefault(hashable(value), value)
        return state

    def merge(self, a: dict, b: dict) -> dict:
        merged = dict(a)
        for key, value in b.items():
            merged.setdefault(key, value)
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
        limit = self.n or 1
        if len(state) < limit or value[0] < state[-1][0]:
            bisect.insort_right(state, value, key=_first)
            if len(state) > limit:
                state.pop()
        return state

    def merge(self, a: list, b: list) -> list:
        for value in b:
            a = self.add(a, value)
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

    best = _Best(arg, _constant_n(args, at) if with_n else None)
    return _Reversed(best) if bottom and with_n else best


class _Reversed(Accumulator):
    """``$bottomN``: the top n under the reversed order, reported in the original order."""

    __slots__ = ("inner",)

    def __init__(self, inner: _Best) -> None:
        super().__init__(inner.arg)
        self.inner = inner

    def init(self) -> list:
        return []

    def add(self, state: list, value: tuple) -> list:
        return self.inner.add(state, value)

    def merge(self, a: list, b: list) -> list:
        return self.inner.merge(a, b)

    def result(self, state: list) -> list:
        return self.inner.result(state)[::-1]


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
        return super().add(state, (SortKey((value,), self.direction), value))


def _numeric_values(state: list, value: Any) -> list:
    if _is_numeric(value):
        state.append(float(str(value)) if type(value) is Decimal128 else float(value))
    return state


def percentile_of(values: list, p: float, method: str) -> float | None:
    """mongod's rules: "approximate"/"discrete" pick a data value, "continuous" interpolates."""
    if not values:
        return None
    ordered = sorted(values)
    if method == "continuous":
        position = p * (len(ordered) - 1)
        low = math.floor(position)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


class Percentile(Accumulator):
    """``$percentile``/``$median``: an exact answer needs the numeric values (not documents)."""

    __slots__ = ("ps", "method", "single")

    def __init__(self, arg: Compiled, ps: list, method: str, single: bool) -> None:
        super().__init__(arg)
        self.ps = ps
        self.method = method
        self.single = single

    def init(self) -> list:
        return []

    def add(self, state: list, value: Any) -> list:
        return _numeric_values(state, value)

    def merge(self, a: list, b: list) -> list:
        return a + b

    def result(self, state: list) -> Any:
        found = [percentile_of(state, p, self.method) for p in self.ps]
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


def hashable(value: Any) -> Any:
    """A hashable stand-in equal exactly when the BSON values are equal.

    Python's ``True == 1`` and NaN's ``nan != nan`` both differ from BSON, and documents and
    arrays are not hashable; field order matters in documents, as in mongod's ``$group``.
    """
    kind = type(value)
    if kind is str or kind is int:
        return value
    if kind is float:
        return value if value == value else ("nan",)
    if value is None or value is MISSING:
        return None
    if kind is bool:
        return ("bool", value)
    if kind is dict:
        return ("doc", tuple((k, hashable(v)) for k, v in value.items()))
    if kind is list or kind is tuple:
        return ("arr", tuple(hashable(v) for v in value))
    if _is_numeric(value):
        number = to_decimal(value)
        return ("nan",) if number.is_nan() else number
    try:
        hash(value)
    except TypeError:
        return ("repr", kind.__name__, repr(value))
    return value


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


_PERCENTILE_METHODS = ("approximate", "discrete", "continuous")


def _method(name: str, args: dict, at: Path) -> str:
    method = args["method"]
    if method not in _PERCENTILE_METHODS:
        msg = f"{name}.method must be one of {', '.join(_PERCENTILE_METHODS)}; got {method!r}"
        raise SpecError(msg, (*at, "method"))
    return method


@accumulator("$median")
def compile_median(args: Any, at: Path) -> Accumulator:
    named_arguments("$median", args, at, ("input", "method"))
    return Percentile(compile_expression(args["input"], (*at, "input")), [0.5], _method("$median", args, at), True)


@accumulator("$percentile")
def compile_percentile(args: Any, at: Path) -> Accumulator:
    named_arguments("$percentile", args, at, ("input", "p", "method"))
    ps = args["p"]
    if type(ps) is not list or not ps or not all(type(p) in (int, float) and 0 <= p <= 1 for p in ps):
        msg = f"$percentile.p must be a non-empty array of numbers between 0 and 1; got {ps!r}"
        raise SpecError(msg, (*at, "p"))
    return Percentile(compile_expression(args["input"], (*at, "input")), ps, _method("$percentile", args, at), False)


@accumulator("$stdDevPop")
def compile_std_dev_pop(args: Any, at: Path) -> Accumulator:
    return StdDev(compile_expression(args, at), sample=False)


@accumulator("$stdDevSamp")
def compile_std_dev_samp(args: Any, at: Path) -> Accumulator:
    return StdDev(compile_expression(args, at), sample=True)
