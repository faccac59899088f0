"""Regular expressions as mongod runs them: PCRE patterns rewritten for Python's ``re`` syntax.

mongod compiles regexes with PCRE (no UCP), so ``\\d \\w \\s \\b`` are ASCII-only there;
:func:`pcre_to_python` rewrites those and the other spellings ``re`` reads differently (named
groups, ``\\Q...\\E``, POSIX classes) and refuses the few it cannot express. Used by the
query operator ``$regex`` and the string operators ``$regexFind``/``$regexMatch``/...

PCRE's match limit stops a runaway match in mongod; :class:`BoundedPattern` stops one here
after :data:`MATCH_SECONDS` of CPU time, so a pattern such as ``^(a|a)+$`` on a long input fails that
document instead of the processor. The bound costs: a search that cannot run long (judged
from the pattern's shape and the input's length) runs on ``re``; the rest on the ``regex``
package, whose ``timeout`` adds about 2 µs a search.
https://www.mongodb.com/docs/manual/reference/operator/query/regex/
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import regex

from translator.errors import ExpressionError

try:  # the parser behind re.compile, public as sre_parse before Python 3.11
    from re import _constants as _sre, _parser as _sre_parse
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as _sre  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]

# CPU time one search may take (the regex package counts the thread's CPU time, so a busy
# machine does not cut matches short); PCRE's default match limit of 10 million steps
# takes about as long.
MATCH_SECONDS = 1.0
# Backtracking steps ``re`` may take unbounded: tens of milliseconds at most.
_FAST_STEPS = 10_000_000
_REPEATS = frozenset({_sre.MAX_REPEAT, _sre.MIN_REPEAT, getattr(_sre, "POSSESSIVE_REPEAT", _sre.MAX_REPEAT)})
_NESTING = frozenset({_sre.SUBPATTERN, _sre.ASSERT, _sre.ASSERT_NOT})  # the body is the last argument
_ATOMIC_GROUP = getattr(_sre, "ATOMIC_GROUP", None)  # Python 3.11+: the body is the argument

_REGEX_FLAG_BITS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE, "u": 0}
# BSON's option letters for the bits of bson.Regex.flags / re.Pattern.flags, in BSON's order.
_BSON_FLAG_LETTERS = (("i", re.IGNORECASE), ("l", re.LOCALE), ("m", re.MULTILINE), ("s", re.DOTALL),
                      ("u", re.UNICODE), ("x", re.VERBOSE))  # fmt: skip

_WORD = "[A-Za-z0-9_]"
_SPACE = "\\t\\n\\x0b\\x0c\\r "
_HSPACE = "\\t \\xa0\\u1680\\u180e\\u2000-\\u200a\\u202f\\u205f\\u3000"
_VSPACE = "\\n-\\r\\x85\\u2028\\u2029"
# PCRE (without UCP, as mongod compiles) gives \d \w \s \b their ASCII meaning; Python's are Unicode.
_CLASS_ESCAPES = {"d": "0-9", "w": "A-Za-z0-9_", "s": _SPACE, "h": _HSPACE, "v": _VSPACE}
_ESCAPES = {
    **{letter: f"[{body}]" for letter, body in _CLASS_ESCAPES.items()},
    **{letter.upper(): f"[^{body}]" for letter, body in _CLASS_ESCAPES.items()},
    "b": f"(?:(?<={_WORD})(?!{_WORD})|(?<!{_WORD})(?={_WORD}))",
    "B": f"(?:(?<={_WORD})(?={_WORD})|(?<!{_WORD})(?!{_WORD}))",
    "z": "\\Z",
    "Z": "(?=\\n?\\Z)",
    "R": f"(?:\\r\\n|[{_VSPACE}])",
    "N": "[^\\n]",
    "e": "\\x1b",
}
_POSIX_CLASSES = {
    "alpha": "A-Za-z", "digit": "0-9", "alnum": "A-Za-z0-9", "upper": "A-Z", "lower": "a-z",
    "space": _SPACE, "blank": " \\t", "punct": "!-/:-@\\[-`{-~", "xdigit": "0-9A-Fa-f",
    "word": "A-Za-z0-9_", "cntrl": "\\x00-\\x1f\\x7f", "print": " -~", "graph": "!-~", "ascii": "\\x00-\\x7f",
}  # fmt: skip
_POSIX_CLASS = re.compile(r"\[:(\^?)([a-z]+):\]")
_UNSUPPORTED_ESCAPES = {
    "p": "Unicode properties (\\p)", "P": "Unicode properties (\\P)", "X": "extended grapheme clusters (\\X)",
    "K": "match start resets (\\K)", "G": "\\G anchors", "C": "single code units (\\C)",
}  # fmt: skip
_INLINE_OPTIONS = re.compile(r"\(\?([a-zA-Z^-]+)(:|\))")
_UNSUPPORTED_GROUPS = (
    ("(?P>", "subroutine calls"), ("(?&", "subroutine calls"), ("(?R", "recursion"), ("(?|", "branch resets"),
    ("(*", "backtracking verbs"), ("(?C", "callouts"),
)  # fmt: skip


class UnsupportedRegex(ValueError):
    """A valid PCRE pattern that Python's ``re`` cannot express."""


