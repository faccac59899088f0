"""``$setWindowFields`` over a stream: each arriving document leaves once, with its window's values.

https://www.mongodb.com/docs/manual/reference/operator/aggregation/setWindowFields/

Atlas has no ``$setWindowFields``; sluice runs it over a stream with these rules:

- Documents arrive in ``sortBy`` order per partition ("documents" windows count arrivals).
  A ``range`` window holds the kept documents whose sort value lies in range, whatever their
  arrival order; documents that fell out of every future window are pruned as it slides.
  ``unit`` may be a calendar unit (``month``, ``quarter``, ``year``): bounds move by calendar
  months as ``$dateAdd`` does.
- A window reaching past the current document (``documents: [-1, 1]``, ``range: [0, 5]``,
  ``$shift`` with a positive ``by``) holds the document until its window is complete: the
  later documents have arrived in its partition, or one sorts past the range. Documents leave
  the stage in the order they came in, whatever the partition; when the stream ends, held
  ones leave with the windows they have.
- An unbounded lower bound with an upper bound at or before the current document is a running
  computation: nothing kept but the accumulator's state.
- No ``window`` is MongoDB's default, the whole partition, and an ``"unbounded"`` upper bound
  reaches the partition's end: over a finite source (``documents``) the documents wait for the
  end of the stream and get the documented values; over an endless source that would never
  happen, so it is refused, suggesting ``["unbounded", "current"]``.
- The seed's ``"range": [-5, "minute"]`` reads as ``[-5, "current"]`` in minutes: the five
  minutes up to the current document.
- ``$linearFill`` holds a run of null documents until the next value arrives (or the stream
  ends), then emits them, filled, in arrival order.
- A dotted output name (``"stats.runningTotal"``) sets a nested field, as ``$addFields`` does.
"""

from __future__ import annotations

import copy
import math
from collections import deque
from datetime import datetime, timedelta
from typing import Any, Callable

from runtime.dead_letters import DeadLetters, dead_letter
from runtime.stream_meta import chunks
from translator._bson_types import bson_type_name
from translator._types import MISSING, NO_VARS, Compiled, Path
from translator.errors import ExpressionError, SpecError
from translator.expressions import compile_expression
from translator.expressions._numbers import NUMBER_TYPES
from translator.expressions.compile import compile_field_path, named_arguments
from translator.expressions.date import MONTHS_PER_UNIT, UTC_ZONE, date_add
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
CALENDAR_UNITS = tuple(MONTHS_PER_UNIT)  # month, quarter, year: as many days as the calendar says
_MS = timedelta(milliseconds=1)
# Values one window may hold at once: about mongod's 100 MiB of $setWindowFields memory.
MAX_WINDOW_VALUES = 1_000_000
UNBOUNDED = None


def _position(value: Any) -> float | None:
    """A sort value on the number line: dates in milliseconds since the epoch."""
    if type(value) is datetime:
        return (value - EPOCH) / _MS
    if type(value) in NUMBER_TYPES:
        return float(str(value)) if type(value) not in (int, float) else value
    return None


class Bounds:
    """A window: a bound None is unbounded; offsets are arrivals or sort-value units."""

    def __init__(self, by_range: bool, lower: float | None, upper: float | None, unit: str | None = None) -> None:
        self.by_range = by_range
        self.lower = lower
        self.upper = upper
        self.unit = unit if unit in CALENDAR_UNITS else None
        self.scale = RANGE_UNITS[unit] / _MS if unit in RANGE_UNITS else 1  # ms per fixed range unit

    def _shift(self, position: float, offset: float) -> float:
        if self.unit is None:
            return position + offset * self.scale
        moved = date_add(EPOCH + position * _MS, self.unit, int(offset), UTC_ZONE)
        return (moved - EPOCH) / _MS

    def low(self, position: float) -> float:
        """The lowest sort value in the range window of a document at ``position``."""
        return -math.inf if self.lower is UNBOUNDED else self._shift(position, self.lower)

    def high(self, position: float) -> float:
        return math.inf if self.upper is UNBOUNDED else self._shift(position, self.upper)


