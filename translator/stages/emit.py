"""``$emit`` to Kafka: one message per document, topic, key and headers computed per document.

``$emit`` with ``db``/``coll``/``timeseries`` writes to a time-series collection instead
(:mod:`translator.stages.emit_timeseries`).

Also registers the Kafka dead-letter queue (``options.dlq: {connectionName, topic}``).
https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-emit/
"""

from __future__ import annotations

from typing import Any, Callable

import bytewax.operators as op

from connectors.kafka import KafkaDeadLetterWriter, KafkaSink, client_config
from translator._types import MISSING, NO_VARS
from translator.dlq import WriterFactory, dlq_writer
from translator.errors import SpecError
from translator.expressions import compile_expression
from translator.parse import Stage
from translator.plan import SINK, PlanContext, StagePlan
from translator.stages._registry import stage_planner
from translator.stages.emit_timeseries import plan_timeseries_emit
from translator.stages.source import only_fields

CONFIG = frozenset(
    {"acks", "compression_type", "headers", "key", "keyFormat", "outputFormat", "tombstoneWhen", "dateFormat"}
)
EXPRESSIONS = ("key", "headers", "tombstoneWhen")  # config fields evaluated per document
# The fields that make an $emit write to a time-series collection.
TIMESERIES_TARGET = frozenset({"db", "coll", "timeseries"})


def _per_document(spec: Any, at: tuple) -> Callable[[dict], Any]:
    """A compiled expression; a missing result reads as None (no key, no headers)."""
    fn = compile_expression(spec, at)

    def evaluate(doc: dict) -> Any:
        value = fn(doc, NO_VARS)
        return None if value is MISSING else value

    return evaluate


def _topic(spec: Any) -> str | Callable[[dict], Any]:
    """A literal topic name, or an expression routing each document."""
    if spec == "":
        msg = "topic must be a topic name or an expression; got an empty string"
        raise SpecError(msg, ("topic",))
    if type(spec) is str and not spec.startswith("$"):
        return spec
    return _per_document(spec, ("topic",))


@stage_planner("$emit")
def plan_emit(stage: Stage, ctx: PlanContext) -> StagePlan:
    spec = stage.spec
    if TIMESERIES_TARGET.intersection(spec):
        return plan_timeseries_emit(stage, ctx)
    if "topic" not in spec:
        msg = "missing required field 'topic'"
        raise SpecError(msg, ())
    connection = ctx.connection(spec.get("connectionName"), "kafka", ("connectionName",), "but $emit with a topic writes to Kafka")
    config = spec.get("config", {})
    only_fields(config, CONFIG, "$emit to Kafka", ("config",))
    try:
        client = client_config(connection) if connection is not None else {}
    except ValueError as exc:
        raise SpecError(str(exc), ("connectionName",)) from None
    expressions = {field: _per_document(config[field], ("config", field)) for field in EXPRESSIONS if field in config}
    options = dict(
        key=expressions.get("key"),
        key_format=config.get("keyFormat", "binData"),
        headers=expressions.get("headers"),
        output_format=config.get("outputFormat", "relaxedJson"),
        date_format=config.get("dateFormat", "default"),
        acks=config.get("acks"),
        compression_type=config.get("compression_type"),
        tombstone_when=expressions.get("tombstoneWhen"),
    )
    topic = _topic(spec["topic"])
    try:  # the connector checks the options; it connects only when Bytewax builds a worker
        KafkaSink(client, topic, **options)
    except ValueError as exc:
        raise SpecError(str(exc).removeprefix("kafka $emit "), ("config",)) from None
    shown = topic if type(topic) is str else "<expression>"
    keyed = f", key as {options['key_format']}" if options["key"] else ""
    description = (
        f"emit to Kafka topic {shown} as {options['output_format']}{keyed}; produced asynchronously, "
        "flushed before every snapshot (at-least-once); rejected messages to the DLQ"
    )
    key_step = f"{stage.step_id}_partition"

    def build(up, bctx) -> None:
        sink = KafkaSink(
            client,
            topic,
            **options,
            dead_letter_writer_factory=bctx.dlq_writer_factory,
            processor_name=bctx.processor_name,
        )
        op.output(stage.step_id, op.key_on(key_step, up, sink.chunk_key), sink)

    return StagePlan(stage, SINK, description, build=build, steps=(key_step, stage.step_id))


@dlq_writer("kafka")
def make_dlq_writer(connection: dict, dlq: dict) -> WriterFactory:
    """``options.dlq: {connectionName, topic}`` on a Kafka connection."""
    topic = dlq.get("topic")
    if type(topic) is not str or not topic:
        msg = f"a Kafka DLQ needs topic as a non-empty string; got {topic!r}"
        raise SpecError(msg, ("options", "dlq", "topic"))
    try:
        config = client_config(connection)
    except ValueError as exc:
        raise SpecError(str(exc), ("options", "dlq", "connectionName")) from None
    return lambda: KafkaDeadLetterWriter(config, topic)
