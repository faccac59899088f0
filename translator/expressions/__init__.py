"""The aggregation expression language: one module per category of MongoDB's reference.

Importing this package registers every operator; ``compile_expression`` is the entry point.
"""

from translator.expressions import (  # noqa: F401  (imported to register their operators)
    accumulators,
    arithmetic,
    array,
    bitwise,
    boolean,
    comparison,
    conditional,
    date,
    literal,
    miscellaneous,
    object,
    set,
    string,
    trigonometry,
    type,
    variables,
)
from translator.expressions.compile import EXPRESSION_OPERATORS, ROOT_SCOPE, Scope, compile_expression

__all__ = ["EXPRESSION_OPERATORS", "ROOT_SCOPE", "Scope", "compile_expression"]
