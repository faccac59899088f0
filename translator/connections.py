"""The connection registry: names in a pipeline → MongoDB, Kafka or built-in connections.

Atlas keeps connections in a workspace registry; sluice reads them from a JSON file:
``{"connections": {"NAME": {"type": "mongodb", "uri": ...} | {"type": "kafka",
"bootstrapServers": ..., "config": {...}}}, "default": "NAME"}``. ``${VAR}`` in any string
is replaced from the environment. Credentials never appear in messages: see :func:`runtime.redaction.redact`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from runtime import ejson
from connectors.kafka_options import client_config
from connectors.mongodb_options import parse_uri_offline
from connectors.options import OptionError
from runtime.redaction import SECRET_FIELD, remember_secrets
from translator.errors import PipelineSyntaxError, SpecError
from translator.unsupported import CONNECTION_TYPES as UNSUPPORTED_TYPES, refusal

SAMPLE_SOLAR = "sample_stream_solar"
BUILT_IN = {SAMPLE_SOLAR: {"type": "sample_stream_solar"}}
# The fields each connection type takes.
CONNECTION_FIELDS = {
    "mongodb": frozenset({"type", "uri"}),
    "kafka": frozenset({"type", "bootstrapServers", "security", "authentication", "config"}),
    "sample_stream_solar": frozenset({"type", "rate", "seed", "limit"}),
    "https": frozenset({"type", "url", "headers", "auth", "poolSize"}),
}
CONNECTION_TYPES = frozenset(CONNECTION_FIELDS)
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SERVER = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})")
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
    unknown = sorted(set(value) - {"connections", "default"})
    if unknown:
        msg = f"{where}: unknown field {unknown[0]!r}; expected connections, default"
        raise PipelineSyntaxError(msg)
    value = _substitute(value, where)
    connections = value.get("connections", {})
    for name, entry in connections.items():
        _remember_secrets_of(entry)
    for name, entry in connections.items():
        _check_connection(name, entry, f"{where}: connection {name!r}")
    default = value.get("default")
    if default is not None and default not in connections:
        msg = f"{where}: default connection {default!r} is not in the registry"
        raise PipelineSyntaxError(msg)
    return Registry(connections, default)


def _remember_secrets_of(entry: Any) -> None:
    """Every value a registry entry holds under a secret-like name, and URI or server userinfo."""
    stack = [entry]
    while stack:
        item = stack.pop()
        for key, inner in item.items() if type(item) is dict else enumerate(item) if type(item) is list else ():
            if type(key) is str and SECRET_FIELD.search(key):
                remember_secrets(inner)
            elif type(inner) in (dict, list):
                stack.append(inner)
            elif type(inner) is str and "@" in inner:
                userinfo = inner.partition("://")[2].rpartition("@")[0] if "://" in inner else inner.rpartition("@")[0]
                remember_secrets(userinfo, userinfo.partition(":")[2])


def _check_connection(name: str, entry: Any, where: str) -> None:
    """A connection's type and fields, checked as far as possible without contacting it."""
    kind = entry.get("type") if type(entry) is dict else None
    if type(kind) is str and kind.lower() in UNSUPPORTED_TYPES:
        raise PipelineSyntaxError(f"{where}: {refusal(UNSUPPORTED_TYPES[kind.lower()])}")
    if kind not in CONNECTION_TYPES:
        msg = f"{where} needs a type, one of {', '.join(sorted(CONNECTION_TYPES))}; got {kind!r}"
        raise PipelineSyntaxError(msg)
    unknown = sorted(set(entry) - CONNECTION_FIELDS[kind])
    if unknown:
        msg = f"{where}: unknown field {unknown[0]!r} for a {kind} connection; expected {', '.join(sorted(CONNECTION_FIELDS[kind]))}"
        raise PipelineSyntaxError(msg)
    if kind == "mongodb":
        uri = entry.get("uri")
        if type(uri) is not str:
            msg = f"{where}: a mongodb connection needs a 'uri' string"
            raise PipelineSyntaxError(msg)
        try:
            parse_uri_offline(uri)
        except Exception as exc:  # pymongo raises InvalidURI, ConfigurationError or ValueError
            msg = f"{where}: uri is not a valid MongoDB connection string: {exc}"
            raise PipelineSyntaxError(msg) from None
    if kind == "https":
        if type(entry.get("url")) is not str:
            msg = f"{where}: an https connection needs a 'url' string"
            raise PipelineSyntaxError(msg)
        headers = entry.get("headers", {})
        if type(headers) is not dict or not all(type(value) is str for value in headers.values()):
            msg = f"{where}: headers must be an object of strings"
            raise PipelineSyntaxError(msg)
    if kind == "kafka":
        _check_servers(entry.get("bootstrapServers"), where)
        try:
            client_config(entry)
        except OptionError as exc:
            raise PipelineSyntaxError(f"{where}: {exc}") from None


def _check_servers(servers: Any, where: str) -> None:
    """``bootstrapServers``: "host:port,host:port" (or an array of "host:port"), ports 1-65535."""
    listed = servers if type(servers) is list else str(servers).split(",") if type(servers) is str else None
    if not listed:
        msg = f"{where}: a kafka connection needs 'bootstrapServers', \"host:port[,host:port]\"; got {servers!r}"
        raise PipelineSyntaxError(msg)
    for server in listed:
        if type(server) is str and "@" in server:
            msg = f"{where}: bootstrapServers must not hold credentials; give them in authentication.username and .password"
            raise PipelineSyntaxError(msg)
        match = _SERVER.fullmatch(server.strip()) if type(server) is str else None
        if match is None or not 1 <= int(match.group(1)) <= 65535:
            msg = f"{where}: bootstrapServers entry {server!r} is not host:port with a port from 1 to 65535"
            raise PipelineSyntaxError(msg)


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