WHOLE_PARTITION = Bounds(False, UNBOUNDED, UNBOUNDED)  # MongoDB's default window


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
    if by_range and type(bounds) is list and len(bounds) == 2 and bounds[1] in (*RANGE_UNITS, *CALENDAR_UNITS):
        # The seed's [-5, "minute"]: a lower bound and its unit, up to the current document.
        if unit not in (None, bounds[1]):
            msg = f"range unit {bounds[1]!r} disagrees with unit {unit!r}"
            raise SpecError(msg, (*at, field))
        unit, bounds = bounds[1], [bounds[0], "current"]
    if type(bounds) is not list or len(bounds) != 2:
        msg = f"{field} must be an array [lower, upper]; got {bounds!r}"
        raise SpecError(msg, (*at, field))
    if unit is not None and (not by_range or unit not in (*RANGE_UNITS, *CALENDAR_UNITS)):
        msg = f"unit must be one of {', '.join((*CALENDAR_UNITS, *RANGE_UNITS))} with a range window; got {unit!r}"
        raise SpecError(msg, (*at, "unit"))
    lower, upper = (_bound(b, by_range, (*at, field, str(i))) for i, b in enumerate(bounds))
    if unit in CALENDAR_UNITS:
        for i, bound in enumerate((lower, upper)):
            if bound is not UNBOUNDED and bound != int(bound):
                msg = f"with unit {unit!r} a range bound must be a whole number; got {bound!r}"
                raise SpecError(msg, (*at, field, str(i)))
    if lower is not UNBOUNDED and upper is not UNBOUNDED and lower > upper:
        msg = f"lower bound {bounds[0]!r} is after upper bound {bounds[1]!r}"
        raise SpecError(msg, (*at, field))
    return Bounds(by_range, lower, upper, unit)


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


class Fold:
    """An incremental computation over a window's argument values: ``init``, ``add``, ``result``."""

    def __init__(self, init: Callable[[], Any], add: Callable[[Any, Any], Any], result: Callable[[Any], Any], ordered: bool = False) -> None:
        self.init = init
        self.add = add
        self.result = result
        self.ordered = ordered  # values are (x, y) points, folded in x order

    def __call__(self, values: list) -> Any:
        state = self.init()
        for value in sorted(values, key=_x) if self.ordered else values:
            state = self.add(state, value)
        return self.result(state)


def _x(point: tuple) -> Any:
    return point[0]


def accumulator_fold(acc: Accumulator) -> Fold:
    return Fold(acc.init, acc.add, acc.result)


class RunningFold(WindowOutput):
    """Unbounded below: the fold's own state, the last ``-upper`` documents (or those sorting
    past ``upper`` in range units) still pending."""

    def __init__(self, arg: Callable[[dict, Any], Any], fold: Fold, bounds: Bounds) -> None:
        self.arg = arg
        self.fold = fold
        self.bounds = bounds
        self.needs_position = bounds.by_range

    def init(self) -> list:
        return [self.fold.init(), deque()]

    def compute(self, state: list, doc: dict, position: Any) -> tuple[Any, Any]:
        pending, bounds, add = state[1], self.bounds, self.fold.add
        pending.append((position, self.arg(doc, position)))
        if bounds.by_range:
            high = bounds.high(position)
            while pending and pending[0][0] <= high:
                state[0] = add(state[0], pending.popleft()[1])
        else:
            while len(pending) > -bounds.upper:
                state[0] = add(state[0], pending.popleft()[1])
        return state, self.fold.result(state[0])


def _make_room(held: Any) -> None:
    """Fail the document rather than let one window hold more than :data:`MAX_WINDOW_VALUES`."""
    if len(held) < MAX_WINDOW_VALUES:
        return
    limit = getattr(held, "maxlen", None)
    if limit is None or limit > MAX_WINDOW_VALUES:  # a full deque no larger than that drops its oldest value
        msg = f"$setWindowFields exceeded its memory limit: a window may hold at most {MAX_WINDOW_VALUES} values"
        raise ExpressionError(msg)


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
        _make_room(state)
        if not bounds.by_range:
            state.append(value)
            kept = list(state)
            return state, self.fold(kept[: len(kept) + int(bounds.upper)] if bounds.upper else kept)
        state.append((position, value))
        horizon = bounds.low(max(p for p, _ in state))
        state[:] = [entry for entry in state if entry[0] >= horizon]
        return state, self.fold(self._in_range(state, position))

    def _in_range(self, kept: list, start: float) -> list:
        """The values of the (position, value) pairs inside the range window of ``start``."""
        low, high = self.bounds.low(start), self.bounds.high(start)
        return [value for at, value in kept if low <= at <= high]


