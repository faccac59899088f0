"""Builders, one module per family of plan specs; importing this package registers them all."""

from translator.builders import windows  # noqa: F401  (registers its builders)
from translator.builders._registry import BUILDERS

__all__ = ["BUILDERS"]
