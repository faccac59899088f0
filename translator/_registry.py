"""Name → function tables, filled by decorators: operators, stages, sources, DLQ writers.

Registering a name twice is an error, so two modules can never silently shadow each other.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

T = TypeVar("T")


def register(table: dict, name: str, entry: Any, what: str) -> None:
    if name in table:
        msg = f"{what} {name} registered twice"
        raise RuntimeError(msg)
    table[name] = entry


def registrar(table: dict, what: str) -> Callable[..., Callable[[T], T]]:
    """A decorator factory: ``@registrar(TABLE, "stage")("$match", "$alias")`` files the function."""

    def under(*names: str) -> Callable[[T], T]:
        def decorate(fn: T) -> T:
            for name in names:
                register(table, name, fn, what)
            return fn

        return decorate

    return under
