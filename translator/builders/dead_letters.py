"""The writers of ``options.dlq`` (checked by :mod:`translator.dlq`): one factory per worker's writer.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/manage-stream-processor/#std-label-atlas-sp-manage-processor-create
"""

from __future__ import annotations

from typing import Callable, TextIO

from connectors.console import ConsoleDeadLetterWriter
from connectors.kafka import KafkaDeadLetterWriter
from connectors.kafka_options import client_config
from connectors.mongodb_dlq import MongoDeadLetterWriter
from translator.dlq import WriterFactory


def dlq_writer_factory(options: dict, registry: object, stream: TextIO | None) -> WriterFactory:
    """The DLQ the options name (checked by ``check_options``), or records printed to ``stream``
    (stderr) as ``sp.process`` does."""
    dlq = options.get("dlq")
    if dlq is None:
        return lambda: ConsoleDeadLetterWriter(stream)
    _, connection = registry.resolve(dlq["connectionName"], ("options", "dlq", "connectionName"))
    return DLQ_WRITERS[connection["type"]](connection, dlq)


def kafka_dlq_writer(connection: dict, dlq: dict) -> WriterFactory:
    """``options.dlq: {connectionName, topic}`` on a Kafka connection."""
    config, topic = client_config(connection), dlq["topic"]
    return lambda: KafkaDeadLetterWriter(config, topic)


def mongodb_dlq_writer(connection: dict, dlq: dict) -> WriterFactory:
    """``options.dlq: {connectionName, db, coll}`` on a MongoDB connection."""
    uri, db, coll = connection["uri"], dlq["db"], dlq["coll"]
    return lambda: MongoDeadLetterWriter(uri, db, coll)


# connection type → (connection entry, options.dlq) → factory
DLQ_WRITERS: dict[str, Callable[[dict, dict], WriterFactory]] = {"kafka": kafka_dlq_writer, "mongodb": mongodb_dlq_writer}
