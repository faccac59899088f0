"""The query language: one module per category of MongoDB's query operator reference.

Importing this package registers every operator; ``compile_query`` is the entry point.
"""

from translator.query import (  # noqa: F401  (imported to register their operators)
    array,
    bitwise,
    comparison,
    element,
    evaluation,
    geospatial,
    json_schema,
    logical,
)
from translator.query.compile import QUERY_OPERATORS, TOP_LEVEL_OPERATORS, compile_query

__all__ = ["QUERY_OPERATORS", "TOP_LEVEL_OPERATORS", "compile_query"]
