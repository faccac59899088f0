"""Type expression operators: $convert (with Atlas's binData forms), its shorthands, $type, $isNumber, $toHashedIndexKey.

https://www.mongodb.com/docs/manual/reference/operator/aggregation/#type-expression-operators
https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-convert/
"""

from __future__ import annotations

import base64
import binascii
import decimal
import functools
import hashlib
import math
import re
import struct
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import bson
from bson import Binary, Decimal128, Int64, ObjectId, Timestamp
from bson.binary import UuidRepresentation
from bson.codec_options import CodecOptions

from translator._bson_types import INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, TYPE_NAMES, TYPE_NUMBERS, bson_type_name
from translator._types import MISSING, is_nullish
from translator.errors import ConversionFailure, ExpressionError
from translator.expressions._numbers import NUMBER_TYPES
from translator.expressions.arithmetic import DECIMAL128
# C's %g, as mongod's streams print doubles in messages (this module's format_double is $toString's).
from translator.expressions.arithmetic import format_double as _stream_double
from translator.expressions.date import UTC_ZONE, date_from_string
from translator.expressions.compile import (
    at_compile_time,
    compile_expression,
    expression_operator,
    fold,
    is_constant,
    named_arguments,
    operands,
)

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
ONE_MS = timedelta(milliseconds=1)
TWO_POW_63 = 2.0**63
SMALLEST_NORMAL_DOUBLE = 2.2250738585072014e-308
NO_ON_ERROR = "in $convert with no onError value"

# BinData subtypes mongod accepts in 'to.subtype': predefined 0-9, user defined 128-255.
VALID_SUBTYPES = frozenset(range(10)) | frozenset(range(128, 256))
UUID_SUBTYPE = 4
BINDATA_FORMATS = frozenset({"auto", "base64", "base64url", "hex", "uuid", "utf8"})
BYTE_ORDERS = {"little": "<", "big": ">"}


# --- Kinds: the BSON type name of a value, cheaply -------------------------------------------

_FAST_KINDS = {
    float: "double",
    str: "string",
    bool: "bool",
    datetime: "date",
    Int64: "long",
    Decimal128: "decimal",
    ObjectId: "objectId",
    bytes: "binData",
    Binary: "binData",
    uuid.UUID: "binData",
    dict: "object",
    list: "array",
    Timestamp: "timestamp",
}


def _kind(value: Any) -> str:
    kind = type(value)
    if kind is int:
        return "int" if INT32_MIN <= value <= INT32_MAX else "long"
    name = _FAST_KINDS.get(kind)
    return name if name is not None else bson_type_name(value)


# --- Number formatting and parsing, as mongod does them -----------------------------------------


_SPECIAL_DOUBLES = {"inf": "Infinity", "-inf": "-Infinity", "nan": "NaN"}


def format_double(value: float) -> str:
    """``$toString`` of a double: shortest round-trip digits, no trailing ``.0`` (fmt's ``{}``).

    Python's repr and fmt agree on the digits and on when to switch to an exponent.
    """
    text = repr(value)
    if text.endswith(".0"):
        return text[:-2]
    return _SPECIAL_DOUBLES.get(text, text)


def format_decimal(value: Decimal128) -> str:
    """``$toString`` of a Decimal128: the IEEE scientific string, any NaN as ``NaN``."""
    number = value.to_decimal()
    return "NaN" if number.is_nan() else str(number)


def _parse_failure(text: str, reason: str) -> ConversionFailure:
    msg = f"Failed to parse number '{text}' {NO_ON_ERROR}: {reason}"
    return ConversionFailure(msg)


def _reject_hex(text: str) -> None:
    if text.startswith(("0x", "0X")):
        msg = f"Illegal hexadecimal input {NO_ON_ERROR}: {text}"
        raise ConversionFailure(msg)


_DECIMAL_DIGITS = re.compile(r"[0-9]+")


def parse_integer(text: str, low: int, high: int) -> int:
    """mongod's base-10 integer parser: optional sign, digits only, no surrounding spaces."""
    if text.isascii() and text.isdigit() and len(text) < 10:
        return int(text)  # the common case: no sign, fits in 32 bits
    _reject_hex(text)
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body:
        raise _parse_failure(text, "No digits")
    if not _DECIMAL_DIGITS.fullmatch(body):
        raise _parse_failure(text, "Did not consume whole string.")
    number = int(body)
    if number > 2**64 - 1:
        raise _parse_failure(text, "Overflow")
    number = -number if text[0] == "-" else number
    if number < low or number > high:
        raise _parse_failure(text, "Overflow")
    return number


# The longest prefix C's strtod accepts (decimal, hex float, infinity, nan).
_STRTOD_PREFIX = re.compile(
    r"[+-]?(?:"
    r"0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?"
    r"|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
    r"|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?"
    r"|[nN][aA][nN](?:\([0-9A-Za-z_]*\))?"
    r")"
)
_C_SPACES = " \t\n\v\f\r"


