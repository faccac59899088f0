"""Conditional expression operators.

https://www.mongodb.com/docs/manual/reference/operator/aggregation/#conditional-expression-operators
"""

from __future__ import annotations

from typing import Any

from translator._types import MISSING
from translator.errors import ExpressionError, SpecError
from translator.expressions.boolean import truthy
from translator.expressions.compile import compile_expression, expression_operator, named_arguments, operands


@expression_operator("$cond")
def compile_cond(args: Any, at: tuple, scope: Any):
    if type(args) is dict:
        named_arguments("$cond", args, at, required=("if", "then", "else"))
        test, then, otherwise = (compile_expression(args[k], (*at, k), scope) for k in ("if", "then", "else"))
    else:
        test, then, otherwise = operands("$cond", args, at, scope, 3, 3)

    def cond(doc: dict, vars: Any) -> Any:
        return then(doc, vars) if truthy(test(doc, vars)) else otherwise(doc, vars)

    return cond


@expression_operator("$ifNull")
def compile_if_null(args: Any, at: tuple, scope: Any):
    fns = operands("$ifNull", args, at, scope, 2)

    def if_null(doc: dict, vars: Any) -> Any:
        for fn in fns[:-1]:
            value = fn(doc, vars)
            if value is not None and value is not MISSING:
                return value
        return fns[-1](doc, vars)

    return if_null


@expression_operator("$switch")
def compile_switch(args: Any, at: tuple, scope: Any):
    named_arguments("$switch", args, at, required=("branches",), optional=("default",))
    branches = args["branches"]
    if type(branches) is not list or not branches:
        msg = "$switch requires at least one branch"
        raise SpecError(msg, (*at, "branches"))
    compiled = []
    for i, branch in enumerate(branches):
        where = (*at, "branches", str(i))
        named_arguments("$switch branch", branch, where, required=("case", "then"))
        compiled.append((compile_expression(branch["case"], (*where, "case"), scope),
                         compile_expression(branch["then"], (*where, "then"), scope)))  # fmt: skip
    default = compile_expression(args["default"], (*at, "default"), scope) if "default" in args else None

    def switch(doc: dict, vars: Any) -> Any:
        for case, then in compiled:
            if truthy(case(doc, vars)):
                return then(doc, vars)
        if default is None:
            msg = "$switch could not find a matching branch for an input, and no default was specified"
            raise ExpressionError(msg)
        return default(doc, vars)

    return switch
