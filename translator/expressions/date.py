"""Date expression operators, with mongod's time zones, calendar arithmetic and formats.

https://www.mongodb.com/docs/manual/reference/operator/aggregation/#date-expression-operators
"""

from __future__ import annotations

import functools
import operator
import re
import zoneinfo
from calendar import monthrange
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable

from bson import Decimal128, Int64, ObjectId, Timestamp

from translator._bson_types import INT64_MAX, INT64_MIN, bson_type_name
from translator._types import MISSING, is_nullish
from translator.errors import ConversionFailure, ExpressionError, SpecError
from translator.expressions.compile import (
    at_compile_time,
    compile_expression,
    expression_operator,
    is_constant,
    named_arguments,
    operands,
)

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MS = timedelta(milliseconds=1)
ISO_FORMAT_Z = "%Y-%m-%dT%H:%M:%S.%LZ"
ISO_FORMAT_LOCAL = "%Y-%m-%dT%H:%M:%S.%L"
# BSON dates reach 292 million years either way; Python's datetime stops at years 1 and 9999.
OUT_OF_RANGE = "the date is out of range: sluice represents the years 1 to 9999 only"

# --------------------------------------------------------------------------------------------
# Time zones: "UTC", an IANA name, or a UTC offset (±HH, ±HHMM, ±HH:MM), as mongod accepts them.
# --------------------------------------------------------------------------------------------


class Zone:
    """A resolved ``timezone`` argument: converts instants to wall-clock time and back.

    Offsets are kept as seconds rather than ``datetime.timezone`` because mongod accepts offsets
    ("+99") that Python's fixed-offset zones refuse.
    """

    __slots__ = ("is_utc", "name", "offset", "shift", "tzinfo")

    def __init__(self, name: str, offset: int = 0, tzinfo: zoneinfo.ZoneInfo | None = None) -> None:
        self.name = name
        self.offset = offset
        self.shift = timedelta(seconds=offset)
        self.tzinfo = tzinfo
        # mongod's "UTC zone": "UTC" itself and zero offsets, but not "GMT" or "Etc/UTC".
        self.is_utc = tzinfo is None and offset == 0

    def local(self, instant: datetime) -> datetime:
        """Wall-clock time (naive) at ``instant`` in this zone."""
        try:
            if self.tzinfo is not None:
                return instant.astimezone(self.tzinfo).replace(tzinfo=None)
            return (instant + self.shift).replace(tzinfo=None) if self.offset else instant.replace(tzinfo=None)
        except OverflowError:
            raise ExpressionError(OUT_OF_RANGE) from None

    def mover(self) -> Callable[[datetime], datetime]:
        """A fast (C-level) ``instant -> datetime whose fields are the wall-clock time``; it may
        raise OverflowError at the ends of Python's date range."""
        if self.tzinfo is not None:
            return operator.methodcaller("astimezone", self.tzinfo)
        if self.offset:
            return functools.partial(operator.add, self.shift)
        return _unchanged

    def offset_at(self, instant: datetime) -> int:
        """Seconds east of UTC at ``instant``."""
        if self.tzinfo is not None:
            return int(instant.astimezone(self.tzinfo).utcoffset().total_seconds())
        return self.offset

    def instant(self, wall: datetime) -> datetime:
        """The UTC instant of a naive wall-clock time; a skipped or repeated time takes the offset
        in force before the transition (Python's ``fold=0``)."""
        try:
            if self.tzinfo is not None:
                return wall.replace(tzinfo=self.tzinfo).astimezone(UTC)
            return (wall - self.shift).replace(tzinfo=UTC) if self.offset else wall.replace(tzinfo=UTC)
        except OverflowError:
            raise ExpressionError(OUT_OF_RANGE) from None


def _unchanged(instant: datetime) -> datetime:
    return instant


UTC_ZONE = Zone("UTC")
_OFFSET = re.compile(r"([+-])(\d\d)(?::?(\d\d))?")
_ZONES: dict[str, Zone] = {"UTC": UTC_ZONE}
_IANA_NAMES: set[str] = set()


def iana_names() -> set[str]:
    """The IANA zone names zoneinfo knows (system zoneinfo or the tzdata package), read once."""
    if not _IANA_NAMES:
        _IANA_NAMES.update(zoneinfo.available_timezones())
    return _IANA_NAMES


def _parse_offset(text: str) -> int | None:
    """``±HH``, ``±HHMM`` or ``±HH:MM`` as seconds east of UTC; None for anything else."""
    match = _OFFSET.fullmatch(text)
    if match is None:
        return None
    sign = -1 if match.group(1) == "-" else 1
    return sign * (int(match.group(2)) * 3600 + int(match.group(3) or 0) * 60)


def time_zone(name: str) -> Zone:
    """Resolve a timezone name once; raises ExpressionError with mongod's wording when unknown."""
    zone = _ZONES.get(name)
    if zone is not None:
        return zone
    offset = None if name[:1] not in ("+", "-") else _parse_offset(name)
    if offset is not None:
        zone = Zone(name, offset)
    else:
        if name not in iana_names():
            msg = f'unrecognized time zone identifier: "{name}"'
            raise ExpressionError(msg)
        zone = Zone(name, tzinfo=zoneinfo.ZoneInfo(name))
    _ZONES[name] = zone
    return zone


def _zone_of(value: Any, context: str) -> Zone | None:
    """A timezone argument's value as a Zone, None when it is null or missing."""
    if type(value) is str:
        try:
            return time_zone(value)
        except ExpressionError as error:
            if not context:
                raise
            msg = f"{context} :: caused by :: {error}"
            raise ExpressionError(msg) from None
    if value is None or value is MISSING:
        return None
    msg = f"timezone must evaluate to a string, found {bson_type_name(value)}"
    if context:
        msg = f"{context} :: caused by :: {msg}"
    raise ExpressionError(msg)


def _compile_zone(spec: Any, present: bool, at: tuple, scope: Any, context: str = "") -> tuple:
    """``(zone, getter)``: a constant timezone is resolved now (``getter`` None); otherwise
    ``zone`` is None and ``getter(doc, vars)`` resolves it per document (None means null)."""
    if not present:
        return UTC_ZONE, None
    fn = compile_expression(spec, (*at, "timezone"), scope)
    if is_constant(fn):
        value = fn.constant
        if value is None or value is MISSING:
            return None, lambda doc, vars: None
        return at_compile_time(_zone_of, (*at, "timezone"), value, context), None
    return None, lambda doc, vars: _zone_of(fn(doc, vars), context)


# --------------------------------------------------------------------------------------------
# Shared argument handling.
# --------------------------------------------------------------------------------------------


def _show(value: Any) -> str:
    """A value as mongod prints it inside error messages."""
    if type(value) is str:
        return f'"{value}"'
    if type(value) is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if type(value) is float and value.is_integer():
        return str(int(value))
    return str(value)


def coerce_date(value: Any) -> datetime:
    """A date, Timestamp (its seconds) or ObjectId (its creation second) as a UTC datetime."""
    kind = type(value)
    if kind is datetime:
        return value
    if kind is Timestamp:
        return EPOCH + timedelta(seconds=value.time)
    if kind is ObjectId:
        return value.generation_time
    msg = f"can't convert from BSON type {bson_type_name(value)} to Date"
    raise ExpressionError(msg)


def _convertible_to_date(value: Any) -> bool:
    return type(value) in (datetime, Timestamp, ObjectId)


def integral64(value: Any) -> int | None:
    """The value as a 64-bit integer when it is one exactly (int, long, integral double or
    decimal), else None: mongod's ``integral64Bit`` test."""
    kind = type(value)
    if kind is int or kind is Int64:
        return int(value) if INT64_MIN <= value <= INT64_MAX else None
    if kind is float:
        if value.is_integer() and -(2.0**63) <= value < 2.0**63:
            return int(value)
        return None
    if kind is Decimal128:
        number = value.to_decimal()
        if number.is_finite() and number == number.to_integral_value() and INT64_MIN <= number <= INT64_MAX:
            return int(number)
    return None


