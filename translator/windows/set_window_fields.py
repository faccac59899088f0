"""``$setWindowFields`` over a stream: each arriving document leaves once, with its window's values.

https://www.mongodb.com/docs/manual/reference/operator/aggregation/setWindowFields/

Atlas has no ``$setWindowFields``; sluice runs it over a stream with these rules:

- A window reaching past the current document (``documents: [-1, 1]``, ``range: [0, 5]``,
  ``$shift`` with a positive ``by``) holds the document until its window is complete: the
  later documents have arrived in its partition, or one sorts past the range. Documents of a
  partition still leave in arrival order; when the stream ends, held ones leave with the
  windows they have. An ``"unbounded"`` upper bound would wait for the end, so it is refused.
- Documents arrive in ``sortBy`` order per partition ("documents" windows count arrivals).
  A ``range`` window holds the kept documents whose sort value lies in range, whatever their
  arrival order; documents that fell out of every future window are pruned as it slides.
- No ``window`` (or an unbounded lower bound) means everything so far in the partition: a
  running accumulator state, nothing kept.
- The seed's ``"range": [-5, "minute"]`` reads as ``[-5, "current"]`` in minutes: the five
  minutes up to the current document.
- ``$linearFill`` holds a run of null documents until the next value arrives (or the stream
  ends), then emits them, filled, in arrival order.
"""

from __future__ import annotations

import copy
from collections import deque
from datetime import datetime, timedelta
from typing import Any, Callable

from connectors.dead_letters import DeadLetters, dead_letter
from connectors.stream_meta import chunks
from translator._bson_types import bson_type_name
from translator._types import MISSING, NO_VARS, Compiled, Path
from translator.errors import ExpressionError, SpecError
from translator.expressions import compile_expression
from translator.expressions._numbers import NUMBER_TYPES
from translator.expressions.compile import compile_field_path, named_arguments
from translator._bson_order import bson_key
from translator.windows.accumulators import ACCUMULATORS, Accumulator, SortKey, compile_sort_by
from translator.windows.spec import EPOCH

RANGE_UNITS = {
    "week": timedelta(weeks=1),
    "day": timedelta(days=1),
    "hour": timedelta(hours=1),
    "minute": timedelta(minutes=1),
    "second": timedelta(seconds=1),
    "millisecond": timedelta(milliseconds=1),
}
_MS = timedelta(milliseconds=1)
UNBOUNDED = None


def _position(value: Any) -> float | None:
    """A sort value on the number line: dates in milliseconds since the epoch."""
    if type(value) is datetime:
        return (value - EPOCH) / _MS
    if type(value) in NUMBER_TYPES:
        return float(str(value)) if type(value) not in (int, float) else value
    return None


class Bounds:
    """A window: ``lower`` None is unbounded; offsets are arrivals or sort-value units."""

    def __init__(self, by_range: bool, lower: float | None, upper: float, scale: float) -> None:
        self.by_range = by_range
        self.lower = lower
        self.upper = upper
        self.scale = scale  # milliseconds per range unit, 1 without a unit


def parse_bounds(spec: Any, at: Path) -> Bounds | None:
    """``{documents: [lo, hi]}`` or ``{range: [lo, hi], unit}``; None for no window."""
    if spec is None:
        return None
    if type(spec) is not dict or not spec or set(spec) - {"documents", "range", "unit"}:
        msg = f"window must be {{documents: [lower, upper]}} or {{range: [lower, upper], unit}}; got {spec!r}"
        raise SpecError(msg, at)
    by_range = "range" in spec
    if by_range == ("documents" in spec):
        msg = "window takes exactly one of documents and range"
        raise SpecError(msg, at)
    field = "range" if by_range else "documents"
    bounds = spec[field]
    unit = spec.get("unit")
    if by_range and type(bounds) is list and len(bounds) == 2 and bounds[1] in RANGE_UNITS:
        # The seed's [-5, "minute"]: a lower bound and its unit, up to the current document.
        if unit not in (None, bounds[1]):
            msg = f"range unit {bounds[1]!r} disagrees with unit {unit!r}"
            raise SpecError(msg, (*at, field))
        unit, bounds = bounds[1], [bounds[0], "current"]
    if type(bounds) is not list or len(bounds) != 2:
        msg = f"{field} must be an array [lower, upper]; got {bounds!r}"
        raise SpecError(msg, (*at, field))
    if unit is not None and (not by_range or unit not in RANGE_UNITS):
        msg = f"unit must be one of {', '.join(RANGE_UNITS)} with a range window; got {unit!r}"
        raise SpecError(msg, (*at, "unit"))
    lower, upper = (_bound(b, by_range, (*at, field, str(i))) for i, b in enumerate(bounds))
    if upper is UNBOUNDED:
        msg = "over a stream a window cannot reach the end of the stream; give the upper bound as a number or 'current'"
        raise SpecError(msg, (*at, field, "1"))
    if lower is not UNBOUNDED and lower > upper:
        msg = f"lower bound {bounds[0]!r} is after upper bound {bounds[1]!r}"
        raise SpecError(msg, (*at, field))
    scale = RANGE_UNITS[unit] / _MS if unit else 1
    return Bounds(by_range, lower, upper, scale)


