"""Query filters (``$match``, ``$validate``) compiled once into ``pred(doc) -> bool``.

Dotted paths follow mongod's rules: arrays along the path are traversed (and numeric
components index them), a leaf array is matched as a whole and element by element, and
null matches a missing field. https://www.mongodb.com/docs/manual/reference/operator/query/
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from translator._registry import register, registrar
from translator._types import MISSING, Path, Predicate
from translator.errors import SpecError
from translator.expressions.compile import CODE_OPERATORS, REFUSED_CODE
from translator.query._values import equality_test

ValueTest = Callable[[Any], bool]  # one candidate value → matches?
FieldTest = Callable[[list], bool]  # every value found at the path → matches?


@dataclass(frozen=True)
class QueryOperator:
    """``compile(operand, at)`` returns a ValueTest when ``per_value``, else a FieldTest."""

    compile: Callable[[Any, Path], Callable]
    per_value: bool


QUERY_OPERATORS: dict[str, QueryOperator] = {}
TOP_LEVEL_OPERATORS: dict[str, Callable[[Any, Path], Predicate]] = {}
# Operators that need a server's indexes or text engine: refused with the reason.
_INDEXES = "needs a database server's indexes and is not supported in a stream"
_DISTANCE_SORT = "sorts by distance with a database server's geospatial index and is not supported in a stream"
SERVER_ONLY = {
    "$text": _INDEXES,
    "$search": _INDEXES,
    "$near": f"{_DISTANCE_SORT}; to filter by distance use $geoWithin with $center or $centerSphere",
    "$nearSphere": f"{_DISTANCE_SORT}; to filter by distance use $geoWithin with $centerSphere",
}


def value_operator(name: str):
    """Register an operator tested against each candidate value (and each array element)."""
    return lambda fn: register(QUERY_OPERATORS, name, QueryOperator(fn, per_value=True), "query operator") or fn


def field_operator(name: str):
    """Register an operator that sees every value at the path at once ($exists, $size, $all …)."""
    return lambda fn: register(QUERY_OPERATORS, name, QueryOperator(fn, per_value=False), "query operator") or fn


top_level_operator = registrar(TOP_LEVEL_OPERATORS, "query operator")
"""Register an operator that stands at the top of a filter ($and, $expr, $jsonSchema …)."""


def path_values(value: Any, parts: tuple, start: int = 0) -> list:
    """Every value at ``parts`` under ``value``, MISSING where a branch has none."""
    for i in range(start, len(parts)):
        part = parts[i]
        kind = type(value)
        if kind is dict:
            value = value.get(part, MISSING)
        elif kind is list:
            found = []
            if part.isdigit() and int(part) < len(value):
                found.extend(path_values(value[int(part)], parts, i + 1))
            for element in value:
                if type(element) is dict:
                    found.extend(path_values(element, parts, i))
            return found or [MISSING]
        else:
            return [MISSING]
    return [value]


def any_value(test: ValueTest) -> FieldTest:
    """Lift a ValueTest: true when a value, or an element of a leaf array, passes."""

    def test_values(values: list) -> bool:
        for value in values:
            if test(value):
                return True
            if type(value) is list:
                for element in value:
                    if test(element):
                        return True
        return False

    return test_values


def _is_operator_object(spec: Any) -> bool:
    return type(spec) is dict and bool(spec) and next(iter(spec)).startswith("$")


def compile_field_tests(spec: Any, at: Path) -> list[tuple[bool, Callable]]:
    """The tests one field's condition makes: ``(per_value, test)`` pairs."""
    if not _is_operator_object(spec):
        try:
            return [(True, equality_test(spec))]
        except SpecError as exc:
            raise SpecError(exc.message, at) from None
    tests = []
    for name, operand in spec.items():
        where = (*at, name)
        if name == "$options":
            if "$regex" not in spec:
                msg = "$options needs a $regex"
                raise SpecError(msg, where)
            continue
        operator = QUERY_OPERATORS.get(name)
        if operator is None:
            if name in CODE_OPERATORS:
                msg = f"{name} is refused: {REFUSED_CODE}"
            elif name in SERVER_ONLY:
                msg = f"{name} {SERVER_ONLY[name]}"
            else:
                msg = f'unknown query operator "{name}"'
            raise SpecError(msg, where)
        operand = {"$regex": operand, "$options": spec.get("$options", "")} if name == "$regex" else operand
        tests.append((operator.per_value, operator.compile(operand, where)))
    return tests