class FutureWindow(WindowedFunction):
    """A window reaching past the current document: ``hold`` takes ``compute``'s place.

    ``hold(state, value, position, entry)`` queues ``entry`` (``[output document, fields
    still missing, input document, failure]``) with the document's ``arg`` value and fills
    the entries whose window is complete; ``flush(state)`` fills the rest with what their
    windows hold when the stream ends. A window that fails marks its entry for the DLQ.
    """

    waits = True

    def __init__(self, field: str, arg: Callable[[dict, Any], Any], fold: Callable[[list], Any], bounds: Bounds) -> None:
        super().__init__(arg, fold, bounds)
        self.field = field
        self.parts = tuple(field.split("."))

    def init(self) -> list:
        if self.bounds.by_range:
            return [[], deque()]  # (position, value) kept; (position, entry) waiting
        # Exactly one window's values: when the document ``upper`` arrivals back completes,
        # these are its window (or all there is, early in the partition).
        return [deque(maxlen=int(self.bounds.upper - self.bounds.lower) + 1), deque()]

    def hold(self, state: list, value: Any, position: Any, entry: list) -> list:
        kept, waiting = state
        bounds = self.bounds
        _make_room(kept)
        _make_room(waiting)
        if not bounds.by_range:
            kept.append(value)
            waiting.append(entry)
            if len(waiting) > bounds.upper:
                self._fill(waiting.popleft(), list(kept))
            return state
        kept.append((position, value))
        waiting.append((position, entry))
        while bounds.high(waiting[0][0]) < position:
            start, done = waiting.popleft()
            self._fill(done, self._in_range(kept, start))
        horizon = bounds.low(waiting[0][0])
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
            values = list(kept)
            after = len(waiting) - 1  # documents that followed this one
            count = after - int(self.bounds.lower) + 1
            self._fill(waiting.popleft(), values[max(len(values) - count, 0) :] if count > 0 else [])

    def _fill(self, entry: list, values: list) -> None:
        self._settle(entry, lambda: self.fold(values))

    def _settle(self, entry: list, value: Callable[[], Any]) -> None:
        entry[1] -= 1
        try:
            set_field(entry[0], self.parts, value())
        except ExpressionError as error:
            entry[3] = entry[3] or str(error)


class RunningAhead(FutureWindow):
    """Unbounded below, reaching past the current document: the fold's running state and the
    documents still waiting, nothing else kept; a document is filled with the state once the
    values up to its upper bound are in (documents arrive in sort order)."""

    def init(self) -> list:
        return [self.fold.init(), deque()]

    def hold(self, state: list, value: Any, position: Any, entry: list) -> list:
        waiting, bounds, fold = state[1], self.bounds, self.fold
        if bounds.by_range:
            while waiting and bounds.high(waiting[0][0]) < position:
                self._settle(waiting.popleft()[1], lambda: fold.result(state[0]))
            waiting.append((position, entry))
        else:
            waiting.append(entry)
        state[0] = fold.add(state[0], value)
        if not bounds.by_range and len(waiting) > bounds.upper:
            self._settle(waiting.popleft(), lambda: fold.result(state[0]))
        return state

    def flush(self, state: list) -> None:
        waiting = state[1]
        while waiting:
            entry = waiting.popleft()
            self._settle(entry[1] if self.bounds.by_range else entry, lambda: self.fold.result(state[0]))


class ToTheEnd(FutureWindow):
    """A window whose upper bound is the partition's end (MongoDB's default window when none
    is given): every document waits for the end of the stream."""

    def init(self) -> list:
        return [[], []]  # (position, value) of every document; entries in arrival order

    def hold(self, state: list, value: Any, position: Any, entry: list) -> list:
        state[0].append((position, value))
        state[1].append(entry)
        return state

    def flush(self, state: list) -> None:
        kept, waiting = state
        values = [value for _, value in kept]
        if self.bounds.lower is UNBOUNDED:  # one window for all: fold it once
            try:
                whole = ("value", self.fold(values))
            except ExpressionError as error:
                whole = ("error", str(error))
            for entry in waiting:
                entry[1] -= 1
                if whole[0] == "value":
                    set_field(entry[0], self.parts, whole[1])
                else:
                    entry[3] = entry[3] or whole[1]
        else:
            for i, (entry, (position, _)) in enumerate(zip(waiting, kept)):
                if self.bounds.by_range:
                    low = self.bounds.low(position)
                    self._fill(entry, [value for at, value in kept if at >= low])
                else:
                    self._fill(entry, values[max(i + int(self.bounds.lower), 0) :])
        state[0], state[1] = [], []


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


def _point(value: tuple) -> tuple[float, float] | None:
    """An (x, y) point with a numeric y, or None: other values are ignored, as mongod does."""
    x, y = value
    return (x, float(y)) if x is not None and type(y) in (int, float) else None