def _bound(value: Any, by_range: bool, at: Path) -> float | None:
    if value == "current":
        return 0
    if value == "unbounded":
        return UNBOUNDED
    if type(value) is int or (by_range and type(value) is float):
        return value
    msg = f"expected {'a number' if by_range else 'an integer'}, 'current' or 'unbounded'; got {value!r}"
    raise SpecError(msg, at)


class WindowOutput:
    """One output field: ``init()`` per partition, then ``compute(state, doc, position)``."""

    needs_position = False
    waits = False  # a FutureWindow: its value comes with later documents

    def init(self) -> Any:
        return None

    def compute(self, state: Any, doc: dict, position: float | None) -> tuple[Any, Any]:
        """Returns ``(new state, value)``."""
        raise NotImplementedError


class RunningAccumulator(WindowOutput):
    """Everything so far: the accumulator's own state, optionally lagging ``-upper`` documents."""

    def __init__(self, acc: Accumulator, lag: int) -> None:
        self.acc = acc
        self.lag = lag

    def init(self) -> list:
        return [self.acc.init(), deque()]

    def compute(self, state: list, doc: dict, position: Any) -> tuple[Any, Any]:
        pending = state[1]
        pending.append(self.acc.arg(doc, NO_VARS))
        while len(pending) > self.lag:
            state[0] = self.acc.add(state[0], pending.popleft())
        return state, self.acc.result(state[0])


class WindowedFunction(WindowOutput):
    """A bounded window: the kept argument values, folded afresh for each document."""

    def __init__(self, arg: Callable[[dict, Any], Any], fold: Callable[[list], Any], bounds: Bounds) -> None:
        self.arg = arg
        self.fold = fold
        self.bounds = bounds
        self.needs_position = bounds.by_range

    def init(self) -> Any:
        if self.bounds.by_range:
            return []  # (position, value), pruned as the window slides
        return deque(maxlen=int(-self.bounds.lower) + 1)

    def compute(self, state: Any, doc: dict, position: Any) -> tuple[Any, Any]:
        value = self.arg(doc, position)
        bounds = self.bounds
        if not bounds.by_range:
            state.append(value)
            kept = list(state)
            return state, self.fold(kept[: len(kept) + int(bounds.upper)] if bounds.upper else kept)
        state.append((position, value))
        horizon = max(p for p, _ in state) + bounds.lower * bounds.scale
        state[:] = [entry for entry in state if entry[0] >= horizon]
        return state, self.fold(self._in_range(state, position))

    def _in_range(self, kept: list, start: float) -> list:
        """The values of the (position, value) pairs inside the range window of ``start``."""
        low, high = start + self.bounds.lower * self.bounds.scale, start + self.bounds.upper * self.bounds.scale
        return [value for at, value in kept if low <= at <= high]