def _has_nonzero_digit(body: str) -> bool:
    """Whether a strtod token's digits are not all zero (so a zero result means underflow)."""
    if body[:2] in ("0x", "0X"):
        mantissa = re.split("[pP]", body[2:], maxsplit=1)[0]
    else:
        mantissa = re.split("[eE]", body, maxsplit=1)[0]
    return any(c not in "0." for c in mantissa)


def parse_double(text: str) -> float:
    """mongod's double parser (strtod over the whole string)."""
    _reject_hex(text)
    if not text:
        raise _parse_failure(text, "Empty string")
    if text[0] in _C_SPACES:
        raise _parse_failure(text, "Leading whitespace")
    match = _STRTOD_PREFIX.match(text)
    if match is None:
        raise _parse_failure(text, "Did not consume any digits")
    token = match.group()
    body = token.lstrip("+-")
    if body[:1] in ("n", "N"):
        number = math.nan
    elif body[:2] in ("0x", "0X"):
        number = float.fromhex(token)
    else:
        number = float(token)
    finite_text = body[:1] not in ("i", "I", "n", "N")
    tiny = 0.0 < abs(number) < SMALLEST_NORMAL_DOUBLE or (number == 0.0 and _has_nonzero_digit(body))
    if finite_text and (math.isinf(number) or tiny):
        raise _parse_failure(text, "Out of range")
    if match.end() != len(text):
        raise _parse_failure(text, "Did not consume whole string.")
    return number


_DECIMAL_TEXT = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?|inf(?:inity)?|nan)"
)


def parse_decimal(text: str) -> Decimal128:
    """mongod's Decimal128 parser: rounds to 34 digits, refuses overflow and underflow."""
    _reject_hex(text)
    if not text:
        raise _parse_failure(text, "Empty string")
    lowered = text.lower()
    if not _DECIMAL_TEXT.fullmatch(lowered):
        raise _parse_failure(text, "Failed to parse string to decimal")
    context = DECIMAL128.copy()
    context.clear_flags()  # the shared context keeps the flags of earlier arithmetic
    number = context.create_decimal(lowered)
    if context.flags[decimal.Overflow]:
        raise _parse_failure(text, "Conversion from string to decimal would overflow")
    if context.flags[decimal.Underflow]:
        raise _parse_failure(text, "Conversion from string to decimal would underflow")
    return Decimal128(number)


def _decimal_from_double(value: float) -> Decimal128:
    """A double as mongod makes a Decimal128 of it: rounded to 15 significant digits."""
    if math.isnan(value) or math.isinf(value) or value == 0.0:
        return Decimal128(decimal.Decimal(value))
    return Decimal128(decimal.Decimal("%.14e" % value))


# --- Dates -----------------------------------------------------------------------------------


def millis_of(value: datetime) -> int:
    """Milliseconds since the epoch of a datetime (naive ones are UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return (value - EPOCH) // ONE_MS


def date_from_millis(millis: int) -> datetime:
    try:
        return EPOCH + timedelta(milliseconds=millis)
    except OverflowError:
        msg = f"date out of the range sluice can represent (years 1 to 9999): {millis} ms since the epoch"
        raise ConversionFailure(msg) from None


def format_date(value: datetime) -> str:
    """``$toString`` of a date: ISO 8601 in UTC with milliseconds and ``Z``."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    elif value.utcoffset():
        value = value.astimezone(timezone.utc)
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:{value.minute:02d}:"
        f"{value.second:02d}.{value.microsecond // 1000:03d}Z"
    )


def _iso_fast(text: str) -> datetime | None:
    """The common ISO 8601 shapes through ``datetime.fromisoformat`` (None when it is not one)."""
    if len(text) < 10 or text[4] != "-" or text[7] != "-":
        return None
    if len(text) > 10 and (text[10] not in "T " or text[13:14] != ":"):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def parse_date_string(text: str) -> datetime:
    """A date string as ``$toDate`` reads it: with ``$dateFromString``'s parser, in UTC."""
    parsed = _iso_fast(text)
    if parsed is not None and parsed.tzinfo is timezone.utc:  # the common "...Z" string
        extra = parsed.microsecond % 1000
        return parsed.replace(microsecond=parsed.microsecond - extra) if extra else parsed
    return date_from_string(text, UTC_ZONE)


# --- BinData -----------------------------------------------------------------------------------


def _binary_parts(value: Any) -> tuple[bytes, int]:
    if type(value) is uuid.UUID:
        return value.bytes, UUID_SUBTYPE
    return bytes(value), getattr(value, "subtype", 0)


def make_binary(data: bytes, subtype: int) -> Any:
    """BinData as pymongo decodes it: plain ``bytes`` for subtype 0, ``Binary`` otherwise."""
    return data if subtype == 0 else Binary(data, subtype)


