"""What the fields of ``$tumblingWindow``, ``$hoppingWindow`` and ``$sessionWindow`` mean.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-tumbling/ (and -hopping, -session)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from translator._types import Path
from translator.errors import SpecError
from translator._spec_values import integer_value, number_value

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
WINDOW_UNITS = {
    "ms": timedelta(milliseconds=1),
    "second": timedelta(seconds=1),
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
}
DEFAULT_LATENESS = timedelta(seconds=3)
MAX_DURATION = timedelta(days=36525)

@dataclass(frozen=True)
class WindowSpec:
    """One window stage's timing; the inner pipeline stays raw for the planner to compile."""

    kind: str  # the stage name, e.g. "$tumblingWindow"
    pipeline: list
    size: timedelta | None = None  # interval (tumbling, hopping)
    hop: timedelta | None = None  # hopSize; equals size for tumbling
    gap: timedelta | None = None  # session gap
    partition_by: Any = None  # raw partitionBy expression (sessions)
    origin: datetime = EPOCH  # windows align to the epoch shifted by ``offset``
    processing_time: bool = False
    idle_timeout: timedelta | None = None
    allowed_lateness: timedelta = DEFAULT_LATENESS


def duration(value: Any, at: Path, allow_zero: bool = False) -> timedelta:
    """``{size, unit}`` as a timedelta."""
    if type(value) is not dict or set(value) != {"size", "unit"}:
        msg = f"expected an object {{size, unit}}; got {value!r}"
        raise SpecError(msg, at)
    size, unit = number_value(value["size"], (*at, "size")), value["unit"]
    if size < 0 or (size == 0 and not allow_zero):
        msg = f"size must be a {'non-negative' if allow_zero else 'positive'} number; got {size!r}"
        raise SpecError(msg, (*at, "size"))
    if unit not in WINDOW_UNITS:
        msg = f"unit must be one of {', '.join(repr(u) for u in WINDOW_UNITS)}; got {unit!r}"
        raise SpecError(msg, (*at, "unit"))
    try:
        span = size * WINDOW_UNITS[unit]
    except (OverflowError, ValueError):
        span = timedelta.max
    if span >= MAX_DURATION:
        msg = f"{size} {unit} is out of range; durations must be under 100 years"
        raise SpecError(msg, (*at, "size"))
    if size and span < timedelta(milliseconds=1):
        msg = f"{size} {unit} is below 1 ms, the smallest duration"
        raise SpecError(msg, (*at, "size"))
    return span


def _offset(value: Any, at: Path) -> timedelta:
    if type(value) is not dict or set(value) != {"offsetFromUtc", "unit"}:
        msg = f"offset must be an object {{offsetFromUtc, unit}}; got {value!r}"
        raise SpecError(msg, at)
    amount = integer_value(value["offsetFromUtc"], (*at, "offsetFromUtc"), -(2**31), 2**31 - 1, "offsetFromUtc")
    return duration({"size": abs(amount), "unit": value["unit"]}, at, allow_zero=True) * (1 if amount >= 0 else -1)


def _optional_duration(spec: dict, field: str) -> timedelta | None:
    """``idleTimeout``/``allowedLateness``: ``{size, unit}``, or 0 for none."""
    value = spec.get(field)
    if value is None or value == 0:
        return None if value is None else timedelta(0)
    return duration(value, (field,), allow_zero=True)


def parse_window(kind: str, spec: Any) -> WindowSpec:
    """One window stage's timing, from a body whose fields ``stages._fields`` (the one table of
    every stage's fields) has checked; paths in errors are relative to the stage."""
    pipeline = spec["pipeline"]
    processing_time = spec.get("boundary") == "processingTime"
    lateness = _optional_duration(spec, "allowedLateness")
    if processing_time and lateness:
        msg = "allowedLateness has no meaning with boundary processingTime"
        raise SpecError(msg, ("allowedLateness",))
    idle = _optional_duration(spec, "idleTimeout")
    fields: dict[str, Any] = {
        "kind": kind,
        "pipeline": pipeline,
        "origin": EPOCH + _offset(spec["offset"], ("offset",)) if "offset" in spec else EPOCH,
        "processing_time": processing_time,
        "idle_timeout": idle or None,
        "allowed_lateness": timedelta(0) if processing_time else (DEFAULT_LATENESS if lateness is None else lateness),
    }
    if kind == "$sessionWindow":
        fields["gap"] = duration(spec["gap"], ("gap",))
        fields["partition_by"] = spec["partitionBy"]
    else:
        fields["size"] = duration(spec["interval"], ("interval",))
        fields["hop"] = duration(spec["hopSize"], ("hopSize",)) if kind == "$hoppingWindow" else fields["size"]
    return WindowSpec(**fields)
