"""String expression operators.

https://www.mongodb.com/docs/manual/reference/operator/aggregation/#string-expression-operators
"""

from __future__ import annotations

from typing import Any

from translator._bson_types import bson_type_name
from translator._types import MISSING
from translator.errors import ExpressionError
from translator.expressions.compile import expression_operator, operands


@expression_operator("$concat")
def compile_concat(args: Any, at: tuple, scope: Any):
    fns = operands("$concat", args, at, scope)

    def concat(doc: dict, vars: Any) -> Any:
        parts = []
        for fn in fns:
            value = fn(doc, vars)
            if type(value) is not str:
                if value is None or value is MISSING:
                    return None
                msg = f"$concat only supports strings, not {bson_type_name(value)}"
                raise ExpressionError(msg)
            parts.append(value)
        return "".join(parts)

    return concat