def _describe_binary(data: bytes, subtype: int) -> str:
    return f"BinData({subtype}, {data.hex().upper()})"


_UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_BASE64_TEXT = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_BASE64URL_TEXT = re.compile(r"[A-Za-z0-9_-]*={0,2}")


def _decode_string(text: str, fmt: str, subtype: int) -> bytes:
    """The bytes a string stands for in ``format``; ValueError carries mongod's reason."""
    if (fmt == "uuid") != (subtype == UUID_SUBTYPE):
        msg = "Only the 'uuid' format is allowed with the UUID subtype"
        raise ValueError(msg)
    if fmt == "base64":
        if not _BASE64_TEXT.fullmatch(text):
            msg = "invalid base64"
            raise ValueError(msg)
        return base64.b64decode(text)
    if fmt == "base64url":
        if not _BASE64URL_TEXT.fullmatch(text) or len(text.rstrip("=")) % 4 == 1:
            msg = "invalid base64url"
            raise ValueError(msg)
        body = text.rstrip("=")
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    if fmt == "hex":
        try:
            return binascii.unhexlify(text)
        except (binascii.Error, ValueError):
            msg = "invalid hex string"
            raise ValueError(msg) from None
    if fmt == "utf8":
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            msg = f"Invalid UTF-8: {text}"
            raise ValueError(msg) from None
    if fmt == "uuid":
        if not _UUID_TEXT.fullmatch(text):
            msg = f"Invalid UUID string: {text}"
            raise ValueError(msg)
        return uuid.UUID(text).bytes
    msg = f"Invalid format '{fmt}'"
    raise ValueError(msg)


def _encode_binary(data: bytes, subtype: int, fmt: str) -> str:
    is_uuid = subtype == UUID_SUBTYPE and len(data) == 16
    if fmt == "auto":
        fmt = "uuid" if is_uuid else "base64"
    if fmt == "base64":
        return base64.b64encode(data).decode("ascii")
    if fmt == "base64url":
        return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")
    if fmt == "hex":
        return data.hex().upper()
    if fmt == "utf8":
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            msg = "BinData does not represent a valid UTF-8 string"
            raise ValueError(msg) from None
    if not is_uuid:
        msg = "BinData does not represent a valid UUID"
        raise ValueError(msg)
    return str(uuid.UUID(bytes=data))


# --- Conversion functions: fn(value, options) ------------------------------------------------


class Options:
    """``format``, ``byteOrder`` (a struct prefix) and target subtype of one conversion."""

    __slots__ = ("byte_order", "format", "subtype")

    def __init__(self, format: str | None = None, byte_order: str = "<", subtype: int = 0) -> None:
        self.format = format
        self.byte_order = byte_order
        self.subtype = subtype


DEFAULT_OPTIONS = Options()
Converter = Callable[[Any, Options], Any]


def _identity(value: Any, options: Options) -> Any:
    return value


def _true(value: Any, options: Options) -> bool:
    return True


def _nonzero(value: Any, options: Options) -> bool:
    return value != 0


def _decimal_nonzero(value: Decimal128, options: Options) -> bool:
    return not value.to_decimal().is_zero()


def _check_integral_double(value: float) -> None:
    if math.isnan(value):
        msg = f"Attempt to convert NaN value to integer type {NO_ON_ERROR}"
        raise ConversionFailure(msg)
    if math.isinf(value):
        msg = f"Attempt to convert infinity value to integer type {NO_ON_ERROR}"
        raise ConversionFailure(msg)


def _overflow(shown: str) -> ConversionFailure:
    msg = f"Conversion would overflow target type {NO_ON_ERROR}: {shown}"
    return ConversionFailure(msg)


def _double_to_int(value: float, options: Options) -> int:
    if INT32_MIN <= value <= INT32_MAX:  # false for NaN
        return int(value)
    _check_integral_double(value)
    raise _overflow(_stream_double(value))


def _double_to_long_int(value: float) -> int:
    _check_integral_double(value)
    if not (-TWO_POW_63 <= value < TWO_POW_63):
        raise _overflow(_stream_double(value))
    return int(value)


def _double_to_long(value: float, options: Options) -> Int64:
    return Int64(_double_to_long_int(value))


def _decimal_to_integer(value: Decimal128, low: int, high: int) -> int:
    number = value.to_decimal()
    if number.is_nan():
        msg = f"Attempt to convert NaN value to integer type {NO_ON_ERROR}"
        raise ConversionFailure(msg)
    if number.is_infinite():
        msg = f"Attempt to convert infinity value to integer type {NO_ON_ERROR}"
        raise ConversionFailure(msg)
    result = int(number)  # truncates toward zero, as mongod's kRoundTowardZero
    if not low <= result <= high:
        raise _overflow(format_decimal(value))
    return result