def _object_arguments(args: Any, at: tuple, allowed: tuple, not_object: str, unknown: str) -> dict:
    """An object of known keys; required ones are checked later, in mongod's order."""
    return named_arguments("", args, at, optional=allowed, wording=(not_object, unknown, ""))


def _missing(name: str, key: str, args: dict, at: tuple) -> None:
    if key not in args:
        msg = f"Missing '{key}' parameter to {name}"
        raise SpecError(msg, at)


# Time units and days of the week ($dateAdd, $dateDiff, $dateTrunc).
UNITS = ("year", "quarter", "month", "week", "day", "hour", "minute", "second", "millisecond")
SMALL_UNIT_MS = {"millisecond": 1, "second": 1000, "minute": 60_000, "hour": 3_600_000}
DAYS_OF_WEEK = {
    "monday": 1, "mon": 1, "tuesday": 2, "tue": 2, "wednesday": 3, "wed": 3, "thursday": 4,
    "thu": 4, "friday": 5, "fri": 5, "saturday": 6, "sat": 6, "sunday": 7, "sun": 7,
}  # fmt: skip
SUNDAY = 7


def parse_unit(value: Any, name: str) -> str:
    if type(value) is not str:
        msg = f"{name} requires 'unit' to be a string, but got {bson_type_name(value)}"
        raise ExpressionError(msg)
    if value not in UNITS:
        msg = f"{name} parameter 'unit' value parsing failed :: caused by :: unknown time unit value: {value}"
        raise ExpressionError(msg)
    return value


def parse_day_of_week(value: Any, name: str) -> int:
    """``startOfWeek`` (full or three-letter day name, any case) as an ISO weekday, Monday = 1."""
    if type(value) is not str:
        msg = f"{name} requires 'startOfWeek' to be a string, but got {bson_type_name(value)}"
        raise ExpressionError(msg)
    day = DAYS_OF_WEEK.get(value.lower())
    if day is None:
        msg = f"{name} parameter 'startOfWeek' value cannot be recognized as a day of a week: {value}"
        raise ExpressionError(msg)
    return day


def _compile_unit(name: str, args: dict, at: tuple, scope: Any) -> tuple:
    """``(unit, getter)``: a constant unit is checked now; otherwise parsed per document."""
    fn = compile_expression(args["unit"], (*at, "unit"), scope)
    if is_constant(fn):
        value = fn.constant
        if is_nullish(value):
            return None, lambda doc, vars: None
        return at_compile_time(parse_unit, (*at, "unit"), value, name), None

    def unit_of(doc: Any, vars: Any) -> str | None:
        value = fn(doc, vars)
        return None if is_nullish(value) else parse_unit(value, name)

    return None, unit_of


def _compile_start_of_week(name: str, args: dict, unit: str | None, at: tuple, scope: Any) -> Callable:
    """A getter of ``startOfWeek`` (ISO weekday, None for null), consulted only for weeks."""
    if "startOfWeek" not in args:
        return lambda doc, vars: SUNDAY
    fn = compile_expression(args["startOfWeek"], (*at, "startOfWeek"), scope)
    if is_constant(fn) and not is_nullish(fn.constant) and unit in ("week", None):
        try:
            day = parse_day_of_week(fn.constant, name)
            return lambda doc, vars: day
        except ExpressionError as error:
            if unit == "week":
                raise SpecError(str(error), (*at, "startOfWeek")) from None

    def start_of_week(doc: Any, vars: Any) -> int | None:
        value = fn(doc, vars)
        return None if is_nullish(value) else parse_day_of_week(value, name)

    return start_of_week


# --------------------------------------------------------------------------------------------
# Calendar helpers on wall-clock datetimes.
# --------------------------------------------------------------------------------------------


def day_of_year(wall: datetime) -> int:
    return wall.toordinal() - date(wall.year, 1, 1).toordinal() + 1


def day_of_week(wall: datetime) -> int:
    """1 (Sunday) to 7 (Saturday)."""
    return wall.isoweekday() % 7 + 1


def week_of_year(wall: datetime) -> int:
    """Weeks start on Sunday; days before the year's first Sunday are in week 0 (``%U``)."""
    return (day_of_year(wall) - day_of_week(wall) + 7) // 7


def _trunc_div(a: int, b: int) -> int:
    """C++ integer division (rounds toward zero), as mongod's offset corrections use."""
    quotient = abs(a) // b
    return -quotient if a < 0 else quotient


def _millis(instant: datetime) -> int:
    return (instant - EPOCH) // ONE_MS


def _from_millis(millis: int) -> datetime:
    try:
        return EPOCH + timedelta(milliseconds=millis)
    except OverflowError:
        raise ExpressionError(OUT_OF_RANGE) from None


# --------------------------------------------------------------------------------------------
# $year, $month, ... : one date (Date, Timestamp or ObjectId), optionally {date, timezone}.
# --------------------------------------------------------------------------------------------


def _date_and_zone(name: str, args: Any, at: tuple, scope: Any) -> tuple:
    """Parse ``<date>``, ``[<date>]`` or ``{date, timezone}`` as mongod does."""
    if type(args) is dict and (not args or not next(iter(args)).startswith("$")):
        for key in args:
            if key not in ("date", "timezone"):
                msg = f'unrecognized option to {name}: "{key}"'
                raise SpecError(msg, (*at, key))
        if "date" not in args:
            msg = f"missing 'date' argument to {name}, provided: {args}"
            raise SpecError(msg, at)
        date_fn = compile_expression(args["date"], (*at, "date"), scope)
        zone, zone_getter = _compile_zone(args.get("timezone"), "timezone" in args, at, scope)
        return date_fn, zone, zone_getter
    if type(args) is list:
        if len(args) != 1:
            msg = f"{name} accepts exactly one argument if given an array, but was given {len(args)}"
            raise SpecError(msg, at)
        (args,) = args
        at = (*at, "0")
    return compile_expression(args, at, scope), UTC_ZONE, None


def _date_part_operator(name: str, extract: Callable[[datetime], Any]) -> None:
    """Register an operator that reads one calendar field of a date in a time zone."""

    def compile_date_part(args: Any, at: tuple, scope: Any):
        date_fn, zone, zone_getter = _date_and_zone(name, args, at, scope)
        if zone is None:

            def date_part(doc: Any, vars: Any) -> Any:
                value = date_fn(doc, vars)
                if value is None or value is MISSING:
                    return None
                instant = coerce_date(value)
                resolved = zone_getter(doc, vars)
                return None if resolved is None else extract(resolved.local(instant))

            return date_part
        # A constant zone: the field is read straight off the instant moved into the zone (an
        # aware datetime's fields are its wall-clock fields).
        move = zone.mover()
        if move is _unchanged:

            def date_part_utc(doc: Any, vars: Any) -> Any:
                value = date_fn(doc, vars)
                if type(value) is datetime:
                    return extract(value)
                if value is None or value is MISSING:
                    return None
                return extract(coerce_date(value))

            return date_part_utc

        def date_part_in_zone(doc: Any, vars: Any) -> Any:
            value = date_fn(doc, vars)
            if type(value) is not datetime:
                if value is None or value is MISSING:
                    return None
                value = coerce_date(value)
            try:
                return extract(move(value))
            except OverflowError:
                raise ExpressionError(OUT_OF_RANGE) from None

        return date_part_in_zone

    compile_date_part.__name__ = f"compile_{name[1:]}"
    expression_operator(name)(compile_date_part)


