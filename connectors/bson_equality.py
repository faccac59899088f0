"""MongoDB's equality on values, without a client: keys equal exactly when MongoDB's ``$eq`` says so.

The in-process ``$lookup`` and the connectors' batched lookups and merges join on these keys.
"""

from __future__ import annotations

from typing import Any


def values_at(doc: Any, path: tuple[str, ...]) -> list:
    """Every value at a dotted path, descending into arrays as MongoDB queries do.

    An array found at the end of the path is returned itself and element by element,
    because an equality query matches either. A missing path gives ``[None]``: MongoDB
    equality on null matches missing fields too.
    """
    found: list = []
    _collect(doc, path, 0, found)
    return found or [None]


def _collect(value: Any, path: tuple[str, ...], depth: int, found: list) -> None:
    if depth == len(path):
        found.append(value)
        if isinstance(value, list):
            found.extend(value)
        return
    if isinstance(value, dict):
        if path[depth] in value:
            _collect(value[path[depth]], path, depth + 1, found)
    elif isinstance(value, list):
        for element in value:
            _collect(element, path, depth, found)


def hashable(value: Any) -> Any:
    """A dict key that is equal exactly when MongoDB's equality says the values are.

    Numbers of any BSON type compare by value (``1 == 1.0 == Int64(1)``), as Python
    does; booleans are kept apart from 1 and 0; documents and arrays become tuples.
    """
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, dict):
        return ("doc", tuple((key, hashable(item)) for key, item in value.items()))
    if isinstance(value, list):
        return ("array", tuple(hashable(item) for item in value))
    return value
