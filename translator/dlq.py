"""``options.dlq``, checked: where a processor's dead letters go (a connection, else stderr).

The writers themselves are built in :mod:`translator.builders.dead_letters`.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/manage-stream-processor/#std-label-atlas-sp-manage-processor-create
"""

from __future__ import annotations

import re
from typing import Callable

from connectors.mongodb_options import valid_name
from runtime.dead_letters import DeadLetterWriter
from translator.errors import SpecError
from translator.unsupported import OPTIONS, refusal

WriterFactory = Callable[[], DeadLetterWriter]
KNOWN_OPTIONS = ("dlq",)
_DLQ_FIELDS = {"mongodb": ("connectionName", "db", "coll"), "kafka": ("connectionName", "topic")}
_KAFKA_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")


def check_options(options: dict, registry: object | None) -> None:
    """Every processor option honoured or refused by name; a typo (``"DLQ"``) is an error, never
    a silent default. With a registry, the DLQ's connection is resolved and must be one a DLQ can use."""
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
        msg = f"a dead-letter queue on a {kind} connection is not built yet"
        raise SpecError(msg, ("options", "dlq"))
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