class FutureWindow(WindowedFunction):
    """A bounded window reaching past the current document: ``hold`` takes ``compute``'s place.

    ``hold(state, value, position, entry)`` queues ``entry`` (``[output document, fields
    still missing, input document, failure]``) with the document's ``arg`` value and fills
    the entries whose window is complete; ``flush(state)`` fills the rest with what their
    windows hold when the stream ends. A window that fails marks its entry for the DLQ.
    """

    waits = True

    def __init__(self, field: str, arg: Callable[[dict, Any], Any], fold: Callable[[list], Any], bounds: Bounds) -> None:
        super().__init__(arg, fold, bounds)
        self.field = field

    def init(self) -> list:
        if self.bounds.by_range:
            return [[], deque()]  # (position, value) kept; (position, entry) waiting
        # Exactly one window's values: when the document ``upper`` arrivals back completes,
        # these are its window (or all there is, early in the partition).
        return [deque(maxlen=int(self.bounds.upper - self.bounds.lower) + 1), deque()]

    def hold(self, state: list, value: Any, position: Any, entry: list) -> list:
        kept, waiting = state
        bounds = self.bounds
        if not bounds.by_range:
            kept.append(value)
            waiting.append(entry)
            if len(waiting) > bounds.upper:
                self._fill(waiting.popleft(), list(kept))
            return state
        kept.append((position, value))
        waiting.append((position, entry))
        while waiting[0][0] + bounds.upper * bounds.scale < position:
            start, done = waiting.popleft()
            self._fill(done, self._in_range(kept, start))
        horizon = waiting[0][0] + bounds.lower * bounds.scale
        kept[:] = [item for item in kept if item[0] >= horizon]
        return state

    def flush(self, state: list) -> None:
        """The stream ended: each waiting window is cut at the last document."""
        kept, waiting = state
        while waiting:
            if self.bounds.by_range:
                start, done = waiting.popleft()
                self._fill(done, self._in_range(kept, start))
                continue
            after = len(waiting) - 1  # documents that followed this one
            count = after - int(self.bounds.lower) + 1
            values = list(kept)
            self._fill(waiting.popleft(), values[max(len(values) - count, 0) :] if count > 0 else [])

    def _fill(self, entry: list, values: list) -> None:
        entry[1] -= 1
        try:
            entry[0][self.field] = self.fold(values)
        except ExpressionError as error:
            entry[3] = entry[3] or str(error)


class Rank(WindowOutput):
    """``$rank``/``$denseRank``/``$documentNumber`` over arrival order, ties by sort value."""

    def __init__(self, kind: str, sort_key: Callable[[dict], SortKey] | None) -> None:
        self.slot = {"$documentNumber": 0, "$rank": 1, "$denseRank": 2}[kind]
        self.sort_key = sort_key

    def init(self) -> list:
        return [0, 0, 0, None]  # documents, rank, dense rank, last sort values

    def compute(self, state: list, doc: dict, position: Any) -> tuple[Any, Any]:
        key = bson_key(self.sort_key(doc).values) if self.sort_key is not None else state[0]
        state[0] += 1
        if state[0] == 1 or key != state[3]:
            state[1] = state[0]
            state[2] += 1
            state[3] = key
        return state, state[self.slot]


class Shift(WindowOutput):
    """``$shift`` by zero or a negative offset: an earlier document's ``output``."""

    def __init__(self, output: Compiled, by: int, default: Any) -> None:
        self.output = output
        self.by = by
        self.default = default

    def init(self) -> deque:
        return deque(maxlen=-self.by + 1)

    def compute(self, state: deque, doc: dict, position: Any) -> tuple[Any, Any]:
        value = self.output(doc, NO_VARS)
        state.append(None if value is MISSING else value)
        return state, state[0] if len(state) == state.maxlen else self.default


class Locf(WindowOutput):
    """Last observation carried forward: the latest non-null value so far."""

    def __init__(self, arg: Compiled) -> None:
        self.arg = arg

    def compute(self, state: Any, doc: dict, position: Any) -> tuple[Any, Any]:
        value = self.arg(doc, NO_VARS)
        if value is not None and value is not MISSING:
            return value, value
        return state, state


class ExpMovingAvg(WindowOutput):
    def __init__(self, arg: Compiled, alpha: float) -> None:
        self.arg = arg
        self.alpha = alpha

    def compute(self, state: Any, doc: dict, position: Any) -> tuple[Any, Any]:
        value = self.arg(doc, NO_VARS)
        if type(value) not in NUMBER_TYPES:
            return state, None
        value = float(str(value)) if type(value) not in (int, float) else value
        state = value if state is None else self.alpha * value + (1 - self.alpha) * state
        return state, state


class LinearFill(WindowOutput):
    """Marker: the engine holds null documents until the next value (see the module doc)."""

    needs_position = True

    def __init__(self, arg: Compiled) -> None:
        self.arg = arg

    def compute(self, state: Any, doc: dict, position: Any) -> tuple[Any, Any]:
        value = self.arg(doc, NO_VARS)
        return state, None if value is MISSING else value


def _numbers(pairs: list) -> list:
    return [(x, float(y)) for x, y in pairs if x is not None and type(y) in (int, float)]


