"""String expression operators.

https://www.mongodb.com/docs/manual/reference/operator/aggregation/#string-expression-operators

Offsets and lengths follow mongod exactly: the ``*Bytes`` operators count UTF-8 bytes, the
``*CP`` operators count code points, and ``$toLower``/``$toUpper``/``$strcasecmp`` fold ASCII
letters only. Regular expressions are PCRE in mongod: see :mod:`translator._regex`.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import ROUND_HALF_EVEN
from typing import Any, Callable

from bson import Binary, Decimal128, Int64, MaxKey, MinKey, Regex, Timestamp

from translator._bson_types import INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, bson_type_name
from translator._types import MISSING, is_nullish
from runtime.ejson import MAX_DOCUMENT_BYTES
from translator._limits import check_built
from translator._regex import compile_regex, regex_pattern_and_flags
from translator.errors import ExpressionError
from translator.expressions._numbers import NUMBER_TYPES
from translator.expressions.compile import (
    at_compile_time,
    compile_expression,
    constant,
    expression_operator,
    is_constant,
    named_arguments,
    operands,
)

# mongod's default set for $trim/$ltrim/$rtrim: NUL, ASCII whitespace and the Unicode spaces
# U+00A0, U+1680, U+2000..U+200A (not U+2028, U+3000 or Python's str.isspace set).
DEFAULT_TRIM_CHARS = "\0 \t\n\x0b\x0c\r\u00a0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B))
MAX_TRIM_CHARS_BYTES = 4096


def _iso_date(value: datetime) -> str:
    utc = value.astimezone(timezone.utc)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
        f"{utc.second:02d}.{utc.microsecond // 1000:03d}Z"
    )


def show_value(value: Any) -> str:
    """mongod's ``Value::toString``, which its error messages quote (strings in double quotes)."""
    kind = type(value)
    if kind is str:
        return f'"{value}"'
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is Int64:
        return str(int(value))
    if kind is float:
        return "%g" % value
    if value is None:
        return "null"
    if value is MISSING:
        return "MISSING"
    if kind is dict:
        return "{" + ", ".join(f"{k}: {show_value(v)}" for k, v in value.items()) + "}" if value else "{}"
    if kind is list:
        return "[" + ", ".join(show_value(v) for v in value) + "]"
    if kind is datetime:
        return _iso_date(value)
    if kind is Timestamp:
        return f"Timestamp({value.time}, {value.inc})"
    if kind is Regex or isinstance(value, re.Pattern):
        pattern, flags = regex_pattern_and_flags(value)
        return f"/{pattern}/{flags}"
    if isinstance(value, bytes):
        subtype = value.subtype if isinstance(value, Binary) else 0
        return f'BinData({subtype}, "{bytes(value).hex().upper()}")'
    if kind is MinKey:
        return "MinKey"
    if kind is MaxKey:
        return "MaxKey"
    return str(value)  # Decimal128 ("1.5", "NaN", "Infinity"), ObjectId (24 hex digits)


def coerce_to_string(value: Any) -> str:
    """mongod's ``Value::coerceToString``: null/missing → "", numbers and dates → text, else an error.

    Doubles print as C's ``%g`` (six significant digits), dates as ISO 8601 with milliseconds.
    """
    kind = type(value)
    if kind is str:
        return value
    if value is None or value is MISSING:
        return ""
    if kind is int or kind is Int64:
        return str(int(value))
    if kind is float:
        return "%g" % value
    if kind is Decimal128:
        return str(value)
    if kind is datetime:
        return _iso_date(value)
    if kind is Timestamp:
        moment = value.as_datetime()  # printed like C's ctime(), without weekday and year
        return f"{moment:%b} {moment.day:2d} {moment:%H:%M:%S}:{value.inc}"
    if isinstance(value, str):  # bson.Code: mongod coerces JavaScript code to its text
        return str(value)
    msg = f"can't convert from BSON type {bson_type_name(value)} to String"
    raise ExpressionError(msg)