def _escape_sequence(pattern: str, i: int, out: list, in_class: bool) -> int:
    """Translate the escape at ``pattern[i]`` (a backslash); return the index after it."""
    if i + 1 >= len(pattern):
        msg = "\\ at end of pattern"
        raise re.error(msg)
    letter = pattern[i + 1]
    if letter == "Q":
        close = pattern.find("\\E", i + 2)
        literal = pattern[i + 2 :] if close < 0 else pattern[i + 2 : close]
        out.append(re.escape(literal))
        return len(pattern) if close < 0 else close + 2
    if letter == "E":
        return i + 2  # a \E without \Q is ignored by PCRE
    if letter in "xo" and pattern.startswith("{", i + 2):
        close = pattern.find("}", i + 3)
        if close < 0:
            msg = f"missing }} after \\{letter}{{"
            raise re.error(msg)
        out.append(re.escape(chr(int(pattern[i + 3 : close], 16 if letter == "x" else 8))))
        return close + 1
    if letter == "x":  # PCRE takes zero to two hex digits here; Python insists on two
        digits = re.compile(r"[0-9a-fA-F]{0,2}").match(pattern, i + 2).group()
        out.append(re.escape(chr(int(digits or "0", 16))))
        return i + 2 + len(digits)
    if letter == "c" and i + 2 < len(pattern):
        out.append(re.escape(chr(ord(pattern[i + 2].upper()) ^ 0x40)))
        return i + 3
    if letter in "kg" and not in_class:
        return _back_reference(pattern, i, out)
    if letter in _UNSUPPORTED_ESCAPES:
        msg = f"{_UNSUPPORTED_ESCAPES[letter]} are not supported"
        raise UnsupportedRegex(msg)
    if letter in "uUlLN" and (in_class or letter != "N" or pattern.startswith("{", i + 2)):
        msg = f"PCRE does not support \\{letter}"
        raise re.error(msg)
    if in_class:
        if letter in _CLASS_ESCAPES:
            out.append(_CLASS_ESCAPES[letter])
            return i + 2
        if letter in "HV":
            msg = f"\\{letter} inside a character class is not supported"
            raise UnsupportedRegex(msg)
        out.append("\\x1b" if letter == "e" else pattern[i : i + 2])
        return i + 2
    out.append(_ESCAPES.get(letter, pattern[i : i + 2]))
    return i + 2


def _back_reference(pattern: str, i: int, out: list) -> int:
    """``\\k<name>``, ``\\k'name'``, ``\\k{name}``, ``\\g{name}``, ``\\gN``, ``\\g{N}``."""
    match = re.compile(r"\\[kg](?:<(\w+)>|'(\w+)'|\{(-?\w+)\}|(\d+))").match(pattern, i)
    if match is None:
        msg = f"malformed \\{pattern[i + 1]} back reference"
        raise re.error(msg)
    name = next(group for group in match.groups() if group is not None)
    if name.startswith("-"):
        msg = "relative back references are not supported"
        raise UnsupportedRegex(msg)
    out.append(f"(?:\\{name})" if name.isdigit() else f"(?P={name})")
    return match.end()