def _decimal_to_int(value: Decimal128, options: Options) -> int:
    return _decimal_to_integer(value, INT32_MIN, INT32_MAX)


def _decimal_to_long(value: Decimal128, options: Options) -> Int64:
    return Int64(_decimal_to_integer(value, INT64_MIN, INT64_MAX))


def _decimal_to_double(value: Decimal128, options: Options) -> float:
    number = value.to_decimal()
    if number.is_nan():
        return math.nan
    result = float(number)
    if not number.is_infinite() and (math.isinf(result) or (number != 0 and abs(result) < SMALLEST_NORMAL_DOUBLE)):
        raise _overflow(format_decimal(value))
    return result


def _long_to_int(value: Any, options: Options) -> int:
    if not INT32_MIN <= value <= INT32_MAX:
        raise _overflow("")
    return int(value)


def _to_long(value: Any, options: Options) -> Int64:
    return Int64(value)


def _to_double(value: Any, options: Options) -> float:
    return float(value)


def _integer_to_decimal(value: Any, options: Options) -> Decimal128:
    return Decimal128(decimal.Decimal(int(value)))


def _double_to_decimal(value: float, options: Options) -> Decimal128:
    return _decimal_from_double(value)


def _integer_to_string(value: Any, options: Options) -> str:
    return str(int(value))


def _double_to_string(value: float, options: Options) -> str:
    return format_double(value)


def _decimal_to_string(value: Decimal128, options: Options) -> str:
    return format_decimal(value)


def _long_to_date(value: Any, options: Options) -> datetime:
    return date_from_millis(int(value))


def _double_to_date(value: float, options: Options) -> datetime:
    return date_from_millis(_double_to_long_int(value))


def _decimal_to_date(value: Decimal128, options: Options) -> datetime:
    return date_from_millis(_decimal_to_integer(value, INT64_MIN, INT64_MAX))


def _string_to_double(value: str, options: Options) -> float:
    return parse_double(value)


def _string_to_int(value: str, options: Options) -> int:
    return parse_integer(value, INT32_MIN, INT32_MAX)


def _string_to_long(value: str, options: Options) -> Int64:
    return Int64(parse_integer(value, INT64_MIN, INT64_MAX))


def _string_to_decimal(value: str, options: Options) -> Decimal128:
    return parse_decimal(value)


_HEX_24 = re.compile(r"[0-9a-fA-F]{24}")


def _string_to_object_id(value: str, options: Options) -> ObjectId:
    if len(value) != 24:
        reason = f"Invalid string length for parsing to OID, expected 24 but found {len(value)}"
    elif not _HEX_24.fullmatch(value):
        bad = next(c for c in value if c not in "0123456789abcdefABCDEF")
        reason = f"Invalid character found in hex string: '{bad}'"
    else:
        return ObjectId(value)
    msg = f"Failed to parse objectId '{value}' {NO_ON_ERROR}: {reason}"
    raise ConversionFailure(msg)


def _string_to_date(value: str, options: Options) -> datetime:
    return parse_date_string(value)


def _require_format(kind: str, target: str, options: Options) -> str:
    if options.format is None:
        msg = f"Format must be speficied when converting from '{kind}' to '{target}'"
        raise ExpressionError(msg)
    return options.format


def _string_to_binary(value: str, options: Options) -> Any:
    fmt = _require_format("string", "binData", options)
    try:
        data = _decode_string(value, fmt, options.subtype)
    except ValueError as error:
        msg = f"Failed to parse BinData '{value}' {NO_ON_ERROR}: {error}"
        raise ConversionFailure(msg) from None
    return make_binary(data, options.subtype)


def _binary_to_string(value: Any, options: Options) -> str:
    fmt = _require_format("binData", "string", options)
    data, subtype = _binary_parts(value)
    try:
        return _encode_binary(data, subtype, fmt)
    except ValueError as error:
        msg = f"Failed to convert '{_describe_binary(data, subtype)}' to string {NO_ON_ERROR}: {error}"
        raise ConversionFailure(msg) from None


def _binary_to_binary(value: Any, options: Options) -> Any:
    data, subtype = _binary_parts(value)
    if subtype != options.subtype:
        msg = "Conversions between different BinData subtypes are not supported"
        raise ConversionFailure(msg)
    return value


def _read_number(value: Any, options: Options, codes: dict) -> Any:
    """A number stored in binData whose length picks the width (``codes``: length → struct code)."""
    data, subtype = _binary_parts(value)
    code = codes.get(len(data))
    if code is None:
        msg = (
            f"Failed to convert '{_describe_binary(data, subtype)}' to number in $convert"
            f" because of invalid length: {len(data)}"
        )
        raise ConversionFailure(msg)
    return struct.unpack(options.byte_order + code, data)[0]


