"""Builders, one module per family of plan specs; importing this package registers them all."""

from translator.builders import sinks, sources, windows  # noqa: F401  (imported to register their builders)
from translator.builders._registry import BUILDERS

__all__ = ["BUILDERS"]