def derivative_fold(scale: float) -> Fold:
    """Change of y over the window's first and last points, per ``scale`` ms of x."""

    def add(state: list, value: tuple) -> list:
        point = _point(value)
        if point is not None:
            state = [state[0] or point, point]
        return state

    def result(state: list) -> Any:
        first, last = state
        if first is None or last[0] == first[0]:
            return None
        return (last[1] - first[1]) / ((last[0] - first[0]) / scale)

    return Fold(lambda: [None, None], add, result, ordered=True)


def integral_fold(scale: float) -> Fold:
    """Trapezoidal area under y over x (in ``scale`` ms units); 0 for a single point."""

    def add(state: list, value: tuple) -> list:
        point = _point(value)
        if point is None:
            return state
        last, total = state
        if last is None:
            return [point, 0]
        return [point, total + (point[0] - last[0]) / scale * (last[1] + point[1]) / 2]

    return Fold(lambda: [None, None], add, lambda state: state[1], ordered=True)


def covariance_fold(sample: bool) -> Fold:
    """Running co-moment (Welford): count, means and the sum of products of deviations."""

    def add(state: list, value: tuple) -> list:
        x, y = value
        if type(x) not in (int, float) or type(y) not in (int, float):
            return state
        count, mean_x, mean_y, comoment = state
        count += 1
        dx = x - mean_x
        mean_x += dx / count
        mean_y += (y - mean_y) / count
        return [count, mean_x, mean_y, comoment + dx * (y - mean_y)]

    def result(state: list) -> Any:
        divisor = state[0] - (1 if sample else 0)
        return state[3] / divisor if divisor > 0 else None

    return Fold(lambda: [0, 0.0, 0.0, 0.0], add, result)


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
        unit = args.get("unit")
        if unit is not None and unit not in RANGE_UNITS:
            msg = f"{name}.unit must be one of {', '.join(RANGE_UNITS)}; got {unit!r}"
            raise SpecError(msg, (*where, "unit"))
        scale = RANGE_UNITS[unit] / _MS if unit else 1
        value = compile_expression(args["input"], (*where, "input"))
        fold = (derivative_fold if name == "$derivative" else integral_fold)(scale)
        output = _windowed(field, lambda doc, x: (x, value(doc, NO_VARS)), fold, bounds)
        output.needs_position = True
        return output
    if name in ("$covariancePop", "$covarianceSamp"):
        if type(args) is not list or len(args) != 2:
            msg = f"{name} takes two expressions; got {args!r}"
            raise SpecError(msg, where)
        x, y = (compile_expression(a, (*where, str(i))) for i, a in enumerate(args))
        return _windowed(field, lambda doc, _: (x(doc, NO_VARS), y(doc, NO_VARS)), covariance_fold(name == "$covarianceSamp"), bounds)
    if name not in ACCUMULATORS:
        msg = f"unknown window operator {name!r}"
        raise SpecError(msg, where)
    acc = ACCUMULATORS[name](args, where)
    return _windowed(field, lambda doc, _: acc.arg(doc, NO_VARS), accumulator_fold(acc), bounds)


def _windowed(field: str, arg: Callable[[dict, Any], Any], fold: Fold, bounds: Bounds | None) -> WindowOutput:
    """The window's computation: running, kept and folded per document, held for later
    documents, or held to the end of the partition (no window is the whole partition)."""
    bounds = bounds or WHOLE_PARTITION
    if bounds.upper is UNBOUNDED:
        return ToTheEnd(field, arg, fold, bounds)
    if bounds.upper > 0:
        return (RunningAhead if bounds.lower is UNBOUNDED else FutureWindow)(field, arg, fold, bounds)
    if bounds.lower is UNBOUNDED:
        return RunningFold(arg, fold, bounds)
    return WindowedFunction(arg, fold, bounds)


def set_field(doc: dict, parts: tuple, value: Any) -> None:
    """Set a (dotted) output field on a document the stage owns, copying the objects on its
    path, which the input shares; a non-object on the path is replaced, as ``$addFields`` does."""
    for part in parts[:-1]:
        inner = doc.get(part)
        doc[part] = inner = dict(inner) if type(inner) is dict else {}
        doc = inner
    doc[parts[-1]] = value


def _null_if_missing(value: Any) -> Any:
    return None if value is MISSING else value