def is_int32_integral(value: Any) -> bool:
    """mongod's ``Value::integral``: a number that converts to a 32-bit int without loss."""
    kind = type(value)
    if kind is int or kind is Int64:
        return INT32_MIN <= value <= INT32_MAX
    if kind is float:
        return value.is_integer() and INT32_MIN <= value <= INT32_MAX
    if kind is Decimal128:
        number = value.to_decimal()
        return number.is_finite() and number == number.to_integral_value() and INT32_MIN <= number <= INT32_MAX
    return False


def _coerce_to_long(value: Any) -> int:
    """mongod's ``Value::coerceToLong`` for a number: doubles truncate, decimals round half-even."""
    kind = type(value)
    if kind is int or kind is Int64:
        return int(value)
    number = value.to_decimal() if kind is Decimal128 else value
    if number != number or not INT64_MIN <= number <= INT64_MAX:  # number != number: NaN
        msg = f"Can't coerce out of range value {show_value(value)} to long"
        raise ExpressionError(msg)
    if kind is Decimal128:
        return int(number.to_integral_value(rounding=ROUND_HALF_EVEN))
    return int(number)


def _int32(value: Any) -> int:
    """``Value::coerceToInt`` of a value that :func:`is_int32_integral` accepted."""
    return int(value.to_decimal()) if type(value) is Decimal128 else int(value)


def _check_constant(fn: Any, at: tuple, check: Any) -> Any:
    """Validate a constant argument once, at translation time: a failure is a SpecError there.

    Returns the closure to use: a constant of ``check``'s result, or ``fn`` if not constant.
    """
    if not is_constant(fn):
        return fn
    return constant(at_compile_time(check, at, fn.constant))


# --------------------------------------------------------------------------- $concat


def _concat_failure(values: list) -> None:
    """Why ``"".join`` refused: the first null or missing operand makes null, else mongod's error."""
    for value in values:
        if is_nullish(value):
            return None
        if type(value) is not str:
            msg = f"$concat only supports strings, not {bson_type_name(value)}"
            raise ExpressionError(msg)
    return None


@expression_operator("$concat")
def compile_concat(args: Any, at: tuple, scope: Any):
    fns = operands("$concat", args, at, scope)

    def concat(doc: dict, vars: Any) -> Any:
        values = [fn(doc, vars) for fn in fns]
        try:
            joined = "".join(values)
        except TypeError:
            return _concat_failure(values)
        if len(joined) > MAX_DOCUMENT_BYTES:
            check_built("$concat", len(joined.encode()))
        return joined

    return concat


# --------------------------------------------------------------------------- $indexOfBytes, $indexOfCP


def _index_bound(value: Any, name: str, what: str) -> int:
    if not is_int32_integral(value):
        # mongod's message really has no space after the operator name.
        msg = (
            f"{name}requires an integral {what}, found a value of type: {bson_type_name(value)}, "
            f"with value: {show_value(value)}"
        )
        raise ExpressionError(msg)
    bound = _int32(value)
    if bound < 0:
        msg = f"{name} requires a nonnegative {what}, found: {show_value(value)}"
        raise ExpressionError(msg)
    return bound


def _second_argument(name: str, token: Any) -> str:
    if type(token) is not str:
        msg = f"{name} requires a string as the second argument, found: {bson_type_name(token)}"
        raise ExpressionError(msg)
    return token


def _index_operands(name: str, args: Any, at: tuple, scope: Any) -> tuple:
    """The four operands of $indexOfBytes/$indexOfCP, constant ones checked now (absent bounds: None)."""
    fns = operands(name, args, at, scope, 2, 4)
    fns[1] = _check_constant(fns[1], (*at, "1"), lambda token: _second_argument(name, token))
    for index, what in ((2, "starting index"), (3, "ending index")):
        if len(fns) > index:
            fns[index] = _check_constant(fns[index], (*at, str(index)), lambda v, w=what: _index_bound(v, name, w))
    return (*fns, None, None)[:4]


def _non_string_text(name: str, text: Any) -> None:
    """Null for a null or missing text, else mongod's error."""
    if is_nullish(text):
        return None
    msg = f"{name} requires a string as the first argument, found: {bson_type_name(text)}"
    raise ExpressionError(msg)


