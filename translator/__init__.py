"""sluice's translator: Atlas Stream Processing pipelines → Bytewax dataflows.

parse → validate (plan every stage, expressions compiled once) → build. Example::

    from translator import translate
    from translator.parse import parse_pipeline

    pipeline = parse_pipeline([{"$source": {"documents": [{"a": 1}]}}, {"$match": {"a": 1}}])
    flow = translate(pipeline).flow   # run with bytewax.testing.run_main(flow)

``plan`` needs neither Bytewax nor a driver; ``translate`` and ``process`` (in
:mod:`translator.run`) load them when first used, so validating a pipeline stays light.
"""

from __future__ import annotations

from typing import Any

from translator import expressions, query  # noqa: F401  (register operators)
from translator.validate import plan

__all__ = ["Translation", "plan", "process", "translate"]
_RUNNING = frozenset({"Translation", "process", "translate"})  # what translator.run defines


def __getattr__(name: str) -> Any:
    """``translate``, ``process`` and ``Translation``, from :mod:`translator.run` on first use."""
    if name not in _RUNNING:
        msg = f"module 'translator' has no attribute {name!r}"
        raise AttributeError(msg)
    from translator import run

    return getattr(run, name)