class SetWindowFields:
    """The engine: per-partition state, driven like the window engines (chunks in, chunks out)."""

    def __init__(self, spec: Any, finite_source: bool = True) -> None:
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
        self.fields = [_output_path(field) for field, _ in self.outputs]
        for field, out in self.outputs:
            if isinstance(out, ToTheEnd) and not finite_source:
                reach = "has no window, which MongoDB reads as the whole partition" if "window" not in output[field] else "has an 'unbounded' upper bound"
                msg = (
                    f"{field} {reach}: its documents would wait for the end of a stream that never ends;"
                    ' for values up to the current document use window: {documents: ["unbounded", "current"]}'
                )
                raise SpecError(msg, ("output", field))
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
        # hashable partition -> [output states, held for $linearFill, fill anchor]
        self.partitions: dict[Any, list] = {}
        # Entries [output document, fields still missing, input document, failure] in arrival
        # order, when documents may wait: they leave from the head, so in the order they came.
        self.queue: deque = deque()

    def process(self, chunk: list, now: datetime, partition: str | None = None,
                highs: list | None = None, high: datetime | None = None) -> list:  # fmt: skip
        """Documents in, each with its windows' values out; no watermark, so ``partition``,
        ``highs`` and ``high`` (the window engines' marks) never come."""
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
            part = self.partitions[bson_key(key)] = [[out.init() for _, out in self.outputs], [], None]
        states = part[0]
        values: list = [None] * len(self.fields)
        for i, output in self.computed:
            states[i], values[i] = output.compute(states[i], doc, position)
        out = dict(doc)  # stages never mutate their input
        for parts, value in zip(self.fields, values):
            set_field(out, parts, value)
        if self.waiting:
            return self._hold(part, doc, out, position, dead)
        if not self.fill:
            return [out]
        return self._fill(part, [out, 0, doc, None], position, values[self.fill[0]], dead)

    def _hold(self, part: list, doc: dict, out: dict, position: float | None, dead: DeadLetters) -> list:
        """Queue the document until every window reaching past it is complete; release in order."""
        values = [output.arg(doc, position) for _, output in self.waiting]  # may fail: nothing held yet
        entry = [out, len(self.waiting), doc, None]
        self.queue.append(entry)
        states = part[0]
        for (i, output), value in zip(self.waiting, values):
            states[i] = output.hold(states[i], value, position, entry)
        return _release(self.queue, dead)

    def _fill(self, part: list, entry: list, position: float, value: Any, dead: DeadLetters) -> list:
        """Hold null documents after a known value; fill them when the next comes."""
        held, anchor = part[1], part[2]
        self.queue.append(entry)
        if value is None or type(value) not in (int, float):
            if anchor is not None:
                entry[1] = 1
                held.append((position, entry))
            return _release(self.queue, dead)
        if anchor is not None:
            x0, y0 = anchor
            parts = self.fields[self.fill[0]]
            for x, waiting in held:
                set_field(waiting[0], parts, y0 + (value - y0) * (x - x0) / (position - x0) if position != x0 else y0)
                waiting[1] = 0
        held.clear()
        part[2] = (position, value)
        return _release(self.queue, dead)

    def on_time(self, now: datetime) -> list:
        return []

    def close_all(self) -> list:
        """The stream ended: held documents leave, unfilled (null) by $linearFill, as no value
        follows them, and with windows cut at the last document."""
        dead = DeadLetters()
        for part in self.partitions.values():
            for _, entry in part[1]:
                entry[1] = 0
            part[1] = []
            for i, output in self.waiting:
                output.flush(part[0][i])
        return chunks(_release(self.queue, dead), dead)

    def next_wake(self) -> None:
        return None

    def held(self) -> dict:
        """What the partitions hold (documents waiting, running values): the stats' state size."""
        return self.partitions

    def snapshot(self) -> tuple:
        return self.partitions, self.queue  # pickled together: the entries stay shared

    def restore(self, snapshot: tuple, now: datetime) -> None:
        self.partitions, self.queue = snapshot


def _output_path(field: str) -> tuple:
    parts = tuple(field.split("."))
    if any(part == "" or part.startswith("$") for part in parts):
        msg = f"output field {field!r} must be a field name or a dotted path of them"
        raise SpecError(msg, ("output", field))
    return parts


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


def fresh_set_window_fields(compiled: SetWindowFields) -> SetWindowFields:
    """An engine with ``compiled``'s outputs and empty state: one per shard and execution."""
    engine = copy.copy(compiled)
    engine.partitions = {}
    engine.queue = deque()
    return engine


def set_window_fields_factory(spec: Any, finite_source: bool = True) -> Callable[[], SetWindowFields]:
    """Check and compile once (errors surface at translation time); each call gives fresh state.
    Over an endless source windows reaching the end of the partition are refused."""
    compiled = SetWindowFields(spec, finite_source)
    return lambda: fresh_set_window_fields(compiled)