@expression_operator("$indexOfBytes")
def compile_index_of_bytes(args: Any, at: tuple, scope: Any):
    text_fn, token_fn, start_fn, end_fn = _index_operands("$indexOfBytes", args, at, scope)

    def index_of_bytes(doc: dict, vars: Any) -> Any:
        text = text_fn(doc, vars)
        if type(text) is not str:
            return _non_string_text("$indexOfBytes", text)
        token = _second_argument("$indexOfBytes", token_fn(doc, vars))
        # An ASCII text has byte offsets equal to code point offsets: search the str itself.
        haystack, needle = (text, token) if text.isascii() else (text.encode(), token.encode())
        start = 0 if start_fn is None else _index_bound(start_fn(doc, vars), "$indexOfBytes", "starting index")
        end = len(haystack)
        if end_fn is not None:
            end = min(end, _index_bound(end_fn(doc, vars), "$indexOfBytes", "ending index"))
        if start > len(haystack) or end < start:
            return -1
        return haystack.find(needle, start, end)

    return index_of_bytes


@expression_operator("$indexOfCP")
def compile_index_of_cp(args: Any, at: tuple, scope: Any):
    text_fn, token_fn, start_fn, end_fn = _index_operands("$indexOfCP", args, at, scope)

    def index_of_cp(doc: dict, vars: Any) -> Any:
        text = text_fn(doc, vars)
        if type(text) is not str:
            return _non_string_text("$indexOfCP", text)
        token = _second_argument("$indexOfCP", token_fn(doc, vars))
        start = 0 if start_fn is None else _index_bound(start_fn(doc, vars), "$indexOfCP", "starting index")
        end = len(text)
        if end_fn is not None:
            end = min(end, _index_bound(end_fn(doc, vars), "$indexOfCP", "ending index"))
        if end < start:
            return -1
        if not text and not token:
            return 0
        # mongod bounds where a match may *start*: it can run past the ending index.
        found = text.find(token, start)
        return found if 0 <= found < end else -1

    return index_of_cp


# --------------------------------------------------------------------------- $strLenBytes, $strLenCP


@expression_operator("$strLenBytes")
def compile_str_len_bytes(args: Any, at: tuple, scope: Any):
    (fn,) = operands("$strLenBytes", args, at, scope, 1, 1)

    def str_len_bytes(doc: dict, vars: Any) -> Any:
        value = fn(doc, vars)
        if type(value) is not str:
            msg = f"$strLenBytes requires a string argument, found: {bson_type_name(value)}"
            raise ExpressionError(msg)
        return len(value) if value.isascii() else len(value.encode())

    return str_len_bytes


@expression_operator("$strLenCP")
def compile_str_len_cp(args: Any, at: tuple, scope: Any):
    (fn,) = operands("$strLenCP", args, at, scope, 1, 1)

    def str_len_cp(doc: dict, vars: Any) -> Any:
        value = fn(doc, vars)
        if type(value) is not str:
            msg = f"$strLenCP requires a string argument, found: {bson_type_name(value)}"
            raise ExpressionError(msg)
        return len(value)

    return str_len_cp


# --------------------------------------------------------------------------- $toLower, $toUpper, $strcasecmp


def _ascii_case(str_map: Callable[[str], str], bytes_map: Callable[[bytes], bytes]) -> Callable[[str], str]:
    """A case mapping of ASCII letters only, as mongod's C-locale mapping.

    ``bytes.lower``/``bytes.upper`` touch ASCII letters only and UTF-8 keeps every other code
    point in bytes >= 0x80, so mapping the encoded text is exact (and faster than a translate table).
    """

    def ascii_map(text: str) -> str:
        return str_map(text) if text.isascii() else bytes_map(text.encode()).decode()

    return ascii_map


_ascii_lower = _ascii_case(str.lower, bytes.lower)
_ascii_upper = _ascii_case(str.upper, bytes.upper)


