"""The connection registry: names in a pipeline → MongoDB, Kafka or built-in connections.

Atlas keeps connections in a workspace registry; sluice reads them from a JSON file:
``{"connections": {"NAME": {"type": "mongodb", "uri": ...} | {"type": "kafka",
"bootstrapServers": ..., "config": {...}}}, "default": "NAME"}``. ``${VAR}`` in any string
is replaced from the environment. Credentials never appear in messages: see :func:`connectors.mongodb_support.redact`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from connectors import ejson
from translator.errors import PipelineSyntaxError, SpecError

SAMPLE_SOLAR = "sample_stream_solar"
BUILT_IN = {SAMPLE_SOLAR: {"type": "sample_stream_solar"}}
CONNECTION_TYPES = frozenset({"mongodb", "kafka", "sample_stream_solar"})
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
def _substitute(value: Any, where: str) -> Any:
    if type(value) is str:

        def lookup(match: re.Match) -> str:
            name = match.group(1)
            if name not in os.environ:
                msg = f"{where}: environment variable {name} is not set"
                raise PipelineSyntaxError(msg)
            return os.environ[name]

        return _VARIABLE.sub(lookup, value)
    if type(value) is dict:
        return {k: _substitute(v, f"{where}.{k}") for k, v in value.items()}
    if type(value) is list:
        return [_substitute(v, where) for v in value]
    return value


@dataclass
class Registry:
    connections: dict = field(default_factory=dict)
    default: str | None = None
    path: str | None = None  # the file it was loaded from: child processes load it again themselves

    def resolve(self, name: str | None, at: tuple = ()) -> tuple[str, dict]:
        """The connection a stage names, or the default MongoDB connection when it names none."""
        if name is None:
            if self.default is None:
                msg = "no connectionName given and the registry names no default connection"
                raise SpecError(msg, at)
            name = self.default
        found = self.connections.get(name) or BUILT_IN.get(name)
        if found is None:
            known = ", ".join(sorted({*self.connections, *BUILT_IN}))
            msg = f"unknown connection {name!r}; the registry has: {known}"
            raise SpecError(msg, at)
        return name, found


def parse_registry(value: Any, where: str = "connection registry") -> Registry:
    if type(value) is not dict or type(value.get("connections", {})) is not dict:
        msg = f'{where}: expected {{"connections": {{NAME: {{"type": ...}}}}, "default": NAME}}'
        raise PipelineSyntaxError(msg)
    value = _substitute(value, where)
    connections = value.get("connections", {})
    for name, entry in connections.items():
        kind = entry.get("type") if type(entry) is dict else None
        if kind not in CONNECTION_TYPES:
            msg = f"{where}: connection {name!r} needs a type, one of {', '.join(sorted(CONNECTION_TYPES))}; got {kind!r}"
            raise PipelineSyntaxError(msg)
        if kind == "mongodb" and type(entry.get("uri")) is not str:
            msg = f"{where}: mongodb connection {name!r} needs a 'uri' string"
            raise PipelineSyntaxError(msg)
        if kind == "kafka" and type(entry.get("bootstrapServers")) is not str:
            msg = f"{where}: kafka connection {name!r} needs a 'bootstrapServers' string"
            raise PipelineSyntaxError(msg)
    default = value.get("default")
    if default is not None and default not in connections:
        msg = f"{where}: default connection {default!r} is not in the registry"
        raise PipelineSyntaxError(msg)
    return Registry(connections, default)


def load_registry(path: str) -> Registry:
    try:
        with open(path, encoding="utf-8") as file:
            value = ejson.loads(file.read())
    except OSError as exc:
        msg = f"cannot read connection registry {path}: {exc.strerror}"
        raise PipelineSyntaxError(msg) from None
    except Exception as exc:
        msg = f"{path} is not valid JSON: {exc}"
        raise PipelineSyntaxError(msg) from None
    registry = parse_registry(value, path)
    registry.path = os.path.abspath(path)
    return registry