_date_part_operator("$year", operator.attrgetter("year"))
_date_part_operator("$month", operator.attrgetter("month"))
_date_part_operator("$dayOfMonth", operator.attrgetter("day"))
_date_part_operator("$hour", operator.attrgetter("hour"))
_date_part_operator("$minute", operator.attrgetter("minute"))
_date_part_operator("$second", operator.attrgetter("second"))
_date_part_operator("$millisecond", lambda wall: wall.microsecond // 1000)
_date_part_operator("$dayOfYear", day_of_year)
_date_part_operator("$dayOfWeek", day_of_week)
_date_part_operator("$week", week_of_year)
_date_part_operator("$isoDayOfWeek", lambda wall: wall.isoweekday())
_date_part_operator("$isoWeek", lambda wall: wall.isocalendar()[1])
# mongod computes the ISO year as a 64-bit integer, so $isoWeekYear returns a long.
_date_part_operator("$isoWeekYear", lambda wall: Int64(wall.isocalendar()[0]))


# --------------------------------------------------------------------------------------------
# $dateToString
# --------------------------------------------------------------------------------------------

MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")  # fmt: skip


def _offset_hhmm(seconds: int) -> str:
    sign = "-" if seconds < 0 else "+"
    return f"{sign}{abs(seconds) // 3600:02d}{abs(seconds) // 60 % 60:02d}"


# specifier: (value, str.format spec); the value is an attribute of the wall-clock datetime or a
# function of (wall-clock datetime, UTC offset in seconds).
TO_STRING_SPECIFIERS: dict[str, tuple] = {
    "Y": ("year", "04d"),
    "m": ("month", "02d"),
    "d": ("day", "02d"),
    "H": ("hour", "02d"),
    "M": ("minute", "02d"),
    "S": ("second", "02d"),
    "L": (lambda w, o: w.microsecond // 1000, "03d"),
    "j": (lambda w, o: day_of_year(w), "03d"),
    "w": (lambda w, o: day_of_week(w), "d"),
    "U": (lambda w, o: week_of_year(w), "02d"),
    "G": (lambda w, o: w.isocalendar()[0], "04d"),
    "V": (lambda w, o: w.isocalendar()[1], "02d"),
    "u": (lambda w, o: w.isoweekday(), "d"),
    "b": (lambda w, o: MONTH_NAMES[w.month - 1][:3], ""),
    "B": (lambda w, o: MONTH_NAMES[w.month - 1], ""),
    "z": (lambda w, o: _offset_hhmm(o), ""),
    "Z": (lambda w, o: _trunc_div(o, 60), "d"),
}
FROM_STRING_SPECIFIERS = frozenset("bBdGHjLmMSuVYzZ")


def validate_format(text: str, allowed: Any) -> None:
    """Every '%' must be followed by an allowed specifier or another '%'."""
    i = 0
    while i < len(text):
        if text[i] == "%":
            if i + 1 == len(text):
                msg = "Unmatched '%' at end of format string"
                raise ExpressionError(msg)
            if text[i + 1] != "%" and text[i + 1] not in allowed:
                msg = f"Invalid format character '%{text[i + 1]}' in format string"
                raise ExpressionError(msg)
            i += 1
        i += 1


@functools.lru_cache(maxsize=256)  # a format read from each document is compiled once
def compile_to_string_format(text: str) -> Callable[[datetime, int], str]:
    """A validated ``$dateToString`` format as one ``str.format`` template and its values.

    The renderer returned holds nothing it changes, so every caller with the same format shares it.
    """
    validate_format(text, TO_STRING_SPECIFIERS)
    template = []
    values = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "%" and text[i + 1] != "%":
            value, spec = TO_STRING_SPECIFIERS[text[i + 1]]
            template.append("{:" + spec + "}")
            values.append(value)
            i += 2
            continue
        template.append("{{" if char == "{" else "}}" if char == "}" else char)
        i += 2 if char == "%" else 1
    pattern = "".join(template).format
    if all(type(value) is str for value in values):
        # Only plain fields: one C-level attrgetter reads them all.
        fields = operator.attrgetter(*values) if values else (lambda wall: ())
        if len(values) == 1:
            return lambda wall, offset: pattern(fields(wall))
        return lambda wall, offset: pattern(*fields(wall))
    readers = [(lambda w, o, name=value: getattr(w, name)) if type(value) is str else value for value in values]
    return lambda wall, offset: pattern(*[read(wall, offset) for read in readers])


def _iso_utc(instant: datetime) -> str:
    """The default format in UTC, fast: 2017-02-08T12:10:40.787Z."""
    return (
        f"{instant.year:04d}-{instant.month:02d}-{instant.day:02d}T{instant.hour:02d}:"
        f"{instant.minute:02d}:{instant.second:02d}.{instant.microsecond // 1000:03d}Z"
    )


@expression_operator("$dateToString")
def compile_date_to_string(args: Any, at: tuple, scope: Any):
    name = "$dateToString"
    _object_arguments(args, at, ("date", "format", "timezone", "onNull"),
                      "$dateToString only supports an object as its argument",
                      "Unrecognized argument to $dateToString: {key}")  # fmt: skip
    _missing(name, "date", args, at)
    date_fn = compile_expression(args["date"], (*at, "date"), scope)
    on_null = compile_expression(args["onNull"], (*at, "onNull"), scope) if "onNull" in args else None
    zone, zone_getter = _compile_zone(args.get("timezone"), "timezone" in args, at, scope)

    def format_of(value: Any) -> Callable | None:
        if is_nullish(value):
            return None
        if type(value) is not str:
            msg = f"$dateToString requires that 'format' be a string, found: {bson_type_name(value)} with value {_show(value)}"
            raise ExpressionError(msg)
        return compile_to_string_format(value)

    # The format: absent (ISO for the zone), constant (compiled now), or evaluated per document.
    format_fn = compile_expression(args["format"], (*at, "format"), scope) if "format" in args else None
    renderer = None
    if format_fn is not None and is_constant(format_fn):
        constant_format = format_fn.constant
        renderer = at_compile_time(format_of, (*at, "format"), constant_format)
        if renderer is None:
            return lambda doc, vars: on_null(doc, vars) if on_null is not None and is_nullish(date_fn(doc, vars)) else None
        format_fn = None
    if renderer is None and format_fn is None and zone is not None and zone.is_utc:

        def date_to_iso_string(doc: Any, vars: Any) -> Any:
            value = date_fn(doc, vars)
            if type(value) is datetime:
                return _iso_utc(value)
            if is_nullish(value):
                return on_null(doc, vars) if on_null is not None else None
            return _iso_utc(coerce_date(value))

        return date_to_iso_string
    if format_fn is None and zone is not None:
        # Constant format and zone: move the instant into the zone once per document.
        render = renderer or (_DEFAULT_UTC if zone.is_utc else _DEFAULT_LOCAL)
        move = zone.mover()
        fixed_offset = zone.offset if zone.tzinfo is None else None

        def date_to_string_in_zone(doc: Any, vars: Any) -> Any:
            value = date_fn(doc, vars)
            if type(value) is not datetime:
                if value is None or value is MISSING:
                    return on_null(doc, vars) if on_null is not None else None
                value = coerce_date(value)
            try:
                wall = move(value)
            except OverflowError:
                raise ExpressionError(OUT_OF_RANGE) from None
            return render(wall, fixed_offset if fixed_offset is not None else int(wall.utcoffset().total_seconds()))

        return date_to_string_in_zone

    def date_to_string(doc: Any, vars: Any) -> Any:
        value = date_fn(doc, vars)
        render = renderer if format_fn is None else format_of(format_fn(doc, vars))
        resolved = zone if zone_getter is None else zone_getter(doc, vars)
        if is_nullish(value):
            return on_null(doc, vars) if on_null is not None else None
        if resolved is None or (render is None and format_fn is not None):
            return None
        if render is None:
            render = _DEFAULT_UTC if resolved.is_utc else _DEFAULT_LOCAL
        instant = coerce_date(value)
        return render(resolved.local(instant), resolved.offset_at(instant))

    return date_to_string


_DEFAULT_UTC = compile_to_string_format(ISO_FORMAT_Z)
_DEFAULT_LOCAL = compile_to_string_format(ISO_FORMAT_LOCAL)


# --------------------------------------------------------------------------------------------
# $dateToParts and $dateFromParts
# --------------------------------------------------------------------------------------------


@expression_operator("$dateToParts")
def compile_date_to_parts(args: Any, at: tuple, scope: Any):
    name = "$dateToParts"
    _object_arguments(args, at, ("date", "timezone", "iso8601"),
                      "$dateToParts only supports an object as its argument",
                      "Unrecognized argument to $dateToParts: {key}")  # fmt: skip
    _missing(name, "date", args, at)
    date_fn = compile_expression(args["date"], (*at, "date"), scope)
    zone, zone_getter = _compile_zone(args.get("timezone"), "timezone" in args, at, scope)
    iso_fn = compile_expression(args["iso8601"], (*at, "iso8601"), scope) if "iso8601" in args else None

    def date_to_parts(doc: Any, vars: Any) -> Any:
        value = date_fn(doc, vars)
        resolved = zone if zone_getter is None else zone_getter(doc, vars)
        if resolved is None:
            return None
        iso = False
        if iso_fn is not None:
            iso = iso_fn(doc, vars)
            if is_nullish(iso):
                return None
            if type(iso) is not bool:
                msg = f"iso8601 must evaluate to a bool, found {bson_type_name(iso)}"
                raise ExpressionError(msg)
        if is_nullish(value):
            return None
        wall = resolved.local(coerce_date(value))
        tail = {"hour": wall.hour, "minute": wall.minute, "second": wall.second,
                "millisecond": wall.microsecond // 1000}  # fmt: skip
        if iso:
            year, week, weekday = wall.isocalendar()
            return {"isoWeekYear": year, "isoWeek": week, "isoDayOfWeek": weekday, **tail}
        return {"year": wall.year, "month": wall.month, "day": wall.day, **tail}

    return date_to_parts


PART_LIMIT = 32767  # mongod bounds most $dateFromParts inputs to a 16-bit integer
NATURAL_PARTS = ("year", "month", "day")
ISO_PARTS = ("isoWeekYear", "isoWeek", "isoDayOfWeek")
TIME_PARTS = ("hour", "minute", "second", "millisecond")
BOUNDED_PARTS = frozenset({"month", "day", "hour", "minute", "isoWeek", "isoDayOfWeek"})


def _date_part_number(key: str, value: Any) -> int:
    number = integral64(value)
    if number is None:
        msg = f"'{key}' must evaluate to an integer, found {bson_type_name(value)} with value {_show(value)}"
        raise ExpressionError(msg)
    if key in BOUNDED_PARTS and not -PART_LIMIT - 1 <= number <= PART_LIMIT:
        msg = f"'{key}' must evaluate to a value in the range [{-PART_LIMIT - 1}, {PART_LIMIT}]; value {number} is not in range"
        raise ExpressionError(msg)
    return number


def _wall_from_parts(year: int, month: int, day: int, hour: int, minute: int, second: int, millisecond: int) -> datetime:
    """Wall-clock time from parts that may overflow (month 14, day 0, hour -1), carried over the
    way timelib normalises them."""
    carry_year, month_index = divmod(year * 12 + month - 1, 12)
    try:
        start = datetime(carry_year, month_index + 1, 1)
        return start + timedelta(days=day - 1, hours=hour, minutes=minute, seconds=second, milliseconds=millisecond)
    except (OverflowError, ValueError):
        raise ExpressionError(OUT_OF_RANGE) from None


def _iso_wall(iso_year: int, week: int, weekday: int, hour: int, minute: int, second: int, millisecond: int) -> datetime:
    try:
        january_4 = datetime(iso_year, 1, 4)
        monday = january_4 - timedelta(days=january_4.weekday())
        return monday + timedelta(weeks=week - 1, days=weekday - 1, hours=hour, minutes=minute,
                                  seconds=second, milliseconds=millisecond)  # fmt: skip
    except (OverflowError, ValueError):
        raise ExpressionError(OUT_OF_RANGE) from None


@expression_operator("$dateFromParts")
def compile_date_from_parts(args: Any, at: tuple, scope: Any):
    _object_arguments(args, at, (*NATURAL_PARTS, *ISO_PARTS, *TIME_PARTS, "timezone"),
                      "$dateFromParts only supports an object as its argument",
                      "Unrecognized argument to $dateFromParts: {key}")  # fmt: skip
    if "year" not in args and "isoWeekYear" not in args:
        msg = "$dateFromParts requires either 'year' or 'isoWeekYear' to be present"
        raise SpecError(msg, at)
    if "year" in args and any(key in args for key in ISO_PARTS):
        msg = "$dateFromParts does not allow mixing natural dates with ISO dates"
        raise SpecError(msg, at)
    if "isoWeekYear" in args and any(key in args for key in NATURAL_PARTS):
        msg = "$dateFromParts does not allow mixing ISO dates with natural dates"
        raise SpecError(msg, at)
    iso = "isoWeekYear" in args
    defaults = {"year": 1970, "month": 1, "day": 1, "isoWeekYear": 1970, "isoWeek": 1, "isoDayOfWeek": 1,
                "hour": 0, "minute": 0, "second": 0, "millisecond": 0}  # fmt: skip
    # mongod reads the time parts first, then the timezone, then the calendar parts.
    time_parts = [(key, _compile_part(key, args, at, scope)) for key in TIME_PARTS]
    calendar_parts = [(key, _compile_part(key, args, at, scope)) for key in (ISO_PARTS if iso else NATURAL_PARTS)]
    zone, zone_getter = _compile_zone(args.get("timezone"), "timezone" in args, at, scope)
    year_key = "isoWeekYear" if iso else "year"
    build = _iso_wall if iso else _wall_from_parts

    def read(parts: list, doc: Any, vars: Any, out: list) -> bool:
        for key, fn in parts:
            if fn is None:
                out.append(defaults[key])
                continue
            value = fn(doc, vars)
            if value is None or value is MISSING:
                return False
            out.append(_date_part_number(key, value))
        return True

    def date_from_parts(doc: Any, vars: Any) -> Any:
        times: list = []
        if not read(time_parts, doc, vars, times):
            return None
        resolved = zone if zone_getter is None else zone_getter(doc, vars)
        if resolved is None:
            return None
        calendar: list = []
        if not read(calendar_parts, doc, vars, calendar):
            return None
        if not 1 <= calendar[0] <= 9999:
            msg = f"'{year_key}' must evaluate to an integer in the range 1 to 9999, found {calendar[0]}"
            raise ExpressionError(msg)
        return resolved.instant(build(*calendar, *times))

    return date_from_parts


def _compile_part(key: str, args: dict, at: tuple, scope: Any) -> Any:
    return compile_expression(args[key], (*at, key), scope) if key in args else None


# --------------------------------------------------------------------------------------------
# $dateFromString: mongod's format-directed parser, and a subset of timelib's free-form one.
# --------------------------------------------------------------------------------------------


class _Parsed:
    """What a parse found; unset fields stay None (timelib's TIMELIB_UNSET)."""

    __slots__ = ("day", "day_of_year", "hour", "iso_day", "iso_week", "iso_year", "micro", "minute",
                 "month", "offset", "second", "year", "zone_abbr")  # fmt: skip

    def __init__(self) -> None:
        for slot in self.__slots__:
            setattr(self, slot, None)


def _parse_error(text: str, position: int, reason: str) -> ConversionFailure:
    char = text[position] if position < len(text) else ""
    return ConversionFailure(f"Error parsing date string '{text}'; {position}: {reason} '{char}'")


MONTHS_BY_NAME = {name.lower(): i for i, name in enumerate(MONTH_NAMES, 1)}
MONTHS_BY_NAME.update({name[:3].lower(): i for i, name in enumerate(MONTH_NAMES, 1)})
MONTHS_BY_NAME["sept"] = 9
# Zone abbreviations timelib reads inside a date string (a common subset), as UTC offsets in hours.
ZONE_ABBREVIATIONS = {
    "z": 0, "ut": 0, "utc": 0, "gmt": 0, "wet": 0, "west": 1, "bst": 1, "cet": 1, "cest": 2,
    "eet": 2, "eest": 3, "msk": 3, "jst": 9, "hst": -10, "akst": -9, "akdt": -8, "pst": -8,
    "pdt": -7, "mst": -7, "mdt": -6, "cst": -6, "cdt": -5, "est": -5, "edt": -4,
    # military zones: A-I are +1..+9, K-M +10..+12, N-Y -1..-12 (Z, above, is UTC)
    **{letter: hours for hours, letter in enumerate("abcdefghi", start=1)},
    **{letter: hours for hours, letter in enumerate("klm", start=10)},
    **{letter: -hours for hours, letter in enumerate("nopqrstuvwxy", start=1)},
}  # fmt: skip
_NUMBER_FIELDS = {
    # specifier: (attribute, max digits, error when absent)
    "d": ("day", 2, "A two digit day could not be found"),
    "m": ("month", 2, "A two digit month could not be found"),
    "H": ("hour", 2, "A two digit hour could not be found"),
    "M": ("minute", 2, "A two digit minute could not be found"),
    "S": ("second", 2, "A two digit second could not be found"),
    "j": ("day_of_year", 3, "A three digit day-of-year could not be found"),
    "V": ("iso_week", 2, "A two digit ISO week could not be found"),
    "u": ("iso_day", 1, "A single digit day of week could not be found"),
}
_FOUR_DIGITS = {"Y": ("year", "A four digit year could not be found"),
                "G": ("iso_year", "A four digit ISO year could not be found")}  # fmt: skip
_ZONE_TOKEN = re.compile(r"(?:(?:GMT|UTC)?([+-])(\d{1,2})(?::?(\d\d))?)|([A-Za-z]+(?:/[A-Za-z_+-]+)*)")


def _digits(text: str, position: int, most: int) -> tuple:
    end = position
    while end < len(text) and end - position < most and text[end].isdigit():
        end += 1
    return (int(text[position:end]) if end > position else None), end


def _parse_zone_token(text: str, position: int, parsed: _Parsed) -> int:
    """``Z``, ``UTC``, ``GMT``, ``±hh[:mm]``; an IANA name inside the string is refused as mongod does."""
    match = _ZONE_TOKEN.match(text, position)
    if match is None:
        raise _parse_error(text, position, "The timezone could not be found in the database")
    if match.group(1):
        hours, minutes = int(match.group(2)), int(match.group(3) or 0)
        if hours > 23 or minutes > 59:
            raise _parse_error(text, position, "The timezone could not be found in the database")
        sign = -1 if match.group(1) == "-" else 1
        parsed.offset = sign * (hours * 3600 + minutes * 60)
        return match.end()
    word = match.group(4)
    if word.lower() in ZONE_ABBREVIATIONS:
        parsed.zone_abbr = word.upper()
        return match.end()
    if "/" in word or word in iana_names():
        raise _parse_error(text, position, "passing a time zone identifier as part of the string is not allowed")
    raise _parse_error(text, position, "The timezone could not be found in the database")


def parse_with_format(text: str, fmt: str) -> _Parsed:
    """Parse ``text`` against a validated ``$dateFromString`` format, as timelib's parser does."""
    parsed = _Parsed()
    pos = 0
    i = 0
    while i < len(fmt):
        char = fmt[i]
        if char != "%":
            if pos >= len(text) or text[pos] != char:
                raise _parse_error(text, pos, "The separation symbol could not be found")
            pos += 1
            i += 1
            continue
        spec = fmt[i + 1]
        i += 2
        if spec == "%":
            if pos >= len(text) or text[pos] != "%":
                raise _parse_error(text, pos, "The escaped character could not be found")
            pos += 1
            continue
        if spec in _FOUR_DIGITS or spec in _NUMBER_FIELDS or spec == "L":
            if pos >= len(text) or not text[pos].isdigit():
                raise _parse_error(text, pos, "Unexpected data found.")
        if spec in _FOUR_DIGITS:
            attribute, reason = _FOUR_DIGITS[spec]
            value, end = _digits(text, pos, 4)
            if end - pos < 4:
                raise _parse_error(text, pos, reason)
            setattr(parsed, attribute, value)
            pos = end
        elif spec in _NUMBER_FIELDS:
            attribute, most, reason = _NUMBER_FIELDS[spec]
            value, pos = _digits(text, pos, most)
            if spec == "H" and value > 23:
                raise _parse_error(text, pos, "Hour cannot be higher than 23")
            setattr(parsed, attribute, value)
        elif spec == "L":
            value, end = _digits(text, pos, 3)
            parsed.micro = value * 10 ** (3 - (end - pos)) * 1000
            pos = end
        elif spec in ("b", "B"):
            end = pos
            while end < len(text) and text[end].isalpha():
                end += 1
            month = MONTHS_BY_NAME.get(text[pos:end].lower())
            if month is None or (spec == "b" and end - pos != 3):
                raise _parse_error(text, pos, "A textual month could not be found")
            parsed.month = month
            pos = end
        elif spec == "z":
            pos = _parse_zone_token(text, pos, parsed)
        else:  # "Z": the offset in minutes, signed
            sign = -1 if pos < len(text) and text[pos] == "-" else 1
            start = pos + 1 if pos < len(text) and text[pos] in "+-" else pos
            minutes, end = _digits(text, start, 4)
            if minutes is None:
                raise _parse_error(text, pos, "The timezone could not be found in the database")
            parsed.offset = sign * minutes * 60
            pos = end
    if pos < len(text):
        raise _parse_error(text, pos, "Trailing data")
    if parsed.day_of_year is not None:
        if parsed.year is None:
            raise _parse_error(text, pos, "A 'day of year' can only come after a year has been found")
        parsed.month, parsed.day = 1, parsed.day_of_year
    return parsed


# The free-form parser: the date shapes timelib reads most often, then a time, then a zone.
_MONTH_WORD = (
    r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DATE_SHAPES = [
    re.compile(r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"),
    re.compile(r"(?P<y>\d{4})-" + _MONTH_WORD + r"-(?P<d>\d{1,2})", re.IGNORECASE),
    re.compile(r"(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})"),
    re.compile(r"(?P<y>\d{4})(?P<m>\d\d)(?P<d>\d\d)(?=[Tt]|$)"),
    re.compile(r"(?P<G>\d{4})-?W(?P<V>\d\d)(?:-?(?P<u>[1-7]))?"),
    re.compile(r"(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})"),
    re.compile(r"(?P<d>\d{1,2})[-.](?P<m>\d{1,2})[-.](?P<y>\d{4})"),
    re.compile(r"(?P<y>\d{4})-(?P<m>\d\d)(?![\d-])"),
    re.compile(_MONTH_WORD + r"[ -]?(?P<d>\d{1,2})(?:st|nd|rd|th)?,?[ ]+(?P<y>\d{4})", re.IGNORECASE),
    re.compile(r"(?P<d>\d{1,2})(?:st|nd|rd|th)?[ -]?" + _MONTH_WORD + r"[ ,-]?[ ]*(?P<y>\d{4})", re.IGNORECASE),
]
_WEEKDAY_PREFIX = re.compile(r"(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+", re.IGNORECASE)
_TIME = re.compile(
    r"(?:[Tt]|\s+)(?:(?P<H>\d{1,2}):(?P<M>\d\d)(?::(?P<S>\d\d)(?:[.,:](?P<f>\d+))?)?(?:\s*(?P<ampm>[AaPp])\.?[Mm]\.?)?"
    r"|(?P<h>\d{1,2})\s*(?P<ampm2>[AaPp])\.?[Mm]\.?(?![A-Za-z])|(?P<word>noon|midnight)(?![A-Za-z]))",
    re.IGNORECASE,
)


def parse_free_form(text: str) -> _Parsed:
    """The formats ``$dateFromString`` reads without ``format`` (a subset of timelib's)."""
    parsed = _Parsed()
    stripped = text.strip()
    lead = len(text) - len(text.lstrip())
    prefix = _WEEKDAY_PREFIX.match(stripped)
    pos = prefix.end() if prefix else 0
    for shape in _DATE_SHAPES:
        match = shape.match(stripped, pos)
        if match is not None:
            break
    else:
        raise _parse_error(text, lead + pos, "The timezone could not be found in the database"
                           if pos < len(stripped) and stripped[pos].isalpha() else "Unexpected character")
    fields = match.groupdict()
    if fields.get("G"):
        parsed.iso_year, parsed.iso_week = int(fields["G"]), int(fields["V"])
        parsed.iso_day = int(fields["u"] or 1)
    else:
        parsed.year = int(fields["y"])
        parsed.month = MONTHS_BY_NAME[fields["mon"].lower().rstrip(".")] if fields.get("mon") else int(fields["m"])
        parsed.day = int(fields["d"]) if fields.get("d") else 1
    pos = match.end()
    time = _TIME.match(stripped, pos)
    if time is not None and time.group("word"):
        parsed.hour = 12 if time.group("word").lower() == "noon" else 0
        parsed.minute = parsed.second = parsed.micro = 0
        pos = time.end()
    elif time is not None:
        hour_group, ampm = ("H", time.group("ampm")) if time.group("H") else ("h", time.group("ampm2"))
        parsed.hour, parsed.minute = int(time.group(hour_group)), int(time.group("M") or 0)
        if ampm:
            if not 1 <= parsed.hour <= 12:
                raise _parse_error(text, lead + time.start(hour_group), "Unexpected character")
            parsed.hour = parsed.hour % 12 + (12 if ampm in "Pp" else 0)
        parsed.second = int(time.group("S") or 0)
        fraction = time.group("f")
        parsed.micro = int((fraction + "000000")[:6]) if fraction else 0
        pos = time.end()
    rest = stripped[pos:].lstrip()
    if rest:
        pos = len(stripped) - len(rest)
        pos = _parse_zone_token(stripped, pos, parsed)
        if pos < len(stripped):
            raise _parse_error(text, lead + pos, "Unexpected character")
    if parsed.hour is not None and (parsed.hour > 24 or parsed.minute > 59 or parsed.second > 60):
        raise _parse_error(text, lead + len(stripped), "The parsed time was invalid")
    return parsed


def date_from_string(text: str, zone: Zone, fmt: str | None = None) -> datetime:
    """mongod's ``TimeZoneDatabase::fromString``: parse, complete, check the zone, resolve."""
    parsed = parse_free_form(text) if fmt is None else parse_with_format(text, fmt)
    try:
        return _resolve_parsed(text, parsed, zone)
    except ConversionFailure:
        raise
    except (ExpressionError, OverflowError, ValueError):
        # Years outside 1-9999 parse but cannot be represented here; onError may catch them.
        msg = f"Error parsing date string '{text}'; {OUT_OF_RANGE}"
        raise ConversionFailure(msg) from None


def _resolve_parsed(text: str, parsed: _Parsed, zone: Zone) -> datetime:
    if parsed.iso_year is not None and parsed.year is None:
        found = _iso_wall(parsed.iso_year, parsed.iso_week or 1, parsed.iso_day or 1, 0, 0, 0, 0)
        parsed.year, parsed.month, parsed.day = found.year, found.month, found.day
    if parsed.hour is not None or parsed.minute is not None or parsed.second is not None or parsed.micro is not None:
        # timelib completes a partial time ("%H:%M") with zeros; a missing time is midnight.
        parsed.hour, parsed.minute, parsed.second = parsed.hour or 0, parsed.minute or 0, parsed.second or 0
    else:
        parsed.hour = parsed.minute = parsed.second = 0
    if None in (parsed.year, parsed.month, parsed.day, parsed.hour, parsed.minute, parsed.second):
        msg = f'an incomplete date/time string has been found, with elements missing: "{text}"'
        raise ConversionFailure(msg)
    valid_month = 1 <= parsed.month <= 12
    if parsed.day_of_year is None and not (valid_month and 1 <= parsed.day <= monthrange(parsed.year, parsed.month)[1]):
        raise _parse_error(text, len(text), "The parsed date was invalid")
    if not zone.is_utc:
        if parsed.offset is not None:
            msg = "you cannot pass in a date/time string with GMT offset together with a timezone argument"
            raise ConversionFailure(msg)
        if parsed.zone_abbr is not None:
            msg = (
                f"you cannot pass in a date/time string with time zone information ('{parsed.zone_abbr}') "
                "together with a timezone argument"
            )
            raise ConversionFailure(msg)
    micro = parsed.micro or 0
    wall = _wall_from_parts(parsed.year, parsed.month, parsed.day, parsed.hour, parsed.minute, parsed.second,
                            micro // 1000)  # fmt: skip
    if parsed.offset is not None:
        return (wall - timedelta(seconds=parsed.offset)).replace(tzinfo=UTC)
    if parsed.zone_abbr is not None:
        return (wall - timedelta(hours=ZONE_ABBREVIATIONS[parsed.zone_abbr.lower()])).replace(tzinfo=UTC)
    return zone.instant(wall)


@expression_operator("$dateFromString")
def compile_date_from_string(args: Any, at: tuple, scope: Any):
    name = "$dateFromString"
    _object_arguments(args, at, ("dateString", "format", "timezone", "onError", "onNull"),
                      "$dateFromString only supports an object as an argument, found: {type}",
                      "Unrecognized argument to $dateFromString: {key}")  # fmt: skip
    _missing(name, "dateString", args, at)
    text_fn = compile_expression(args["dateString"], (*at, "dateString"), scope)
    on_null = compile_expression(args["onNull"], (*at, "onNull"), scope) if "onNull" in args else None
    on_error = compile_expression(args["onError"], (*at, "onError"), scope) if "onError" in args else None
    zone, zone_getter = _compile_zone(args.get("timezone"), "timezone" in args, at, scope)
    has_format = "format" in args

    def format_of(value: Any) -> str | None:
        if is_nullish(value):
            return None
        if type(value) is not str:
            msg = f"$dateFromString requires that 'format' be a string, found: {bson_type_name(value)} with value {_show(value)}"
            raise ExpressionError(msg)
        validate_format(value, FROM_STRING_SPECIFIERS)
        return value

    format_fn = compile_expression(args["format"], (*at, "format"), scope) if has_format else None
    constant_format = None
    if format_fn is not None and is_constant(format_fn):
        constant_format = at_compile_time(format_of, (*at, "format"), format_fn.constant)
        format_fn = None

    def parse_date(doc: Any, vars: Any) -> Any:
        text = text_fn(doc, vars)
        fmt = constant_format if format_fn is None else format_of(format_fn(doc, vars))
        resolved = zone if zone_getter is None else zone_getter(doc, vars)
        if text is None or text is MISSING:
            return on_null(doc, vars) if on_null is not None else None
        try:
            if type(text) is not str:
                found = f"{bson_type_name(text)} with value {_show(text)}"
                msg = f"$dateFromString requires that 'dateString' be a string, found: {found}"
                raise ConversionFailure(msg)
            if resolved is None or has_format and fmt is None:
                return None
            return date_from_string(text, resolved, fmt)
        except ConversionFailure:
            if on_error is None:
                raise
            return on_error(doc, vars)

    return parse_date


# --------------------------------------------------------------------------------------------
# $dateAdd, $dateSubtract, $dateDiff, $dateTrunc
# --------------------------------------------------------------------------------------------

_MAX_DAYS = (2**64 - 1) // 86_400_000 + 1
_MAX_YEARS = _MAX_DAYS // 365 + 1
MAX_AMOUNT = {
    "year": _MAX_YEARS, "quarter": _MAX_YEARS * 4, "month": _MAX_YEARS * 12, "week": _MAX_DAYS // 7,
    "day": _MAX_DAYS, "hour": _MAX_DAYS * 24, "minute": _MAX_DAYS * 1440, "second": _MAX_DAYS * 86400,
}  # fmt: skip
MONTHS_PER_UNIT = {"year": 12, "quarter": 3, "month": 1}
FIXED_UNIT_MS = {"second": 1000, "minute": 60_000, "hour": 3_600_000, "day": 86_400_000}


def date_add(instant: datetime, unit: str, amount: int, zone: Zone) -> datetime:
    """mongod's ``dateAdd``: hours and smaller move the instant; days and weeks move the local
    calendar day keeping the wall-clock time; months, quarters and years also clamp the day to
    the end of the target month (Jan 31 + 1 month = Feb 28/29)."""
    small = SMALL_UNIT_MS.get(unit)
    if small == 1:
        return _from_millis(_millis(instant) + amount)
    limit = MAX_AMOUNT[unit]
    if not -limit < amount < limit:
        msg = f"invalid dateAdd 'amount' parameter value: {amount} {unit}"
        raise ExpressionError(msg)
    try:
        if small is not None:
            return instant + timedelta(milliseconds=amount * small)
        wall = zone.local(instant)
        months = MONTHS_PER_UNIT.get(unit)
        if months is None:
            moved = wall + timedelta(days=amount * 7 if unit == "week" else amount)
        else:
            year, month = divmod(wall.year * 12 + wall.month - 1 + amount * months, 12)
            moved = wall.replace(year=year, month=month + 1, day=min(wall.day, monthrange(year, month + 1)[1]))
        return zone.instant(moved)
    except (OverflowError, ValueError):
        msg = f"dateAdd overflowed; {OUT_OF_RANGE}"
        raise ExpressionError(msg) from None


def _compile_date_arithmetic(name: str, args: Any, at: tuple, scope: Any, sign: int):
    expected = "startDate, unit, amount, and optionally timezone"
    _object_arguments(args, at, ("startDate", "unit", "amount", "timezone"),
                      f"{name} expects an object as its argument; found {{type}}",
                      f"Unrecognized argument to {name}: {{key}}. Expected arguments are {expected}.")  # fmt: skip
    if any(key not in args for key in ("startDate", "unit", "amount")):
        msg = f"{name} requires startDate, unit, and amount to be present"
        raise SpecError(msg, at)
    start_fn = compile_expression(args["startDate"], (*at, "startDate"), scope)
    amount_fn = compile_expression(args["amount"], (*at, "amount"), scope)
    unit, unit_getter = _compile_unit(name, args, at, scope)
    zone, zone_getter = _compile_zone(args.get("timezone"), "timezone" in args, at, scope)

    def date_arithmetic(doc: Any, vars: Any) -> Any:
        start = start_fn(doc, vars)
        if start is None or start is MISSING:
            return None
        resolved_unit = unit if unit_getter is None else unit_getter(doc, vars)
        if resolved_unit is None:
            return None
        amount = amount_fn(doc, vars)
        if amount is None or amount is MISSING:
            return None
        resolved = zone if zone_getter is None else zone_getter(doc, vars)
        if resolved is None:
            return None
        if not _convertible_to_date(start):
            msg = f"{name} requires startDate to be convertible to a date"
            raise ExpressionError(msg)
        count = integral64(amount)
        if count is None:
            msg = f"{name} expects integer amount of time units"
            raise ExpressionError(msg)
        if sign < 0:
            if count == INT64_MIN:
                msg = f"invalid {name} 'amount' parameter value: {count}"
                raise ExpressionError(msg)
            count = -count
        return date_add(coerce_date(start), resolved_unit, count, resolved)

    return date_arithmetic


@expression_operator("$dateAdd")
def compile_date_add(args: Any, at: tuple, scope: Any):
    return _compile_date_arithmetic("$dateAdd", args, at, scope, 1)


@expression_operator("$dateSubtract")
def compile_date_subtract(args: Any, at: tuple, scope: Any):
    return _compile_date_arithmetic("$dateSubtract", args, at, scope, -1)


def _weekday_index(wall: datetime, start_of_week: int) -> int:
    """0 for the first day of the week (``start_of_week``, ISO numbering), 6 for the last."""
    return (wall.isoweekday() - start_of_week) % 7


def date_diff(start: datetime, end: datetime, unit: str, zone: Zone, start_of_week: int = SUNDAY) -> int:
    """mongod's ``dateDiff``: unit boundaries crossed between two instants, counted on the local
    calendar (hour, minute and second counts corrected for a change of UTC offset)."""
    if unit == "millisecond":
        return _millis(end) - _millis(start)
    unit_ms = FIXED_UNIT_MS.get(unit)
    if unit_ms is not None and zone.tzinfo is None:
        # A fixed offset: counting local boundaries is flooring shifted milliseconds.
        shift = zone.offset * 1000
        return (_millis(end) + shift) // unit_ms - (_millis(start) + shift) // unit_ms
    first = zone.local(start)
    last = zone.local(end)
    years = last.year - first.year
    if unit == "year":
        return years
    if unit == "quarter":
        return (last.month - 1) // 3 - (first.month - 1) // 3 + years * 4
    if unit == "month":
        return last.month - first.month + years * 12
    days = last.toordinal() - first.toordinal()
    if unit == "day":
        return days
    if unit == "week":
        return (days + _weekday_index(first, start_of_week) - _weekday_index(last, start_of_week)) // 7
    shift = zone.offset_at(start) - zone.offset_at(end) if zone.tzinfo is not None else 0
    hours = last.hour - first.hour + days * 24
    if unit == "hour":
        return hours + _trunc_div(shift, 3600)
    minutes = last.minute - first.minute + hours * 60
    if unit == "minute":
        return minutes + _trunc_div(shift, 60)
    return last.second - first.second + minutes * 60 + shift


def _convert_date(value: Any, name: str, parameter: str) -> datetime:
    if not _convertible_to_date(value):
        msg = f"{name} requires '{parameter}' to be a date, but got {bson_type_name(value)}"
        raise ExpressionError(msg)
    return coerce_date(value)


def _unit_zone_week(unit: Any, unit_getter: Any, zone: Any, zone_getter: Any, start_of_week: Any) -> Callable:
    """Per document: (unit, zone, first day of the week), or None when one of them is null."""

    def resolve(doc: Any, vars: Any) -> tuple | None:
        resolved_unit = unit if unit_getter is None else unit_getter(doc, vars)
        if resolved_unit is None:
            return None
        week_start = SUNDAY
        if resolved_unit == "week":
            week_start = start_of_week(doc, vars)
            if week_start is None:
                return None
        resolved = zone if zone_getter is None else zone_getter(doc, vars)
        if resolved is None:
            return None
        return resolved_unit, resolved, week_start

    return resolve


@expression_operator("$dateDiff")
def compile_date_diff(args: Any, at: tuple, scope: Any):
    name = "$dateDiff"
    expected = "startDate, endDate, unit, and optionally timezone, startOfWeek"
    _object_arguments(args, at, ("startDate", "endDate", "unit", "timezone", "startOfWeek"),
                      "$dateDiff only supports an object as its argument",
                      f"Unrecognized argument to $dateDiff: {{key}}. Expected arguments are {expected}.")  # fmt: skip
    for key in ("startDate", "endDate", "unit"):
        _missing(name, key, args, at)
    start_fn = compile_expression(args["startDate"], (*at, "startDate"), scope)
    end_fn = compile_expression(args["endDate"], (*at, "endDate"), scope)
    unit, unit_getter = _compile_unit(name, args, at, scope)
    start_of_week = _compile_start_of_week(name, args, unit, at, scope)
    context = "$dateDiff parameter 'timezone' value parsing failed"
    zone, zone_getter = _compile_zone(args.get("timezone"), "timezone" in args, at, scope, context)
    resolve = _unit_zone_week(unit, unit_getter, zone, zone_getter, start_of_week)

    def date_difference(doc: Any, vars: Any) -> Any:
        start = start_fn(doc, vars)
        if start is None or start is MISSING:
            return None
        end = end_fn(doc, vars)
        if end is None or end is MISSING:
            return None
        settings = resolve(doc, vars)
        if settings is None:
            return None
        first = _convert_date(start, name, "startDate")
        last = _convert_date(end, name, "endDate")
        return Int64(date_diff(first, last, *settings))

    return date_difference


REFERENCE_MS = 946_684_800_000  # 2000-01-01T00:00:00Z: mongod anchors $dateTrunc bins here
REFERENCE_INSTANT = datetime(2000, 1, 1, tzinfo=UTC)
SATURDAY = 6  # 2000-01-01 was a Saturday
MAX_CALENDAR_BIN = 100_000_000_000


@functools.lru_cache(maxsize=1024)
def _trunc_reference(zone: Zone, week_start: int) -> tuple:
    """``(instant in ms, local date)`` of mongod's bin origin: 2000-01-01 at local midnight, or for
    weeks the first ``week_start`` day on or after it (``week_start`` 0 for other units)."""
    offset = zone.offset_at(REFERENCE_INSTANT)
    shift = (7 - (SATURDAY - week_start) % 7) % 7 if week_start else 0
    return REFERENCE_MS - offset * 1000 + shift * 86_400_000, date(2000, 1, 1 + shift)


def date_trunc(instant: datetime, unit: str, bin_size: int, zone: Zone, start_of_week: int = SUNDAY) -> datetime:
    """mongod's ``truncateDate``: the start of the ``bin_size``-unit bin holding ``instant``, bins
    counted from 2000-01-01 local midnight (for weeks, the first ``start_of_week`` day on or after
    it)."""
    reference_ms, reference_day = _trunc_reference(zone, start_of_week if unit == "week" else 0)
    small = SMALL_UNIT_MS.get(unit)
    if small is not None:
        bin_ms = bin_size * small
        if bin_ms > INT64_MAX:
            msg = "dateTrunc overflowed"
            raise ExpressionError(msg)
        millis = _millis(instant)
        return _from_millis(millis - (millis - reference_ms) % bin_ms)
    if bin_size > MAX_CALENDAR_BIN:
        msg = "dateTrunc unsupported binSize value"
        raise ExpressionError(msg)
    wall = zone.local(instant)
    # Count whole units from the origin on the local calendar, round down to the bin, and
    # return local midnight of the bin's first day (what mongod's dateAdd from the origin gives).
    try:
        if unit == "day" or unit == "week":
            days = wall.toordinal() - reference_day.toordinal()
            if unit == "day":
                first_day = days - days % bin_size
            else:
                weeks = (days - _weekday_index(wall, start_of_week)) // 7
                first_day = (weeks - weeks % bin_size) * 7
            start = datetime.fromordinal(reference_day.toordinal() + first_day)
        else:
            per_unit = MONTHS_PER_UNIT[unit]
            units = ((wall.year - 2000) * 12 + wall.month - 1) // per_unit
            year, month = divmod((units - units % bin_size) * per_unit, 12)
            start = datetime(2000 + year, month + 1, 1)
    except (OverflowError, ValueError):
        msg = "dateTrunc overflowed"
        raise ExpressionError(msg) from None
    return zone.instant(start)


def _bin_size(value: Any) -> int:
    size = integral64(value)
    if size is None:
        found = f"'{_show(value)}' of type {bson_type_name(value)}"
        msg = f"$dateTrunc requires 'binSize' to be a 64-bit integer, but got value {found}"
        raise ExpressionError(msg)
    if size <= 0:
        msg = f"$dateTrunc requires 'binSize' to be greater than 0, but got value {size}"
        raise ExpressionError(msg)
    return size


_UTC_FLOORS = {
    "day": {"hour": 0, "minute": 0, "second": 0, "microsecond": 0},
    "hour": {"minute": 0, "second": 0, "microsecond": 0},
    "minute": {"second": 0, "microsecond": 0},
    "second": {"microsecond": 0},
}


@expression_operator("$dateTrunc")
def compile_date_trunc(args: Any, at: tuple, scope: Any):
    name = "$dateTrunc"
    expected = "date, unit, and optionally, binSize, timezone, startOfWeek"
    _object_arguments(args, at, ("date", "unit", "binSize", "timezone", "startOfWeek"),
                      "$dateTrunc only supports an object as its argument",
                      f"Unrecognized argument to $dateTrunc: {{key}}. Expected arguments are {expected}")  # fmt: skip
    for key in ("date", "unit"):
        _missing(name, key, args, at)
    date_fn = compile_expression(args["date"], (*at, "date"), scope)
    unit, unit_getter = _compile_unit(name, args, at, scope)
    start_of_week = _compile_start_of_week(name, args, unit, at, scope)
    context = "$dateTrunc parameter 'timezone' value parsing failed"
    zone, zone_getter = _compile_zone(args.get("timezone"), "timezone" in args, at, scope, context)
    resolve = _unit_zone_week(unit, unit_getter, zone, zone_getter, start_of_week)
    size, size_fn = 1, None
    if "binSize" in args:
        size_fn = compile_expression(args["binSize"], (*at, "binSize"), scope)
        if is_constant(size_fn) and not is_nullish(size_fn.constant):
            size = at_compile_time(_bin_size, (*at, "binSize"), size_fn.constant)
            size_fn = None

    floor_fields = _UTC_FLOORS.get(unit) if size == 1 and size_fn is None and zone is not None and zone.is_utc else None
    if floor_fields is not None:
        # One unit in UTC: bins anchored at 2000-01-01 fall on every hour, minute... boundary.

        def truncate_in_utc(doc: Any, vars: Any) -> Any:
            value = date_fn(doc, vars)
            if type(value) is datetime:
                return value.replace(**floor_fields)
            if value is None or value is MISSING:
                return None
            return date_trunc(_convert_date(value, name, "date"), unit, 1, zone, SUNDAY)

        return truncate_in_utc

    def truncate(doc: Any, vars: Any) -> Any:
        value = date_fn(doc, vars)
        if value is None or value is MISSING:
            return None
        bin_size = size
        if size_fn is not None:
            raw = size_fn(doc, vars)
            if raw is None or raw is MISSING:
                return None
            bin_size = _bin_size(raw)
        settings = resolve(doc, vars)
        if settings is None:
            return None
        unit_now, zone_now, week_start = settings
        return date_trunc(_convert_date(value, name, "date"), unit_now, bin_size, zone_now, week_start)

    return truncate


# --------------------------------------------------------------------------------------------
# $tsSecond and $tsIncrement
# --------------------------------------------------------------------------------------------


def _timestamp_operator(name: str, read: Callable[[Timestamp], int]) -> None:
    def compile_timestamp_part(args: Any, at: tuple, scope: Any):
        (fn,) = operands(name, args, at, scope, 1, 1)

        def timestamp_part(doc: Any, vars: Any) -> Any:
            value = fn(doc, vars)
            if type(value) is Timestamp:
                return Int64(read(value))
            if value is None or value is MISSING:
                return None
            msg = f"Argument to {name} must be a timestamp, but is {bson_type_name(value)}"
            raise ExpressionError(msg)

        return timestamp_part

    compile_timestamp_part.__name__ = f"compile_{name[1:]}"
    expression_operator(name)(compile_timestamp_part)


_timestamp_operator("$tsSecond", lambda ts: ts.time)
_timestamp_operator("$tsIncrement", lambda ts: ts.inc)
