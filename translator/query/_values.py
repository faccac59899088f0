"""Equality and ordering tests against one literal, with mongod's type bracketing.

A comparison only matches values of the literal's BSON type class (numbers with numbers,
strings with strings), except MinKey/MaxKey, which compare across all types.
"""

from __future__ import annotations

import operator
import re
from typing import Any, Callable

from bson import Regex

from translator._bson_order import MAX_KEY, MIN_KEY, NULL, NUMBER, compare, rank
from translator._types import MISSING
from translator._regex import compile_regex, regex_pattern_and_flags
from translator.errors import ExpressionError, SpecError

FAST_NUMBERS = frozenset({int, float})
STRINGS = frozenset({str})


def _native(test: Callable[[Any], bool], accept: Callable, literal: Any, kinds: frozenset) -> Callable[[Any], bool]:
    """Mark ``test``: for a value whose type is in ``kinds``, it is ``accept(value, literal)``,
    which lets a predicate inline the common case instead of calling ``test``."""
    test.native = (accept, literal, kinds)  # type: ignore[attr-defined]
    return test
_ORDERINGS = {"$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le}


def compile_pcre(pattern: str, options: str) -> re.Pattern:
    """Compile a query regex as mongod would (PCRE semantics); a bad one is a SpecError."""
    try:
        return compile_regex(pattern, options, "$regex")
    except ExpressionError as exc:
        raise SpecError(str(exc)) from None


def regex_test(pattern: Any) -> Callable[[Any], bool]:
    """Match strings against a BSON regex (or equal Regex values)."""
    compiled = compile_pcre(*regex_pattern_and_flags(pattern))
    search = compiled.search

    def test(value: Any) -> bool:
        if type(value) is str:
            return search(value) is not None
        if isinstance(value, (Regex, re.Pattern)):
            return value.pattern == compiled.pattern
        return False

    return test


def equality_test(literal: Any) -> Callable[[Any], bool]:
    """``{field: literal}`` / ``$eq``: null also matches missing, a regex matches strings."""
    if literal is None:
        return lambda value: value is None or value is MISSING
    if isinstance(literal, (Regex, re.Pattern)):
        return regex_test(literal)
    kind = type(literal)
    if kind in FAST_NUMBERS and literal == literal:
        test = lambda value: type(value) in FAST_NUMBERS and value == literal or (  # noqa: E731
            rank(value) == NUMBER and type(value) not in FAST_NUMBERS and compare(value, literal) == 0
        )
        return _native(test, operator.eq, literal, FAST_NUMBERS)
    if kind is str:
        return _native(lambda value: type(value) is str and value == literal, operator.eq, literal, STRINGS)
    literal_rank = rank(literal)
    return lambda value: rank(value) == literal_rank and compare(value, literal) == 0


def ordering_test(name: str, literal: Any) -> Callable[[Any], bool]:
    """``$gt``/``$gte``/``$lt``/``$lte`` against a literal."""
    accept = _ORDERINGS[name]
    literal_rank = rank(literal)
    if literal_rank in (MIN_KEY, MAX_KEY):
        return lambda value: accept(compare(value, literal), 0)
    if type(literal) in FAST_NUMBERS and literal == literal:
        # NaN never passes an ordering against a number, as in mongod (nor in Python).
        test = lambda value: (type(value) in FAST_NUMBERS and accept(value, literal)) or (  # noqa: E731
            type(value) not in FAST_NUMBERS and rank(value) == NUMBER and value == value and accept(compare(value, literal), 0)
        )
        return _native(test, accept, literal, FAST_NUMBERS)
    if literal_rank == NULL:  # in a query, null stands for missing too
        matches_null = accept(0, 0)
        return lambda value: matches_null and (value is None or value is MISSING)
    return lambda value: rank(value) == literal_rank and accept(compare(value, literal), 0)
