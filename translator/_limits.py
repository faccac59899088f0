"""mongod's 16 MiB and 100-level limits on the values expressions build, checked where values grow.

A document fails to the DLQ, with mongod's wording, as soon as one operator builds a value
past the limit, so no single document makes the process grow without bound. The checks are
cheap: a length per string or array built (for ``$map``, per result), and for ``$reduce`` a
walk of its accumulator at iterations 1, 2, 4, 8, ... (a container shared by several places
is walked once).
"""

from __future__ import annotations

from typing import Any

from runtime.ejson import DEPTH_ERROR, MAX_DEPTH, MAX_DOCUMENT_BYTES, size_error
from translator.errors import ExpressionError

# BSON's cost of a value beyond its payload: type byte, key and terminator (a short key assumed).
_ELEMENT_BYTES = 8
_SCALAR_BYTES = 8


def check_built(name: str, size: int) -> None:
    """Fail the document when ``name`` has just built a value of ``size`` bytes over the limit."""
    if size > MAX_DOCUMENT_BYTES:
        raise ExpressionError(f"{name}: {size_error(size)}")


def shallow_size(value: Any) -> int:
    """What a value costs at its top level: a string's length, a container's element headers."""
    kind = type(value)
    if kind is str or kind is bytes:
        return len(value) + _ELEMENT_BYTES
    if kind is list or kind is dict:
        return len(value) * _ELEMENT_BYTES
    return _SCALAR_BYTES


def value_size(name: str, value: Any) -> int:
    """About the BSON size of ``value``; fails the document when it nests past 100 levels."""
    kind = type(value)
    if kind is not list and kind is not dict:
        return shallow_size(value)
    return _container_size(name, value, 1, {})


def _container_size(name: str, value: Any, depth: int, sizes: dict[int, int]) -> int:
    """``sizes``: id of each container walked already -> its size, so a shared one is walked once."""
    known = sizes.get(id(value))
    if known is not None:
        return known
    if depth > MAX_DEPTH:
        raise ExpressionError(f"{name}: {DEPTH_ERROR}")
    total = _ELEMENT_BYTES
    if type(value) is dict:
        for key, child in value.items():
            kind = type(child)
            total += len(key) + _ELEMENT_BYTES
            total += (_container_size(name, child, depth + 1, sizes) if kind is list or kind is dict
                      else shallow_size(child))  # fmt: skip
    else:
        for child in value:
            kind = type(child)
            total += _ELEMENT_BYTES
            total += (_container_size(name, child, depth + 1, sizes) if kind is list or kind is dict
                      else shallow_size(child))  # fmt: skip
    sizes[id(value)] = total
    return total
