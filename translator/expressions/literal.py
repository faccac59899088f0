"""``$literal``: a value taken as it is, never parsed as an expression.

https://www.mongodb.com/docs/manual/reference/operator/aggregation/literal/
"""

from __future__ import annotations

from typing import Any

from translator.expressions.compile import constant, expression_operator


@expression_operator("$literal")
def compile_literal(args: Any, at: tuple, scope: Any):
    return constant(args)