def _case_mapper(name: str, ascii_map: Callable[[str], str]) -> None:
    """Register ``$toLower``/``$toUpper`` over a value coerced to a string."""

    def compile_case(args: Any, at: tuple, scope: Any):
        (fn,) = operands(name, args, at, scope, 1, 1)

        def change_case(doc: dict, vars: Any) -> Any:
            value = fn(doc, vars)
            return ascii_map(value if type(value) is str else coerce_to_string(value))

        return change_case

    expression_operator(name)(compile_case)


_case_mapper("$toLower", _ascii_lower)
_case_mapper("$toUpper", _ascii_upper)


@expression_operator("$strcasecmp")
def compile_strcasecmp(args: Any, at: tuple, scope: Any):
    left_fn, right_fn = operands("$strcasecmp", args, at, scope, 2, 2)

    def strcasecmp(doc: dict, vars: Any) -> Any:
        # Python compares code points, which orders like mongod's byte-wise UTF-8 comparison.
        left = _ascii_upper(coerce_to_string(left_fn(doc, vars)))
        right = _ascii_upper(coerce_to_string(right_fn(doc, vars)))
        return 0 if left == right else (1 if left > right else -1)

    return strcasecmp


# --------------------------------------------------------------------------- $substr, $substrBytes, $substrCP


def _is_continuation(byte: int) -> bool:
    return byte & 0xC0 == 0x80


def _byte_bound(value: Any, what: str) -> int:
    """A $substrBytes starting index or length: any number, truncated to a long."""
    if type(value) not in NUMBER_TYPES:
        msg = f"$substrBytes:  {what} must be a numeric type (is BSON type {bson_type_name(value)})"
        raise ExpressionError(msg)
    bound = _coerce_to_long(value)
    if bound < 0 and what == "starting index":
        msg = f"$substrBytes:  starting index must be non-negative (got: {bound})"
        raise ExpressionError(msg)
    return bound


def _substr_bytes(value: Any, lower_value: Any, length_value: Any) -> str:
    text = coerce_to_string(value)
    lower = _byte_bound(lower_value, "starting index")
    length = _byte_bound(length_value, "length")  # negative: the rest of the string
    if text.isascii():
        return text[lower:] if length < 0 else text[lower : lower + length]
    data = text.encode()
    if length < 0:
        length = len(data)
    if lower < len(data) and _is_continuation(data[lower]):
        msg = "$substrBytes:  Invalid range, starting index is a UTF-8 continuation byte."
        raise ExpressionError(msg)
    if lower + length < len(data) and _is_continuation(data[lower + length]):
        msg = "$substrBytes:  Invalid range, ending index is in the middle of a UTF-8 character."
        raise ExpressionError(msg)
    return data[lower : lower + length].decode()


def _compile_substr_bytes(args: Any, at: tuple, scope: Any, name: str):
    text_fn, lower_fn, length_fn = operands(name, args, at, scope, 3, 3)
    lower_fn = _check_constant(lower_fn, (*at, "1"), lambda value: _byte_bound(value, "starting index"))
    length_fn = _check_constant(length_fn, (*at, "2"), lambda value: _byte_bound(value, "length"))
    if is_constant(lower_fn) and is_constant(length_fn):
        lower, length = lower_fn.constant, length_fn.constant
        stop = None if length < 0 else lower + length

        def substr_constant_range(doc: dict, vars: Any) -> Any:
            value = text_fn(doc, vars)
            if type(value) is str and value.isascii():
                return value[lower:stop]
            return _substr_bytes(value, lower, length)

        return substr_constant_range
    return lambda doc, vars: _substr_bytes(text_fn(doc, vars), lower_fn(doc, vars), length_fn(doc, vars))


@expression_operator("$substrBytes")
def compile_substr_bytes(args: Any, at: tuple, scope: Any):
    return _compile_substr_bytes(args, at, scope, "$substrBytes")


@expression_operator("$substr")
def compile_substr(args: Any, at: tuple, scope: Any):
    """The deprecated alias of ``$substrBytes``; mongod names ``$substrBytes`` in its errors."""
    return _compile_substr_bytes(args, at, scope, "$substr")