def _derivative(scale: float) -> Callable[[list], Any]:
    def fold(pairs: list) -> Any:
        points = sorted(_numbers(pairs))
        if len(points) < 2 or points[-1][0] == points[0][0]:
            return None
        return (points[-1][1] - points[0][1]) / ((points[-1][0] - points[0][0]) / scale)

    return fold


def _integral(scale: float) -> Callable[[list], Any]:
    def fold(pairs: list) -> Any:
        points = sorted(_numbers(pairs))
        if not points:
            return None
        return sum((x2 - x1) / scale * (y1 + y2) / 2 for (x1, y1), (x2, y2) in zip(points, points[1:]))

    return fold


def _covariance(sample: bool) -> Callable[[list], Any]:
    def fold(pairs: list) -> Any:
        points = [(float(x), float(y)) for x, y in pairs if type(x) in (int, float) and type(y) in (int, float)]
        count = len(points) - (1 if sample else 0)
        if count <= 0:
            return None
        mean_x = sum(x for x, _ in points) / len(points)
        mean_y = sum(y for _, y in points) / len(points)
        return sum((x - mean_x) * (y - mean_y) for x, y in points) / count

    return fold


_ORDER_ONLY = ("$rank", "$denseRank", "$documentNumber", "$shift", "$locf", "$linearFill", "$expMovingAvg")


def compile_output(field: str, spec: Any, sort_key: Callable[[dict], SortKey] | None, at: Path) -> WindowOutput:
    """One entry of ``output``: the operator plus its optional ``window``; ``sort_key`` is the compiled ``sortBy``."""
    if type(spec) is not dict:
        msg = f"output field {field!r} must be an object like {{$sum: '$x', window: {{...}}}}"
        raise SpecError(msg, at)
    names = [key for key in spec if key != "window"]
    if len(names) != 1:
        msg = f"output field {field!r} needs exactly one window operator; got {names}"
        raise SpecError(msg, at)
    (name,) = names
    args, where = spec[name], (*at, name)
    bounds = parse_bounds(spec.get("window"), (*at, "window"))
    if name in _ORDER_ONLY and bounds is not None:
        msg = f"{name} does not take a window"
        raise SpecError(msg, (*at, "window"))
    if (bounds is not None and bounds.by_range) or name in ("$rank", "$denseRank", "$linearFill", "$derivative", "$integral"):
        if sort_key is None:
            msg = f"{name}{' with a range window' if bounds and bounds.by_range else ''} requires sortBy"
            raise SpecError(msg, at)
    if name in ("$rank", "$denseRank", "$documentNumber"):
        if args != {}:
            msg = f"{name} takes an empty object; got {args!r}"
            raise SpecError(msg, where)
        return Rank(name, sort_key)
    if name == "$shift":
        named_arguments(name, args, where, ("output", "by"), ("default",))
        by = args["by"]
        if type(by) is not int:
            msg = f"$shift.by must be an integer; got {by!r}"
            raise SpecError(msg, (*where, "by"))
        shifted = compile_expression(args["output"], (*where, "output"))
        if by <= 0:
            return Shift(shifted, by, args.get("default"))
        default = args.get("default")
        return FutureWindow(
            field,
            lambda doc, _: _null_if_missing(shifted(doc, NO_VARS)),
            lambda values: values[0] if values else default,
            Bounds(False, by, by, 1),
        )
    if name == "$locf":
        return Locf(compile_expression(args, where))
    if name == "$linearFill":
        return LinearFill(compile_expression(args, where))
    if name == "$expMovingAvg":
        named_arguments(name, args, where, ("input",), ("N", "alpha"))
        if ("N" in args) == ("alpha" in args):
            msg = "$expMovingAvg takes exactly one of N and alpha"
            raise SpecError(msg, where)
        alpha = 2 / (args["N"] + 1) if "N" in args else args["alpha"]
        if type(alpha) not in (int, float) or not 0 < alpha < 1:
            msg = f"$expMovingAvg needs N a positive integer or alpha between 0 and 1; got {args!r}"
            raise SpecError(msg, where)
        return ExpMovingAvg(compile_expression(args["input"], (*where, "input")), alpha)
    if name in ("$derivative", "$integral"):
        named_arguments(name, args, where, ("input",), ("unit",))
        if bounds is None or bounds.lower is UNBOUNDED:
            msg = f"over a stream {name} needs a bounded window"
            raise SpecError(msg, (*at, "window"))
        unit = args.get("unit")
        if unit is not None and unit not in RANGE_UNITS:
            msg = f"{name}.unit must be one of {', '.join(RANGE_UNITS)}; got {unit!r}"
            raise SpecError(msg, (*where, "unit"))
        scale = RANGE_UNITS[unit] / _MS if unit else 1
        value = compile_expression(args["input"], (*where, "input"))
        fold = (_derivative if name == "$derivative" else _integral)(scale)
        output = _windowed(field, lambda doc, x: (x, value(doc, NO_VARS)), fold, bounds)
        output.needs_position = True
        return output
    if name in ("$covariancePop", "$covarianceSamp"):
        if type(args) is not list or len(args) != 2:
            msg = f"{name} takes two expressions; got {args!r}"
            raise SpecError(msg, where)
        x, y = (compile_expression(a, (*where, str(i))) for i, a in enumerate(args))
        if bounds is None or bounds.lower is UNBOUNDED:
            msg = f"over a stream {name} needs a bounded window"
            raise SpecError(msg, (*at, "window"))
        return _windowed(field, lambda doc, _: (x(doc, NO_VARS), y(doc, NO_VARS)), _covariance(name == "$covarianceSamp"), bounds)
    if name not in ACCUMULATORS:
        msg = f"unknown window operator {name!r}"
        raise SpecError(msg, where)
    acc = ACCUMULATORS[name](args, where)
    if bounds is None:
        return RunningAccumulator(acc, 0)
    if bounds.lower is UNBOUNDED:
        if bounds.upper > 0:
            msg = "over a stream a window reaching past the current document needs a lower bound"
            raise SpecError(msg, (*at, "window"))
        return RunningAccumulator(acc, int(-bounds.upper))
    return _windowed(field, lambda doc, _: acc.arg(doc, NO_VARS), acc.fold, bounds)


