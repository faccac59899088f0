"""Where a processor's dead letters go: ``options.dlq`` names a connection, else stderr.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/manage-stream-processor/#std-label-atlas-sp-manage-processor-create
"""

from __future__ import annotations

import re
from typing import Callable, TextIO

from connectors.console import ConsoleDeadLetterWriter
from translator._registry import registrar
from runtime.dead_letters import DeadLetterWriter
from connectors.mongodb_support import valid_name
from translator.errors import SpecError
from translator.unsupported import OPTIONS, refusal

WriterFactory = Callable[[], DeadLetterWriter]
# connection type → (connection entry, options.dlq) → factory; filled by connector stage modules.
DLQ_WRITERS: dict[str, Callable[[dict, dict], WriterFactory]] = {}


dlq_writer = registrar(DLQ_WRITERS, "DLQ writer for")
"""Register how DLQ records are written to one type of connection: ``@dlq_writer("mongodb")``."""


KNOWN_OPTIONS = ("dlq",)
_DLQ_FIELDS = {"mongodb": ("connectionName", "db", "coll"), "kafka": ("connectionName", "topic")}
_KAFKA_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")


def check_options(options: dict, registry: object | None) -> None:
    """Every processor option honoured or refused by name; a typo (``"DLQ"``) is an error, never
    a silent default. With a registry, the DLQ's connection is resolved and its writer checked."""
    for key in options:
        if key in OPTIONS:
            raise SpecError(refusal(OPTIONS[key]), ("options", key))
        if key not in KNOWN_OPTIONS:
            near = [known for known in KNOWN_OPTIONS if known.lower() == key.lower()]
            hint = f"did you mean {near[0]!r}?" if near else f"sluice takes: {', '.join(KNOWN_OPTIONS)}"
            msg = f"unknown option {key!r}; {hint}"
            raise SpecError(msg, ("options", key))
    if "dlq" not in options:
        return
    dlq = options["dlq"]
    if type(dlq) is not dict or type(dlq.get("connectionName")) is not str:
        msg = "options.dlq needs a connectionName, with db and coll (MongoDB) or topic (Kafka)"
        raise SpecError(msg, ("options", "dlq"))
    if registry is not None:
        _, connection = registry.resolve(dlq["connectionName"], ("options", "dlq", "connectionName"))
        kind = connection["type"]
    else:
        kind = "kafka" if "topic" in dlq else "mongodb"
    if kind not in _DLQ_FIELDS:
        dlq_writer_factory(options, registry, None)  # refuses the connection type
    shown = "Kafka" if kind == "kafka" else "MongoDB"
    for key in _DLQ_FIELDS[kind]:
        if key not in dlq:
            msg = f"a {shown} DLQ needs {key}"
            raise SpecError(msg, ("options", "dlq"))
    for key in dlq:
        if key not in _DLQ_FIELDS[kind]:
            msg = f"unknown field {key!r} in a {shown} DLQ; expected {', '.join(_DLQ_FIELDS[kind])}"
            raise SpecError(msg, ("options", "dlq", key))
    if kind == "kafka" and not (type(dlq["topic"]) is str and _KAFKA_TOPIC.fullmatch(dlq["topic"])):
        msg = f"topic must be a Kafka topic name (letters, digits, '.', '_', '-'); got {dlq['topic']!r}"
        raise SpecError(msg, ("options", "dlq", "topic"))
    for part in ("db", "coll") if kind == "mongodb" else ():
        if not valid_name(part, dlq[part]):
            what = "database" if part == "db" else "collection"
            msg = f"{dlq[part]!r} is not a valid {what} name"
            raise SpecError(msg, ("options", "dlq", part))
    if registry is not None:
        dlq_writer_factory(options, registry, None)


def dlq_writer_factory(options: dict, registry: object, stream: TextIO | None) -> WriterFactory:
    """The DLQ the options name, or records printed to ``stream`` (stderr) as ``sp.process`` does."""
    dlq = options.get("dlq")
    if dlq is None:
        return lambda: ConsoleDeadLetterWriter(stream)
    _, connection = registry.resolve(dlq["connectionName"], ("options", "dlq", "connectionName"))
    make = DLQ_WRITERS.get(connection["type"])
    if make is None:
        msg = f"a dead-letter queue on a {connection['type']} connection is not built yet"
        raise SpecError(msg, ("options", "dlq"))
    return make(connection, dlq)