def _cp_bound(value: Any, what: str) -> int:
    """A $substrCP starting index or length: a non-negative number that is exactly a 32-bit int."""
    if type(value) not in NUMBER_TYPES:
        msg = f"$substrCP: {what} must be a numeric type (is BSON type {bson_type_name(value)})"
        raise ExpressionError(msg)
    if not is_int32_integral(value):
        msg = f"$substrCP: {what} cannot be represented as a 32-bit integral value: {show_value(value)}"
        raise ExpressionError(msg)
    bound = _int32(value)
    if bound < 0:
        if what == "length":
            msg = "$substrCP: length must be a nonnegative integer."
        else:
            msg = "$substrCP: the starting index must be nonnegative integer."
        raise ExpressionError(msg)
    return bound


def _substr_cp(value: Any, start_value: Any, length_value: Any) -> str:
    text = coerce_to_string(value)
    start = _cp_bound(start_value, "starting index")
    length = _cp_bound(length_value, "length")
    return text[start : start + length]


@expression_operator("$substrCP")
def compile_substr_cp(args: Any, at: tuple, scope: Any):
    text_fn, start_fn, length_fn = operands("$substrCP", args, at, scope, 3, 3)
    start_fn = _check_constant(start_fn, (*at, "1"), lambda value: _cp_bound(value, "starting index"))
    length_fn = _check_constant(length_fn, (*at, "2"), lambda value: _cp_bound(value, "length"))
    if is_constant(start_fn) and is_constant(length_fn):
        start, length = start_fn.constant, length_fn.constant
        stop = start + length

        def substr_cp_constant_range(doc: dict, vars: Any) -> Any:
            value = text_fn(doc, vars)
            return value[start:stop] if type(value) is str else _substr_cp(value, start, length)

        return substr_cp_constant_range
    return lambda doc, vars: _substr_cp(text_fn(doc, vars), start_fn(doc, vars), length_fn(doc, vars))


# --------------------------------------------------------------------------- $trim, $ltrim, $rtrim

_TRIM_WORDING = (
    "{name} only supports an object as an argument, found {type}",
    "{name} found an unknown argument: {key}",
    "{name} requires an '{key}' field",
)


def _trim_chars(name: str, chars: Any) -> str:
    if type(chars) is not str:
        shown = f"{show_value(chars)} (of type {bson_type_name(chars)})"
        msg = f"{name} requires 'chars' to be a string, got {shown} instead."
        raise ExpressionError(msg)
    size = len(chars.encode())
    if size > MAX_TRIM_CHARS_BYTES:
        msg = f"{name} requires 'chars' to be not greater than {MAX_TRIM_CHARS_BYTES} bytes, got {size} bytes instead."
        raise ExpressionError(msg)
    return chars


def _trimmer(name: str, strip: Any) -> None:
    """Register one of ``$trim``/``$ltrim``/``$rtrim``; ``strip`` is the matching ``str`` method.

    mongod trims whole code points from a set, which is what ``str.strip(chars)`` does.
    """

    def compile_trim(args: Any, at: tuple, scope: Any):
        named_arguments(name, args, at, ("input",), ("chars",), _TRIM_WORDING)
        input_fn = compile_expression(args["input"], (*at, "input"), scope)
        chars_fn = None
        if "chars" in args:
            chars_fn = compile_expression(args["chars"], (*at, "chars"), scope)
            chars_fn = _check_constant(chars_fn, (*at, "chars"), lambda c: c if is_nullish(c) else _trim_chars(name, c))
        if chars_fn is None or (is_constant(chars_fn) and type(chars_fn.constant) is str):
            chars = DEFAULT_TRIM_CHARS if chars_fn is None else chars_fn.constant

            def trim_constant_chars(doc: dict, vars: Any) -> Any:
                text = input_fn(doc, vars)
                if type(text) is str:
                    return strip(text, chars)
                return _check_trim_input(name, text)

            return trim_constant_chars

        def trim(doc: dict, vars: Any) -> Any:
            text = input_fn(doc, vars)
            if type(text) is not str:
                return _check_trim_input(name, text)
            chars = chars_fn(doc, vars)
            if is_nullish(chars):
                return None
            return strip(text, _trim_chars(name, chars))

        return trim

    expression_operator(name)(compile_trim)