def _windowed(field: str, arg: Callable[[dict, Any], Any], fold: Callable[[list], Any], bounds: Bounds) -> WindowOutput:
    """A bounded window: computed on arrival, or held until later documents complete it."""
    if bounds.upper > 0:
        return FutureWindow(field, arg, fold, bounds)
    return WindowedFunction(arg, fold, bounds)


def _null_if_missing(value: Any) -> Any:
    return None if value is MISSING else value


class SetWindowFields:
    """The engine: per-partition state, driven like the window engines (chunks in, chunks out)."""

    def __init__(self, spec: Any) -> None:
        if type(spec) is not dict or "output" not in spec or set(spec) - {"partitionBy", "sortBy", "output"}:
            msg = "$setWindowFields expects {partitionBy?, sortBy?, output}"
            raise SpecError(msg, ())
        self.partition_by = compile_expression(spec["partitionBy"], ("partitionBy",)) if "partitionBy" in spec else None
        sort_by = spec.get("sortBy")
        sort_key = compile_sort_by(sort_by, ("sortBy",)) if sort_by is not None else None
        output = spec["output"]
        if type(output) is not dict or not output:
            msg = "output must be a non-empty object of fields"
            raise SpecError(msg, ("output",))
        self.outputs = [(field, compile_output(field, out, sort_key, ("output", field))) for field, out in output.items()]
        self.fields = [field for field, _ in self.outputs]
        # Computed on arrival; the others keep their field's place (None) until their window completes.
        self.computed = [(i, out) for i, (_, out) in enumerate(self.outputs) if not out.waits]
        self.fill = [i for i, (_, out) in enumerate(self.outputs) if isinstance(out, LinearFill)]
        if len(self.fill) > 1:
            msg = "over a stream one $linearFill per $setWindowFields is supported"
            raise SpecError(msg, ("output",))
        self.waiting = [(i, out) for i, (_, out) in enumerate(self.outputs) if out.waits]
        if self.fill and self.waiting:
            msg = "over a stream $linearFill cannot share a $setWindowFields with windows reaching past the current document"
            raise SpecError(msg, ("output",))
        self.position = None
        if any(out.needs_position for _, out in self.outputs):
            if len(sort_by) != 1 or next(iter(sort_by.values())) != 1:
                msg = "range windows, $derivative, $integral and $linearFill need sortBy on one field, ascending (the stream's order)"
                raise SpecError(msg, ("sortBy",))
            self.position = compile_field_path(next(iter(sort_by)), ("sortBy",))
        # hashable partition -> [output states, held for $linearFill, fill anchor, held for later windows]
        self.partitions: dict[Any, list] = {}

    def process(self, chunk: list, now: datetime) -> list:
        out: list = []
        dead = DeadLetters()
        for doc in chunk:
            try:
                out.extend(self._one(doc, dead))
            except ExpressionError as error:
                dead.append(_failed(doc, error))
            except _NoPosition as error:
                dead.append(dead_letter(doc, str(error)))
        return chunks(out, dead)

    def _one(self, doc: dict, dead: DeadLetters) -> list:
        key = self.partition_by(doc, NO_VARS) if self.partition_by is not None else None
        position = None
        if self.position is not None:
            raw = self.position(doc, NO_VARS)
            position = _position(raw)
            if position is None:
                msg = f"$setWindowFields expected a number or date to sort by; got {bson_type_name(raw)}"
                raise _NoPosition(msg)
        part = self.partitions.get(bson_key(key))
        if part is None:
            part = self.partitions[bson_key(key)] = [[out.init() for _, out in self.outputs], [], None, deque()]
        states = part[0]
        values: list = [None] * len(self.fields)
        for i, output in self.computed:
            states[i], values[i] = output.compute(states[i], doc, position)
        out = dict(doc)  # stages never mutate their input
        for field, value in zip(self.fields, values):
            out[field] = value
        if self.waiting:
            return self._hold(part, doc, out, position, dead)
        if not self.fill:
            return [out]
        return self._fill(part, out, position, self.outputs[self.fill[0]][0])

    def _hold(self, part: list, doc: dict, out: dict, position: float | None, dead: DeadLetters) -> list:
        """Queue the document until every window reaching past it is complete; release in order."""
        values = [output.arg(doc, position) for _, output in self.waiting]  # may fail: nothing held yet
        entry = [out, len(self.waiting), doc, None]
        part[3].append(entry)
        states = part[0]
        for (i, output), value in zip(self.waiting, values):
            states[i] = output.hold(states[i], value, position, entry)
        return _release(part[3], dead)

    def _fill(self, part: list, doc: dict, position: float, field: str) -> list:
        """Hold null documents after a known value; release them filled when the next comes."""
        held, anchor = part[1], part[2]
        value = doc[field]
        if value is None or type(value) not in (int, float):
            if anchor is None:
                return [doc]
            held.append((position, doc))
            return []
        if anchor is not None:
            x0, y0 = anchor
            for x, waiting in held:
                waiting[field] = y0 + (value - y0) * (x - x0) / (position - x0) if position != x0 else y0
        released = [waiting for _, waiting in held] + [doc]
        held.clear()
        part[2] = (position, value)
        return released

    def on_time(self, now: datetime) -> list:
        return []

    def close_all(self) -> list:
        """The stream ended: held documents leave, unfilled (null) by $linearFill, as no value
        follows them, and with windows cut at the last document."""
        released: list = []
        dead = DeadLetters()
        for part in self.partitions.values():
            released.extend(doc for _, doc in part[1])
            part[1] = []
            for i, output in self.waiting:
                output.flush(part[0][i])
            released.extend(_release(part[3], dead))
        return chunks(released, dead)

    def next_wake(self) -> None:
        return None

    def held(self) -> dict:
        """What the partitions hold (documents waiting, running values): the stats' state size."""
        return self.partitions

    def snapshot(self) -> dict:
        return self.partitions

    def restore(self, snapshot: dict, now: datetime) -> None:
        self.partitions = snapshot


def _failed(doc: dict, reason: Any) -> dict:
    return dead_letter(doc, f"$setWindowFields failed: {reason}")


def _release(held: deque, dead: DeadLetters) -> list:
    """The complete entries at the head of a partition's queue: documents, or DLQ records."""
    released = []
    while held and held[0][1] == 0:
        out, _, doc, failure = held.popleft()
        if failure is None:
            released.append(out)
        else:
            dead.append(_failed(doc, failure))
    return released


class _NoPosition(Exception):
    """A document without a usable sort value: it goes to the DLQ."""


def set_window_fields_factory(spec: Any) -> Callable[[], SetWindowFields]:
    """Check and compile once (errors surface at translation time); each call gives fresh state."""
    compiled = SetWindowFields(spec)

    def fresh() -> SetWindowFields:
        engine = copy.copy(compiled)
        engine.partitions = {}
        return engine

    return fresh
