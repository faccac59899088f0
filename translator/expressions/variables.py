"""``$let``: variables bound for the scope of one expression.

https://www.mongodb.com/docs/manual/reference/operator/aggregation/let/
"""

from __future__ import annotations

from typing import Any

from translator.errors import SpecError
from translator.expressions.compile import BUILTIN_VARIABLES, compile_expression, expression_operator, named_arguments


def check_variable_name(name: Any, at: tuple) -> None:
    """mongod's rule: user variables start with a lowercase letter or a non-ASCII character."""
    if type(name) is not str or not name or not (name[0].islower() or ord(name[0]) > 127) or name in BUILTIN_VARIABLES:
        msg = f"invalid variable name {name!r}: it must start with a lowercase letter"
        raise SpecError(msg, at)
    if not all(c.isalnum() or c == "_" or ord(c) > 127 for c in name):
        msg = f"invalid variable name {name!r}: only letters, digits and '_' are allowed"
        raise SpecError(msg, at)


@expression_operator("$let")
def compile_let(args: Any, at: tuple, scope: Any):
    named_arguments("$let", args, at, required=("vars", "in"))
    definitions = args["vars"]
    if type(definitions) is not dict:
        msg = "$let 'vars' must be an object"
        raise SpecError(msg, (*at, "vars"))
    bound = []
    for name, spec in definitions.items():
        check_variable_name(name, (*at, "vars", name))
        bound.append((name, compile_expression(spec, (*at, "vars", name), scope)))
    body = compile_expression(args["in"], (*at, "in"), scope.with_variables(definitions))

    def let(doc: dict, vars: dict) -> Any:
        inner = dict(vars)
        for name, fn in bound:
            inner[name] = fn(doc, vars)
        return body(doc, inner)

    return let