def _character_class(pattern: str, i: int, out: list) -> int:
    """Translate ``[...]`` starting at ``pattern[i]``; return the index after its ``]``."""
    parts = ["["]
    j = i + 1
    if pattern.startswith("^", j):
        parts.append("^")
        j += 1
    if pattern.startswith("]", j):  # a leading ] is literal in PCRE
        parts.append("\\]")
        j += 1
    while j < len(pattern) and pattern[j] != "]":
        char = pattern[j]
        if char == "\\":
            j = _escape_sequence(pattern, j, parts, in_class=True)
            continue
        posix = _POSIX_CLASS.match(pattern, j) if char == "[" else None
        if posix is not None:
            negated, name = posix.groups()
            if negated or name not in _POSIX_CLASSES:
                msg = f"POSIX class [:{negated}{name}:] is not supported"
                raise UnsupportedRegex(msg)
            parts.append(_POSIX_CLASSES[name])
            j = posix.end()
            continue
        # Characters Python would read as nested sets or set operations are literal in PCRE.
        literal = char in "[&~|" or (char == "-" and pattern.startswith("-", j + 1))
        parts.append("\\" + char if literal else char)
        j += 1
    if j >= len(pattern):
        msg = "missing terminating ] for character class"
        raise re.error(msg)
    parts.append("]")
    out.append("".join(parts))
    return j + 1


def _group_opening(pattern: str, i: int, out: list) -> int:
    """Translate PCRE's named-group spellings; refuse what ``re`` has no form for."""
    for prefix, what in _UNSUPPORTED_GROUPS:
        if pattern.startswith(prefix, i):
            msg = f"{what} are not supported"
            raise UnsupportedRegex(msg)
    if pattern.startswith("(?#", i):  # a comment: copied whole, its text is not pattern syntax
        close = pattern.find(")", i)
        if close < 0:
            msg = "missing ) after (?# comment"
            raise re.error(msg)
        out.append(pattern[i : close + 1])
        return close + 1
    if pattern.startswith("(?<", i) and not pattern.startswith(("(?<=", "(?<!"), i):
        out.append("(?P<")
        return i + 3
    if pattern.startswith("(?'", i):
        close = pattern.find("'", i + 3)
        if close < 0:
            msg = "unterminated group name"
            raise re.error(msg)
        out.append(f"(?P<{pattern[i + 3 : close]}>")
        return close + 1
    if re.compile(r"\(\?[+-]?\d").match(pattern, i):
        msg = "subroutine calls are not supported"
        raise UnsupportedRegex(msg)
    options = _INLINE_OPTIONS.match(pattern, i)
    if options is not None:
        letters, closing = options.groups()
        if set(letters) - set("imsx-") or (i > 0 and closing == ")"):
            # re has no n, J, U or ^ options, and applies unscoped options to the whole pattern only.
            msg = f"the inline option group {options.group()} is not supported"
            raise UnsupportedRegex(msg)
    out.append("(")
    return i + 1


def pcre_to_python(pattern: str, extended: bool = False) -> str:
    """Rewrite a PCRE pattern (as mongod compiles it) into an equivalent Python ``re`` pattern.

    Args:
        pattern: the PCRE source text.
        extended: the ``x`` option is on, so ``#`` starts a comment that is copied unchanged.

    Returns:
        The Python pattern; raises ``re.error`` for invalid PCRE and :class:`UnsupportedRegex`
        for PCRE features ``re`` lacks (Unicode properties, recursion, ...).
    """
    out: list = []
    leading = _INLINE_OPTIONS.match(pattern)
    extended = extended or (leading is not None and leading.group(2) == ")" and "x" in leading.group(1).split("-")[0])
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i = _escape_sequence(pattern, i, out, in_class=False)
        elif char == "[":
            i = _character_class(pattern, i, out)
        elif char == "(":
            i = _group_opening(pattern, i, out)
        elif char == "#" and extended:
            end = pattern.find("\n", i)
            end = len(pattern) if end < 0 else end
            out.append(pattern[i:end])
            i = end
        else:
            out.append(char)
            i += 1
    return "".join(out)