_INT_WIDTHS = {1: "b", 2: "h", 4: "i"}
_LONG_WIDTHS = {1: "b", 2: "h", 4: "i", 8: "q"}
_DOUBLE_WIDTHS = {4: "f", 8: "d"}


def _binary_to_int(value: Any, options: Options) -> int:
    return _read_number(value, options, _INT_WIDTHS)


def _binary_to_long(value: Any, options: Options) -> Int64:
    return Int64(_read_number(value, options, _LONG_WIDTHS))


def _binary_to_double(value: Any, options: Options) -> float:
    return float(_read_number(value, options, _DOUBLE_WIDTHS))


def _int_to_binary(value: int, options: Options) -> Any:
    return make_binary(struct.pack(options.byte_order + "i", value), options.subtype)


def _long_to_binary(value: Any, options: Options) -> Any:
    return make_binary(struct.pack(options.byte_order + "q", int(value)), options.subtype)


def _double_to_binary(value: float, options: Options) -> Any:
    return make_binary(struct.pack(options.byte_order + "d", value), options.subtype)


def _bool_to(one: Any, zero: Any) -> Converter:
    return lambda value, options: one if value else zero


def _object_id_to_date(value: ObjectId, options: Options) -> datetime:
    return value.generation_time


def _timestamp_to_date(value: Timestamp, options: Options) -> datetime:
    return date_from_millis(value.time * 1000)


def _date_to_long(value: datetime, options: Options) -> Int64:
    return Int64(millis_of(value))


def _date_to_double(value: datetime, options: Options) -> float:
    return float(millis_of(value))


def _date_to_decimal(value: datetime, options: Options) -> Decimal128:
    return Decimal128(decimal.Decimal(millis_of(value)))


def _date_to_string(value: datetime, options: Options) -> str:
    return format_date(value)


# mongod's conversion table: target → input kind → conversion. Pairs not listed are refused.
CONVERSIONS: dict[str, dict[str, Converter]] = {
    "double": {
        "double": _identity, "string": _string_to_double, "bool": _bool_to(1.0, 0.0),
        "date": _date_to_double, "int": _to_double, "long": _to_double,
        "decimal": _decimal_to_double, "binData": _binary_to_double,
    },
    "string": {
        "double": _double_to_string, "string": _identity, "objectId": lambda v, o: str(v),
        "bool": _bool_to("true", "false"), "date": _date_to_string, "int": _integer_to_string,
        "long": _integer_to_string, "decimal": _decimal_to_string, "binData": _binary_to_string,
    },
    "objectId": {"string": _string_to_object_id, "objectId": _identity},
    "bool": {
        "double": _nonzero, "int": _nonzero, "long": _nonzero, "decimal": _decimal_nonzero,
        "bool": _identity,
    },
    "date": {
        "double": _double_to_date, "string": _string_to_date, "objectId": _object_id_to_date,
        "date": _identity, "long": _long_to_date, "decimal": _decimal_to_date,
        "timestamp": _timestamp_to_date,
    },
    "int": {
        "double": _double_to_int, "string": _string_to_int, "bool": _bool_to(1, 0),
        "int": _identity, "long": _long_to_int, "decimal": _decimal_to_int, "binData": _binary_to_int,
    },
    "long": {
        "double": _double_to_long, "string": _string_to_long, "bool": _bool_to(Int64(1), Int64(0)),
        "date": _date_to_long, "int": _to_long, "long": _to_long, "decimal": _decimal_to_long,
        "binData": _binary_to_long,
    },
    "decimal": {
        "double": _double_to_decimal, "string": _string_to_decimal,
        "bool": _bool_to(Decimal128("1"), Decimal128("0")), "date": _date_to_decimal,
        "int": _integer_to_decimal, "long": _integer_to_decimal, "decimal": _identity,
    },
    "binData": {
        "string": _string_to_binary, "binData": _binary_to_binary, "int": _int_to_binary,
        "long": _long_to_binary, "double": _double_to_binary,
    },
}  # fmt: skip
# Every other BSON type converts to true (mongod lists them one by one; null never gets here).
for _kind_name in TYPE_NUMBERS:
    CONVERSIONS["bool"].setdefault(_kind_name, _true)


# --- $convert arguments ---------------------------------------------------------------------


def _by_python_type(conversions: dict[str, Converter]) -> dict[type, Converter]:
    """The conversions keyed by Python type, for types whose BSON kind never depends on the value."""
    return {kind: conversions[name] for kind, name in _FAST_KINDS.items() if name in conversions}


