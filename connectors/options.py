"""The one error a connector raises for a wrong option, located by its field path in the stage.

Option checks are pure functions beside each connector (``kafka_options``, ``mongodb_options``,
``https_options``): the translator calls them while planning, without loading a driver, and
turns an :class:`OptionError` into a pipeline error at ``path``; the connectors call them too,
so a connector built by hand is checked the same way.
"""

from __future__ import annotations


class OptionError(ValueError):
    """``message`` about the option at ``path`` (Atlas field names, from the stage or the
    connection entry), in ``what`` (``"kafka $source"``, ``"$merge"``, ...)."""

    def __init__(self, what: str, message: str, path: tuple = ()) -> None:
        self.what = what
        self.message = message
        self.path = path
        at = f" {'.'.join(path)}" if path else ""
        super().__init__(f"{what}{at}: {message}")