def _check_trim_input(name: str, text: Any) -> None:
    """A non-string input: null when null or missing, else mongod's error."""
    if is_nullish(text):
        return None
    msg = f"{name} requires its input to be a string, got {show_value(text)} (of type {bson_type_name(text)}) instead."
    raise ExpressionError(msg)


_trimmer("$trim", str.strip)
_trimmer("$ltrim", str.lstrip)
_trimmer("$rtrim", str.rstrip)


def resolve_regex(name: str, regex: Any, options: Any) -> re.Pattern | None:
    """mongod's checks on 'regex' and 'options', then the compiled pattern (None when regex is null)."""
    kind = type(regex)
    if not (kind is str or kind is Regex or isinstance(regex, re.Pattern) or is_nullish(regex)):
        msg = f"{name} needs 'regex' to be of type string or regex"
        raise ExpressionError(msg)
    if not (type(options) is str or is_nullish(options)):
        msg = f"{name} needs 'options' to be of type string"
        raise ExpressionError(msg)
    pattern, flags = (regex, "") if kind is str else (None, "")
    if kind is Regex or isinstance(regex, re.Pattern):
        pattern, flags = regex_pattern_and_flags(regex)
        if flags and not is_nullish(options):
            msg = f"{name}: found regex option(s) specified in both 'regex' and 'option' fields"
            raise ExpressionError(msg)
    if type(options) is str:
        flags = options
    if pattern is not None and "\0" in pattern:
        msg = f"{name}: regular expression cannot contain an embedded null byte"
        raise ExpressionError(msg)
    if "\0" in flags:
        msg = f"{name}: regular expression options cannot contain an embedded null byte"
        raise ExpressionError(msg)
    return None if pattern is None else compile_regex(pattern, flags, name)


def _is_regex_value(value: Any) -> bool:
    return type(value) is Regex or isinstance(value, re.Pattern)


_REGEX_WORDING = (
    "{name} expects an object of named arguments but found: {type}",
    "{name} found an unknown argument: {key}",
    "{name} requires '{key}' parameter",
)


def _compile_regex_operator(name: str, args: Any, at: tuple, scope: Any, run: Any):
    """Shared by $regexFind/$regexFindAll/$regexMatch: ``run(compiled, text)`` makes the result.

    ``run`` gets ``None`` for a null regex or a null/missing input and returns the null result.

    A constant regex (and options) is checked and compiled once, here; a failure is a SpecError,
    as mongod reports it when it parses the pipeline.
    """
    named_arguments(name, args, at, ("input", "regex"), ("options",), _REGEX_WORDING)
    input_fn = compile_expression(args["input"], (*at, "input"), scope)
    regex_fn = compile_expression(args["regex"], (*at, "regex"), scope)
    options_fn = compile_expression(args["options"], (*at, "options"), scope) if "options" in args else constant(None)
    def check_input(text: Any) -> None:
        if not is_nullish(text):
            msg = f"{name} needs 'input' to be of type string"
            raise ExpressionError(msg)

    if is_constant(regex_fn) and is_constant(options_fn):
        compiled = at_compile_time(resolve_regex, (*at, "regex"), name, regex_fn.constant, options_fn.constant)

        def regex_constant(doc: dict, vars: Any) -> Any:
            text = input_fn(doc, vars)
            if type(text) is not str:
                check_input(text)
                return run(None, None)
            return run(compiled, text)

        return regex_constant

    def regex_dynamic(doc: dict, vars: Any) -> Any:
        text = input_fn(doc, vars)
        compiled = resolve_regex(name, regex_fn(doc, vars), options_fn(doc, vars))
        if type(text) is not str:
            check_input(text)
            return run(None, None)
        return run(compiled, text)

    return regex_dynamic


def _match_document(match: re.Match) -> dict:
    """mongod's match shape: idx counts code points, unmatched groups are null."""
    return {"match": match.group(), "idx": match.start(), "captures": list(match.groups())}


def _find_first(compiled: Any, text: Any) -> Any:
    if compiled is None:
        return None
    match = compiled.search(text)
    return None if match is None else _match_document(match)