def compile_field_test(spec: Any, at: Path) -> FieldTest:
    """One field's condition as a single FieldTest over the values at its path."""
    return _field_test(compile_field_tests(spec, at))


def _field_test(tests: list[tuple[bool, Callable]]) -> FieldTest:
    """The ``(per_value, test)`` pairs of one field combined over the values at its path."""
    return all_of([test if not per_value else any_value(test) for per_value, test in tests])


def _compile_field(path: str, spec: Any, at: Path) -> Predicate:
    parts = tuple(path.split("."))
    if any(part == "" for part in parts):
        msg = f"field path {path!r} has an empty component"
        raise SpecError(msg, at)
    tests = compile_field_tests(spec, at)
    if len(tests) == 1 and tests[0][0] and len(parts) <= 2:
        return _single_test(parts, tests[0][1])
    field_test = _field_test(tests)
    if len(parts) == 1:
        key = parts[0]
        return lambda doc: field_test([doc.get(key, MISSING)])
    return lambda doc: field_test(path_values(doc, parts))


def _single_test(parts: tuple, test: ValueTest) -> Predicate:
    """The hot cases, `{amount: {$gt: 1000}}` and `{"customer.tier": 2}`: direct lookups,
    arrays handled only when one is met."""
    native = getattr(test, "native", None)
    if len(parts) == 1 and native is not None:
        key = parts[0]
        accept, literal, kinds = native

        def match_field_natively(doc: dict) -> bool:
            value = doc.get(key, MISSING)
            if type(value) in kinds:
                return accept(value, literal)
            if type(value) is list:
                return test(value) or any(test(element) for element in value)
            return test(value)

        match_field_natively.inline = ("field_native", key, accept, literal, kinds)  # type: ignore[attr-defined]
        return match_field_natively
    if len(parts) == 1:
        key = parts[0]

        def match_field(doc: dict) -> bool:
            value = doc.get(key, MISSING)
            if type(value) is list:
                return test(value) or any(test(element) for element in value)
            return test(value)

        return match_field
    outer, inner = parts
    values_test = any_value(test)

    def match_nested_field(doc: dict) -> bool:
        parent = doc.get(outer, MISSING)
        if type(parent) is dict:
            value = parent.get(inner, MISSING)
            if type(value) is not list:
                return test(value)
        return values_test(path_values(doc, parts))

    return match_nested_field


def all_of(predicates: list) -> Predicate:
    """A conjunction without a generator per document for the usual two or three clauses."""
    if len(predicates) == 1:
        return predicates[0]
    if len(predicates) == 2:
        first, second = predicates
        conjunction = lambda doc: first(doc) and second(doc)  # noqa: E731
    elif len(predicates) == 3:
        first, second, third = predicates
        conjunction = lambda doc: first(doc) and second(doc) and third(doc)  # noqa: E731
    else:
        conjunction = lambda doc: all(predicate(doc) for predicate in predicates)  # noqa: E731
    conjunction.inline = ("all_of", tuple(predicates))  # type: ignore[attr-defined]  # for translator.segment
    return conjunction


def compile_query(spec: Any, at: Path = ()) -> Predicate:
    """Compile a filter document; an empty filter matches everything."""
    if type(spec) is not dict:
        msg = f"a query filter must be an object; got {type(spec).__name__}"
        raise SpecError(msg, at)
    predicates = []
    for key, condition in spec.items():
        where = (*at, key)
        if key.startswith("$"):
            if key == "$comment":
                continue
            compiler = TOP_LEVEL_OPERATORS.get(key)
            if compiler is None:
                if key in CODE_OPERATORS:
                    msg = f"{key} is refused: {REFUSED_CODE}"
                elif key in SERVER_ONLY:
                    msg = f"{key} {SERVER_ONLY[key]}"
                else:
                    msg = f'unknown top-level query operator "{key}"'
                raise SpecError(msg, where)
            predicates.append(compiler(condition, where))
        else:
            predicates.append(_compile_field(key, condition, where))
    if not predicates:
        return lambda doc: True
    return all_of(predicates)