def regex_pattern_and_flags(value: Any) -> tuple:
    """The pattern text and BSON option letters of a ``bson.Regex`` or compiled ``re.Pattern``."""
    flags = value.flags
    if type(flags) is str:
        return value.pattern, flags
    return value.pattern, "".join(letter for letter, bit in _BSON_FLAG_LETTERS if flags & bit)


def _shape(items: Any) -> tuple[int, bool] | None:
    """(variable quantifiers, holds an alternation) of a parsed pattern, or None when it may
    backtrack exponentially: a quantified group holding either, or a back reference."""
    repeats, alternation = 0, False
    for op, av in items:
        inner: tuple[int, bool] | None = (0, False)
        if op in _REPEATS:
            low, high, body = av
            inner = _shape(body)
            if inner is None or inner != (0, False):
                return None
            repeats += low != high
        elif op in _NESTING:
            inner = _shape(av[-1])
        elif op is _ATOMIC_GROUP:
            inner = _shape(av)
        elif op is _sre.BRANCH:
            alternation = True
            for branch in av[1]:
                inner = _shape(branch)
                if inner is None:
                    return None
                repeats += inner[0]
            continue
        elif op in (_sre.GROUPREF, _sre.GROUPREF_EXISTS):
            return None
        if inner is None:
            return None
        repeats += inner[0] if op not in _REPEATS else 0
        alternation = alternation or inner[1]
    return repeats, alternation


def _fast_length(python_pattern: str, flags: int) -> int:
    """The longest input ``re`` may search unbounded: with k variable quantifiers a search takes
    at most about n**(k+1) steps on n characters; 0 when the pattern may backtrack exponentially."""
    try:
        shape = _shape(_sre_parse.parse(python_pattern, flags))
    except Exception:  # a pattern sre cannot parse the same way: always bounded
        return 0
    return 0 if shape is None else int(_FAST_STEPS ** (1 / (shape[0] + 1)))


class BoundedPattern:
    """A compiled pattern whose searches stop after :data:`MATCH_SECONDS` of CPU time, failing the document.

    ``pattern`` and ``flags`` read as ``re.Pattern``'s do; ``search`` is the only way to match.
    """

    __slots__ = ("_bounded", "_fast", "_fast_length", "_name", "flags", "pattern")

    def __init__(self, python_pattern: str, flags: int, name: str) -> None:
        self._fast = re.compile(python_pattern, flags)
        self._fast_length = _fast_length(python_pattern, flags)
        self._bounded: regex.Pattern | None = None
        self._name = name
        self.pattern = self._fast.pattern
        self.flags = self._fast.flags

    def search(self, text: str, pos: int = 0) -> Any:
        if len(text) <= self._fast_length:
            return self._fast.search(text, pos)
        if self._bounded is None:
            self._bounded = regex.compile(self.pattern, self.flags)
        try:
            return self._bounded.search(text, pos, timeout=MATCH_SECONDS)
        except TimeoutError:
            # mongod's words when PCRE gives up (PCRE2_ERROR_MATCHLIMIT is -47).
            msg = (
                f"Error occurred while executing the regular expression in {self._name}. Result code: -47 "
                f"(match limit exceeded: the match took more than {MATCH_SECONDS:g} s of CPU time)"
            )
            raise ExpressionError(msg) from None


@lru_cache(maxsize=512)
def compile_regex(pattern: str, options: str, name: str) -> BoundedPattern:
    """Compile a PCRE pattern with mongod's option letters (i m s x u); errors are mongod's."""
    flags = 0
    for letter in options:
        bit = _REGEX_FLAG_BITS.get(letter)
        if bit is None:
            msg = f"{name} invalid flag in regex options: {letter}"
            raise ExpressionError(msg)
        flags |= bit
    try:
        return BoundedPattern(pcre_to_python(pattern, "x" in options), flags, name)
    except UnsupportedRegex as error:
        msg = f"{name}: sluice cannot run this regular expression: {error}"
        raise ExpressionError(msg) from None
    except (re.error, ValueError, OverflowError) as error:
        msg = f"Invalid Regex in {name}: {error}"
        raise ExpressionError(msg) from None