def _find_all(compiled: Any, text: Any) -> list:
    """Every non-overlapping match, as mongod scans: after an empty match, step one code point.

    Unlike ``re.finditer``, no empty match is reported at the very end of a non-empty text.
    """
    found: list = []
    if compiled is None:
        return found
    position, size = 0, len(text)
    while True:
        match = compiled.search(text, position)
        if match is None:
            break
        found.append(_match_document(match))
        start, end = match.span()
        position = end if end > start else start + 1
        if position >= size:
            break
    return found


def _matches(compiled: Any, text: Any) -> bool:
    return compiled is not None and compiled.search(text) is not None


@expression_operator("$regexFind")
def compile_regex_find(args: Any, at: tuple, scope: Any):
    return _compile_regex_operator("$regexFind", args, at, scope, _find_first)


@expression_operator("$regexFindAll")
def compile_regex_find_all(args: Any, at: tuple, scope: Any):
    return _compile_regex_operator("$regexFindAll", args, at, scope, _find_all)


@expression_operator("$regexMatch")
def compile_regex_match(args: Any, at: tuple, scope: Any):
    return _compile_regex_operator("$regexMatch", args, at, scope, _matches)


def _regex_pieces(compiled: re.Pattern, text: str, limit: int | None = None) -> tuple:
    """mongod's scan for a regex $split/$replaceAll/$replaceOne: (text before, match) pairs and the rest.

    Empty matches count, including one at the very end; after an empty match the scan steps
    one code point. ``limit`` stops after that many matches.
    """
    pieces = []
    position = kept = 0
    size = len(text)
    while position <= size and (limit is None or len(pieces) < limit):
        match = compiled.search(text, position)
        if match is None:
            break
        start, end = match.span()
        pieces.append((text[kept:start], match))
        kept = end
        position = end if end > start else (start + 1 if position < size else size + 1)
    return pieces, text[kept:]


def _regex_constant(fn: Any, name: str, at: tuple) -> re.Pattern | None:
    """A constant regex argument compiled once (None if the argument is not a constant regex)."""
    if not (is_constant(fn) and _is_regex_value(fn.constant)):
        return None
    return at_compile_time(resolve_regex, at, name, fn.constant, None)


# --------------------------------------------------------------------------- $split


def _split_delimiter(delimiter: Any) -> Any:
    """A delimiter mongod accepts: a non-empty string, a regex, or null (then the result is null)."""
    if type(delimiter) is str:
        if not delimiter:
            msg = "$split requires a non-empty separator"
            raise ExpressionError(msg)
    elif not (is_nullish(delimiter) or _is_regex_value(delimiter)):
        msg = (
            "$split requires an expression that evaluates to a string or regular expression as a "
            f"second argument, found: {bson_type_name(delimiter)}"
        )
        raise ExpressionError(msg)
    return delimiter


def _split(text: Any, delimiter: Any, compiled: re.Pattern | None = None) -> Any:
    if type(text) is not str or type(delimiter) is not str:
        if is_nullish(text) or is_nullish(delimiter):
            return None
        if type(text) is not str:
            msg = (
                "$split requires an expression that evaluates to a string as a first argument, "
                f"found: {bson_type_name(text)}"
            )
            raise ExpressionError(msg)
        _split_delimiter(delimiter)
        pieces, rest = _regex_pieces(compiled or resolve_regex("$split", delimiter, None), text)
        out = []
        for before, match in pieces:
            out.append(before)
            out.extend("" if group is None else group for group in match.groups())
        out.append(rest)
        return out
    return text.split(_split_delimiter(delimiter))


@expression_operator("$split")
def compile_split(args: Any, at: tuple, scope: Any):
    text_fn, delimiter_fn = operands("$split", args, at, scope, 2, 2)
    delimiter_fn = _check_constant(delimiter_fn, (*at, "1"), _split_delimiter)
    compiled = _regex_constant(delimiter_fn, "$split", (*at, "1"))
    if compiled is not None:
        delimiter = delimiter_fn.constant
        return lambda doc, vars: _split(text_fn(doc, vars), delimiter, compiled)
    if is_constant(delimiter_fn) and type(delimiter_fn.constant) is str:
        separator = delimiter_fn.constant

        def split_constant(doc: dict, vars: Any) -> Any:
            text = text_fn(doc, vars)
            return text.split(separator) if type(text) is str else _split(text, separator)

        return split_constant
    return lambda doc, vars: _split(text_fn(doc, vars), delimiter_fn(doc, vars))


