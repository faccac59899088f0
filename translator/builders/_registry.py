"""The table of builders: each plan spec type to the function that turns it into Bytewax steps.

A builder is ``build(plan, up, bctx)``: ``up`` is the dataflow for a source (which returns
its stream), the upstream stream otherwise (an operator returns its stream, a sink None).
Builders are the only code that constructs connectors and calls Bytewax operators.
"""

from __future__ import annotations

from typing import Any, Callable

from translator._registry import registrar

Builder = Callable[[Any, Any, Any], Any]
BUILDERS: dict[type, Builder] = {}

builds = registrar(BUILDERS, "builder")
"""Register ``build(plan, up, bctx)`` for one or more plan spec types."""
