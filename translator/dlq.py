"""Where a processor's dead letters go: ``options.dlq`` names a connection, else stderr.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/manage-stream-processor/#std-label-atlas-sp-manage-processor-create
"""

from __future__ import annotations

from typing import Callable, TextIO

from connectors.console import ConsoleDeadLetterWriter
from translator._registry import registrar
from connectors.dead_letters import DeadLetterWriter
from translator.errors import SpecError

WriterFactory = Callable[[], DeadLetterWriter]
# connection type → (connection entry, options.dlq) → factory; filled by connector stage modules.
DLQ_WRITERS: dict[str, Callable[[dict, dict], WriterFactory]] = {}


dlq_writer = registrar(DLQ_WRITERS, "DLQ writer for")
"""Register how DLQ records are written to one type of connection: ``@dlq_writer("mongodb")``."""


def check_dlq_options(options: dict) -> None:
    dlq = options.get("dlq")
    if dlq is None:
        return
    if type(dlq) is not dict or type(dlq.get("connectionName")) is not str:
        msg = "options.dlq needs a connectionName, with db and coll (MongoDB) or topic (Kafka)"
        raise SpecError(msg, ("options", "dlq"))


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