# --------------------------------------------------------------------------- $replaceOne, $replaceAll

_REPLACE_WORDING = (
    "{name} requires an object as an argument, found: {type}",
    "{name} found an unknown argument: {key}",
    "{name} requires '{key}' to be specified",
)


def _replacer(name: str, replace_string: Any, limit: int | None) -> None:
    """Register ``$replaceOne`` (``limit`` 1) or ``$replaceAll`` (no limit).

    ``find`` may be a string (``replace_string(text, find, replacement)``) or, as in
    mongod 8.2+, a regex; the replacement is always literal text.
    """

    def check_find(find: Any) -> Any:
        if type(find) is not str and not is_nullish(find) and not _is_regex_value(find):
            msg = f"{name} requires that 'find' be a string or regular expression, found: {show_value(find)}"
            raise ExpressionError(msg)
        return find

    def check_replacement(replacement: Any) -> Any:
        if type(replacement) is not str and not is_nullish(replacement):
            msg = f"{name} requires that 'replacement' be a string, found: {show_value(replacement)}"
            raise ExpressionError(msg)
        return replacement

    def replace(text: Any, find: Any, replacement: Any, compiled: re.Pattern | None = None) -> Any:
        if type(text) is not str and not is_nullish(text):
            msg = f"{name} requires that 'input' be a string, found: {show_value(text)}"
            raise ExpressionError(msg)
        check_find(find)
        check_replacement(replacement)
        if is_nullish(text) or is_nullish(find) or is_nullish(replacement):
            return None
        if type(find) is str:
            return replace_string(text, find, replacement)
        pieces, rest = _regex_pieces(compiled or resolve_regex(name, find, None), text, limit)
        check_built(name, len(text) + len(pieces) * len(replacement))
        return "".join(before + replacement for before, _ in pieces) + rest

    def compile_replace(args: Any, at: tuple, scope: Any):
        keys = ("input", "find", "replacement")
        named_arguments(name, args, at, keys, (), _REPLACE_WORDING)
        text_fn, find_fn, replacement_fn = (compile_expression(args[key], (*at, key), scope) for key in keys)
        find_fn = _check_constant(find_fn, (*at, "find"), check_find)
        replacement_fn = _check_constant(replacement_fn, (*at, "replacement"), check_replacement)
        compiled = _regex_constant(find_fn, name, (*at, "find"))
        if compiled is not None:
            find = find_fn.constant
            return lambda doc, vars: replace(text_fn(doc, vars), find, replacement_fn(doc, vars), compiled)
        if is_constant(find_fn) and is_constant(replacement_fn):
            find, replacement = find_fn.constant, replacement_fn.constant
            if type(find) is str and type(replacement) is str:

                def replace_constant(doc: dict, vars: Any) -> Any:
                    text = text_fn(doc, vars)
                    if type(text) is str:
                        return replace_string(text, find, replacement)
                    return replace(text, find, replacement)

                return replace_constant
        return lambda doc, vars: replace(text_fn(doc, vars), find_fn(doc, vars), replacement_fn(doc, vars))

    expression_operator(name)(compile_replace)


# str.replace matches mongod for an empty 'find' too: one insertion at the front ($replaceOne),
# or before every code point and at the end ($replaceAll).
_replacer("$replaceOne", lambda text, find, replacement: text.replace(find, replacement, 1), 1)


def _replace_all(text: str, find: str, replacement: str) -> str:
    """``str.replace``, refused before it builds a string over 16 MiB."""
    if len(replacement) > len(find):
        check_built("$replaceAll", len(text) + text.count(find) * (len(replacement) - len(find)))
    return text.replace(find, replacement)


_replacer("$replaceAll", _replace_all, None)