class Target:
    """A resolved ``to``: the type name and, for binData, the subtype."""

    __slots__ = ("by_type", "conversions", "name", "subtype")

    def __init__(self, name: str, subtype: int = 0) -> None:
        self.name = name
        self.subtype = subtype
        self.conversions = CONVERSIONS.get(name, {})
        self.by_type = _by_python_type(self.conversions)

    def convert(self, value: Any, options: Options) -> Any:
        """Convert a non-null ``value`` to this type; ConversionFailure if mongod refuses the pair."""
        converter = self.by_type.get(type(value)) or self.conversions.get(_kind(value))
        if converter is None:
            msg = f"Unsupported conversion from {_kind(value)} to {self.name} {NO_ON_ERROR}"
            raise ConversionFailure(msg)
        return converter(value, options)


@functools.lru_cache(maxsize=None)  # finite: the BSON type names times the binData subtypes
def target_of(name: str, subtype: int = 0) -> Target:
    """The shared Target for ``name`` and ``subtype``: built once, then a cache lookup per document."""
    return Target(name, subtype)


def _subtype_of(value: Any) -> int:
    if is_nullish(value):
        return 0
    if type(value) not in NUMBER_TYPES:
        msg = f"For BinData, $convert's 'subtype' argument must be a number, but is {bson_type_name(value)}"
        raise ExpressionError(msg)
    number = float(str(value)) if type(value) is Decimal128 else value
    if number != int(number):
        msg = "In $convert, numeric 'subtype' argument is not an integer"
        raise ExpressionError(msg)
    if int(number) not in VALID_SUBTYPES:
        msg = f"In $convert, numeric value for 'subtype' does not correspond to a BinData type: {int(number)}"
        raise ExpressionError(msg)
    return int(number)


def _type_name_of(value: Any) -> str:
    kind = type(value)
    if kind is str:
        if value not in TYPE_NUMBERS and value != "missing":
            msg = f"Unknown type name: {value}"
            raise ExpressionError(msg)
        return value
    if kind in NUMBER_TYPES:
        number = float(str(value)) if kind is Decimal128 else value
        if math.isnan(number) or math.isinf(number) or number != int(number):
            msg = "In $convert, numeric 'to' argument is not an integer"
            raise ExpressionError(msg)
        name = TYPE_NAMES.get(int(number))
        if name is None:
            msg = f"In $convert, numeric value for 'to' does not correspond to a BSON type: {int(number)}"
            raise ExpressionError(msg)
        return name
    msg = f"$convert's 'to' argument must be a string or number, but is {bson_type_name(value)}"
    raise ExpressionError(msg)


def resolve_target(value: Any) -> Target | None:
    """``to`` as mongod reads it: a type name, a type number or ``{type, subtype}``; None if null."""
    if type(value) is dict:
        kind = value.get("type", MISSING)
        if is_nullish(kind) and "type" in value:
            return None
        return target_of(_type_name_of(kind), _subtype_of(value.get("subtype", MISSING)))
    if is_nullish(value):
        return None
    return target_of(_type_name_of(value))


def resolve_format(value: Any) -> str | None:
    if is_nullish(value):
        return None
    if type(value) is not str:
        msg = f"$convert requires that 'format' be a string, found: {bson_type_name(value)} with value {value!r}"
        raise ExpressionError(msg)
    if value not in BINDATA_FORMATS:
        msg = f"Invalid 'format' argument for $convert: {value}"
        raise ExpressionError(msg)
    return value


def resolve_byte_order(value: Any) -> str:
    if is_nullish(value):
        return "<"
    if type(value) is not str:
        msg = f"$convert requires that 'byteOrder' be a string, found: {bson_type_name(value)} with value {value!r}"
        raise ExpressionError(msg)
    order = BYTE_ORDERS.get(value)
    if order is None:
        msg = f"Invalid 'byteOrder' argument for $convert: {value}"
        raise ExpressionError(msg)
    return order


def _optional_argument(spec: dict, key: str, at: tuple, scope: Any) -> Any:
    return compile_expression(spec[key], (*at, key), scope) if key in spec else None


