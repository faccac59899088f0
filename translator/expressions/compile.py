"""Aggregation expressions compiled once into ``fn(doc, vars)`` closures.

https://www.mongodb.com/docs/manual/reference/aggregation-expressions/ (field paths,
variables, literals, expression objects, operator expressions).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from translator._bson_types import bson_type_name
from translator._registry import registrar
from translator._types import MISSING, Compiled, Path
from translator.errors import ExpressionError, SpecError

OperatorCompiler = Callable[[Any, Path, "Scope"], Compiled]
EXPRESSION_OPERATORS: dict[str, OperatorCompiler] = {}

# Operators that would run code carried by the pipeline: refused, never evaluated.
CODE_OPERATORS = frozenset({"$function", "$accumulator", "$where"})
REFUSED_CODE = "sluice never runs code that comes in a pipeline"

BUILTIN_VARIABLES = frozenset({"ROOT", "CURRENT", "REMOVE", "NOW"})


expression_operator = registrar(EXPRESSION_OPERATORS, "expression operator")
"""Register the compiler of one operator under its MongoDB spelling: ``@expression_operator("$add")``."""


@dataclass(frozen=True)
class Scope:
    """What an expression may refer to where it is compiled."""

    variables: frozenset = frozenset()

    def with_variables(self, names: Any) -> Scope:
        return Scope(self.variables | frozenset(names))


ROOT_SCOPE = Scope()


def constant(value: Any) -> Compiled:
    """A closure returning ``value``; marked so operators can fold or specialise it."""

    def const(doc: Any, vars: Any) -> Any:
        return value

    const.constant = value  # type: ignore[attr-defined]
    return const


def is_constant(fn: Compiled) -> bool:
    return hasattr(fn, "constant")


def at_compile_time(check: Callable, at: Path, *args: Any) -> Any:
    """``check(*args)`` run now, on constant arguments: a failure would fail for every document,
    so it is a pipeline error, its ExpressionError turned into a SpecError located at ``at``."""
    try:
        return check(*args)
    except ExpressionError as error:
        raise SpecError(str(error), at) from None


def fold(fn: Compiled, fns: list, at: Path) -> Compiled:
    """Evaluate ``fn`` once now when every operand in ``fns`` is a constant (None entries, optional
    arguments left out, are skipped); a constant expression that fails is a pipeline error."""
    if not all(f is None or is_constant(f) for f in fns):
        return fn
    return constant(at_compile_time(fn, at, {}, {}))


def binary(left: Compiled, right: Compiled, fast_types: frozenset, fast: Callable, slow: Callable) -> Compiled:
    """A two-operand operator, specialised at compile time for the common shapes.

    ``fast(a, b)`` runs when both values' types are in ``fast_types`` (e.g. int and float);
    ``slow(a, b)`` handles everything else. A top-level field against a constant, or two
    top-level fields, read the document directly instead of calling the operand closures.
    """
    left_field, right_field = getattr(left, "field", None), getattr(right, "field", None)
    if left_field is not None and is_constant(right) and type(right.constant) in fast_types:
        b = right.constant

        def field_and_constant(doc: dict, vars: Any) -> Any:
            a = doc.get(left_field, MISSING)
            return fast(a, b) if type(a) in fast_types else slow(a, b)

        return field_and_constant
    if left_field is not None and right_field is not None:

        def two_fields(doc: dict, vars: Any) -> Any:
            a = doc.get(left_field, MISSING)
            b = doc.get(right_field, MISSING)
            return fast(a, b) if type(a) in fast_types and type(b) in fast_types else slow(a, b)

        return two_fields

    def any_operands(doc: dict, vars: Any) -> Any:
        a = left(doc, vars)
        b = right(doc, vars)
        return fast(a, b) if type(a) in fast_types and type(b) in fast_types else slow(a, b)

    return any_operands


def get_path(value: Any, parts: tuple) -> Any:
    """Aggregation field-path semantics: arrays map the rest of the path over their documents."""
    for i, part in enumerate(parts):
        kind = type(value)
        if kind is dict:
            value = value.get(part, MISSING)
        elif kind is list:
            rest = parts[i:]
            found = []
            for element in value:
                if type(element) is dict or type(element) is list:
                    inner = get_path(element, rest)
                    if inner is not MISSING:
                        found.append(inner)
            return found
        else:
            return MISSING
    return value


def _split_path(path: str, at: Path, what: str) -> tuple:
    parts = tuple(path.split("."))
    if any(part == "" for part in parts):
        msg = f"{what} {path!r} has an empty component"
        raise SpecError(msg, at)
    if any(part.startswith("$") for part in parts[1:]):
        msg = f"{what} {path!r} has a component starting with '$'"
        raise SpecError(msg, at)
    return parts


def compile_field_path(path: str, at: Path = ()) -> Compiled:
    """``"a.b.c"`` (without the leading ``$``) as a getter on the current document."""
    parts = _split_path(path, at, "field path")
    if parts[0].startswith("$"):
        msg = f"field path {path!r} has a component starting with '$'"
        raise SpecError(msg, at)
    if len(parts) == 1:
        (key,) = parts

        def get_field(doc: dict, vars: Any) -> Any:
            return doc.get(key, MISSING)

        get_field.field = key  # type: ignore[attr-defined]  # lets operators inline the lookup
        return get_field
    if len(parts) == 2:
        first, second = parts

        def get_nested(doc: dict, vars: Any) -> Any:
            value = doc.get(first, MISSING)
            if type(value) is dict:
                return value.get(second, MISSING)
            return get_path(value, (second,)) if type(value) is list else MISSING

        get_nested.inline = ("nested_field", first, second)  # type: ignore[attr-defined]  # for translator.segment
        return get_nested

    def get_deep(doc: dict, vars: Any) -> Any:
        return get_path(doc, parts)

    return get_deep


def _compile_variable(text: str, at: Path, scope: Scope) -> Compiled:
    name, _, rest = text.partition(".")
    rest_parts = _split_path(rest, at, "variable path") if rest else ()
    if name in ("ROOT", "CURRENT"):
        if rest_parts:
            return lambda doc, vars: get_path(doc, rest_parts)
        return lambda doc, vars: doc
    if name == "REMOVE":
        return constant(MISSING)
    if name == "NOW":
        return lambda doc, vars: get_path(datetime.now(timezone.utc), rest_parts)
    if name not in scope.variables:
        msg = f"use of undefined variable: {name}"
        raise SpecError(msg, at)
    if rest_parts:
        return lambda doc, vars: get_path(vars.get(name, MISSING), rest_parts)
    return lambda doc, vars: vars.get(name, MISSING)


def _compile_object(spec: dict, at: Path, scope: Scope) -> Compiled:
    fields = []
    for key, value in spec.items():
        if key.startswith("$") or "." in key:
            msg = f"field name {key!r} in an expression object may not start with '$' or contain '.'"
            raise SpecError(msg, (*at, key))
        fields.append((key, compile_expression(value, (*at, key), scope)))
    if all(is_constant(fn) for _, fn in fields):
        return constant({k: fn.constant for k, fn in fields if fn.constant is not MISSING})

    def build_object(doc: dict, vars: Any) -> dict:
        out = {}
        for key, fn in fields:
            value = fn(doc, vars)
            if value is not MISSING:
                out[key] = value
        return out

    return build_object


def _compile_array(spec: list, at: Path, scope: Scope) -> Compiled:
    items = [compile_expression(item, (*at, str(i)), scope) for i, item in enumerate(spec)]
    if all(is_constant(fn) for fn in items):
        return constant([None if fn.constant is MISSING else fn.constant for fn in items])

    def build_array(doc: dict, vars: Any) -> list:
        out = []
        for fn in items:
            value = fn(doc, vars)
            out.append(None if value is MISSING else value)
        return out

    return build_array


def compile_expression(spec: Any, at: Path = (), scope: Scope = ROOT_SCOPE) -> Compiled:
    """Compile one expression; ``at`` locates it in the stage for error messages."""
    kind = type(spec)
    if kind is str:
        if spec.startswith("$$"):
            return _compile_variable(spec[2:], at, scope)
        if spec.startswith("$"):
            if spec == "$":
                msg = "'$' is not a valid field path"
                raise SpecError(msg, at)
            return compile_field_path(spec[1:], at)
        return constant(spec)
    if kind is dict:
        operators = [key for key in spec if key.startswith("$")]
        if not operators:
            return _compile_object(spec, at, scope)
        if len(spec) != 1:
            msg = f"an expression object with operator {operators[0]} must have exactly one field; got {len(spec)}"
            raise SpecError(msg, at)
        name = operators[0]
        return compile_operator(name, spec[name], (*at, name), scope)
    if kind is list:
        return _compile_array(spec, at, scope)
    return constant(spec)


def compile_operator(name: str, args: Any, at: Path, scope: Scope) -> Compiled:
    """Compile ``{name: args}``, refusing code operators and unknown names."""
    if name in CODE_OPERATORS:
        msg = f"{name} is refused: {REFUSED_CODE}"
        raise SpecError(msg, at)
    compiler = EXPRESSION_OPERATORS.get(name)
    if compiler is None:
        msg = f'unknown expression operator "{name}"'
        raise SpecError(msg, at)
    return compiler(args, at, scope)


def operands(
    name: str, args: Any, at: Path, scope: Scope, minimum: int = 0, maximum: int | None = None
) -> list[Compiled]:
    """Compile an operator's positional arguments (a single argument may omit the array)."""
    items = args if type(args) is list else [args]
    if len(items) < minimum or (maximum is not None and len(items) > maximum):
        if minimum == maximum:
            expected = f"exactly {minimum}"
        elif maximum is None:
            expected = f"at least {minimum}"
        else:
            expected = f"between {minimum} and {maximum}"
        msg = f"expression {name} takes {expected} argument{'s' if maximum != 1 else ''}; got {len(items)}"
        raise SpecError(msg, at)
    return [compile_expression(item, (*at, str(i)), scope) for i, item in enumerate(items)]


# mongod words these checks differently for each operator; these are the defaults.
ARGUMENT_WORDING = (
    "{name} expects an object as its argument; got {type}",
    "{name} found an unknown argument: {key}",
    "{name} requires '{key}'",
)


def named_arguments(
    name: str, args: Any, at: Path, required: tuple = (), optional: tuple = (), wording: tuple = ARGUMENT_WORDING
) -> dict:
    """Check an operator's object argument: an object, no unknown key, every required key.

    ``wording`` holds the three messages as templates over ``{name}``, ``{type}`` and ``{key}``,
    so each operator can keep mongod's own phrasing.
    """
    not_object, unknown, missing = wording
    if type(args) is not dict:
        msg = not_object.format(name=name, type=bson_type_name(args))
        raise SpecError(msg, at)
    for key in args:
        if key not in required and key not in optional:
            msg = unknown.format(name=name, key=key)
            raise SpecError(msg, (*at, key))
    for key in required:
        if key not in args:
            msg = missing.format(name=name, key=key)
            raise SpecError(msg, at)
    return args
