"""Builders, one module per family of plan specs; importing this package registers them all."""

from translator.builders._registry import BUILDERS

__all__ = ["BUILDERS"]