@expression_operator("$convert")
def compile_convert(args: Any, at: tuple, scope: Any):
    spec = named_arguments(
        "$convert", args, at, required=("input", "to"), optional=("onError", "onNull", "format", "byteOrder")
    )
    input_fn = compile_expression(spec["input"], (*at, "input"), scope)
    to_fn = compile_expression(spec["to"], (*at, "to"), scope)
    on_error = _optional_argument(spec, "onError", at, scope)
    on_null = _optional_argument(spec, "onNull", at, scope)
    format_fn = _optional_argument(spec, "format", at, scope)
    order_fn = _optional_argument(spec, "byteOrder", at, scope)

    fixed_target = at_compile_time(resolve_target, (*at, "to"), to_fn.constant) if is_constant(to_fn) else MISSING
    fixed_options = None
    if (format_fn is None or is_constant(format_fn)) and (order_fn is None or is_constant(order_fn)):
        fmt = at_compile_time(resolve_format, (*at, "format"), format_fn.constant) if format_fn else None
        order = at_compile_time(resolve_byte_order, (*at, "byteOrder"), order_fn.constant) if order_fn else "<"
        if fixed_target is not MISSING:
            fixed_options = Options(fmt, order, fixed_target.subtype if fixed_target else 0)

    def options_for(target: Target, doc: dict, vars: Any) -> Options:
        if fixed_options is not None:
            return fixed_options
        fmt = resolve_format(format_fn(doc, vars)) if format_fn else None
        order = resolve_byte_order(order_fn(doc, vars)) if order_fn else "<"
        return Options(fmt, order, target.subtype)

    def convert(doc: dict, vars: Any) -> Any:
        value = input_fn(doc, vars)
        target = fixed_target if fixed_target is not MISSING else resolve_target(to_fn(doc, vars))
        if value is None or value is MISSING:
            return on_null(doc, vars) if on_null is not None else None
        if target is None:
            return None
        options = options_for(target, doc, vars)
        try:
            return target.convert(value, options)
        except ConversionFailure:
            if on_error is None:
                raise
            return on_error(doc, vars)

    return fold(convert, [input_fn, to_fn, on_error, on_null, format_fn, order_fn], at)


# --- Shorthands: $toBool, $toDate, ... ($convert without onError/onNull) -------------------------


def _shorthand(name: str, target: str, options: Options) -> None:
    """Register ``name`` as ``{$convert: {input: <arg>, to: target}}``."""
    resolved = target_of(target)
    by_type, convert = resolved.by_type, resolved.convert

    @expression_operator(name)
    def compile_shorthand(args: Any, at: tuple, scope: Any):
        (fn,) = operands(name, args, at, scope, 1, 1)

        def shorthand(doc: dict, vars: Any) -> Any:
            value = fn(doc, vars)
            fast = by_type.get(type(value))
            if fast is not None:
                return fast(value, options)
            if value is None or value is MISSING:
                return None
            return convert(value, options)

        return fold(shorthand, [fn], at)


_shorthand("$toBool", "bool", DEFAULT_OPTIONS)
_shorthand("$toDate", "date", DEFAULT_OPTIONS)
_shorthand("$toDecimal", "decimal", DEFAULT_OPTIONS)
_shorthand("$toDouble", "double", DEFAULT_OPTIONS)
_shorthand("$toInt", "int", DEFAULT_OPTIONS)
_shorthand("$toLong", "long", DEFAULT_OPTIONS)
_shorthand("$toObjectId", "objectId", DEFAULT_OPTIONS)
# $toString reads binData with format "auto": a UUID string for UUIDs, base64 otherwise.
_shorthand("$toString", "string", Options(format="auto"))


@expression_operator("$toUUID")
def compile_to_uuid(args: Any, at: tuple, scope: Any):
    """Shorthand for ``$convert`` to ``{type: "binData", subtype: 4}`` with ``format: "uuid"``.

    The documentation says non-string input errors, so numbers are refused here even though
    mongod 8.1's numeric binData conversion would otherwise accept them.
    """
    (fn,) = operands("$toUUID", args, at, scope, 1, 1)
    options = Options(format="uuid", subtype=UUID_SUBTYPE)

    def to_uuid(doc: dict, vars: Any) -> Any:
        value = fn(doc, vars)
        if value is None or value is MISSING:
            return None
        kind = _kind(value)
        if kind == "string":
            return _string_to_binary(value, options)
        if kind == "binData":
            return _binary_to_binary(value, options)
        msg = f"Unsupported conversion from {kind} to binData {NO_ON_ERROR}"
        raise ConversionFailure(msg)

    return fold(to_uuid, [fn], at)


# --- $toHashedIndexKey: mongod's hashed-index hash (MD5 over a canonical walk of the BSON) ------

# Sort-order class of each BSON type byte, as the hash feeds it (numbers share one class).
_CANONICAL_TYPES = {
    0x01: 10, 0x10: 10, 0x12: 10, 0x13: 10, 0x02: 15, 0x0E: 15, 0x03: 20, 0x04: 25, 0x05: 30,
    0x07: 35, 0x08: 40, 0x09: 45, 0x11: 47, 0x0B: 50, 0x0C: 55, 0x0D: 60, 0x0F: 65, 0x0A: 5,
    0x06: 0, 0xFF: -1, 0x7F: 127,
}  # fmt: skip
_FIXED_SIZES = {0x01: 8, 0x09: 8, 0x11: 8, 0x12: 8, 0x10: 4, 0x13: 16, 0x07: 12, 0x08: 1, 0x0A: 0, 0x06: 0, 0xFF: 0, 0x7F: 0}
_HASH_SEED = struct.pack("<i", 0)
_UNDEFINED_TYPE = struct.pack("<i", 0)
_ENCODE_OPTIONS = CodecOptions(uuid_representation=UuidRepresentation.STANDARD)


def _value_size(kind: int, raw: bytes, at: int) -> int:
    size = _FIXED_SIZES.get(kind)
    if size is not None:
        return size
    if kind in (0x02, 0x0D, 0x0E):  # string, code, symbol: length-prefixed
        return 4 + struct.unpack_from("<i", raw, at)[0]
    if kind in (0x03, 0x04, 0x0F):  # document, array, code with scope: total size first
        return struct.unpack_from("<i", raw, at)[0]
    if kind == 0x05:  # binData: length, subtype byte, bytes
        return 5 + struct.unpack_from("<i", raw, at)[0]
    if kind == 0x0B:  # regex: two C strings
        return raw.index(b"\x00", raw.index(b"\x00", at) + 1) + 1 - at
    return 4 + struct.unpack_from("<i", raw, at)[0] + 12  # dbPointer: string, then an ObjectId


def _hash_number(kind: int, raw: bytes, at: int) -> int:
    """A number as the hash sees it: a 64-bit integer (doubles truncated, decimals rounded)."""
    if kind == 0x10:
        return struct.unpack_from("<i", raw, at)[0]
    if kind == 0x12:
        return struct.unpack_from("<q", raw, at)[0]
    if kind == 0x01:
        number = struct.unpack_from("<d", raw, at)[0]
        if math.isnan(number):
            return 0
        if number == TWO_POW_63:
            return INT64_MIN  # mongod keeps the old wrap-around for exactly 2^63
        if not number < TWO_POW_63:
            return INT64_MAX
        return INT64_MIN if number < -TWO_POW_63 else int(number)
    number = Decimal128.from_bid(raw[at : at + 16]).to_decimal()
    if number.is_nan():
        return 0
    if number > INT64_MAX:
        return INT64_MAX
    if number < INT64_MIN:
        return INT64_MIN
    return int(number.to_integral_value(rounding=decimal.ROUND_HALF_EVEN))


def _hash_element(md5: Any, raw: bytes, at: int, with_name: bool) -> int:
    """Feed one BSON element (and what it contains) to ``md5``; return where the next one starts."""
    kind = raw[at]
    if kind == 0:  # the end of an embedded document: its type class only
        md5.update(_UNDEFINED_TYPE)
        return at + 1
    name_end = raw.index(b"\x00", at + 1)
    md5.update(struct.pack("<i", _CANONICAL_TYPES[kind]))
    if with_name:
        md5.update(raw[at + 1 : name_end + 1])
    start = name_end + 1
    size = _value_size(kind, raw, start)
    if kind in (0x01, 0x10, 0x12, 0x13):
        md5.update(struct.pack("<q", _hash_number(kind, raw, start)))
    elif kind in (0x03, 0x04, 0x0F):
        inner = start
        if kind == 0x0F:  # code with scope: the code, then the scope document
            code_size = struct.unpack_from("<i", raw, start + 4)[0]
            md5.update(raw[start + 8 : start + 8 + code_size])
            inner = start + 8 + code_size
        element = inner + 4
        while True:
            ended = raw[element] == 0
            element = _hash_element(md5, raw, element, True)
            if ended:
                break
    else:
        md5.update(raw[start : start + size])
    return start + size


def hashed_index_key(value: Any) -> Int64:
    """The 64-bit key a hashed index stores for ``value`` (seed 0), as ``$toHashedIndexKey`` returns."""
    md5 = hashlib.md5(_HASH_SEED)
    if value is MISSING:
        md5.update(_UNDEFINED_TYPE)  # mongod hashes an absent value like undefined
    else:
        try:
            raw = bson.encode({"": value}, codec_options=_ENCODE_OPTIONS)
        except (bson.errors.InvalidDocument, TypeError, OverflowError) as error:
            msg = f"$toHashedIndexKey cannot hash a value it cannot encode as BSON: {error}"
            raise ExpressionError(msg) from None
        _hash_element(md5, raw, 4, False)
    return Int64(struct.unpack("<q", md5.digest()[:8])[0])


@expression_operator("$toHashedIndexKey")
def compile_to_hashed_index_key(args: Any, at: tuple, scope: Any):
    (fn,) = operands("$toHashedIndexKey", args, at, scope, 1, 1)
    return fold(lambda doc, vars: hashed_index_key(fn(doc, vars)), [fn], at)


@expression_operator("$type")
def compile_type(args: Any, at: tuple, scope: Any):
    (fn,) = operands("$type", args, at, scope, 1, 1)
    return fold(lambda doc, vars: _kind(fn(doc, vars)), [fn], at)


@expression_operator("$isNumber")
def compile_is_number(args: Any, at: tuple, scope: Any):
    (fn,) = operands("$isNumber", args, at, scope, 1, 1)
    return fold(lambda doc, vars: type(fn(doc, vars)) in NUMBER_TYPES, [fn], at)
