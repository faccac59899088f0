"""``$emit`` to Kafka: one message per document, topic, key and headers computed per document.

``$emit`` with ``db``/``coll``/``timeseries`` writes to a time-series collection instead
(:mod:`translator.stages.emit_timeseries`).

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-emit/
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from connectors.kafka_options import client_config, sink_options
from connectors.options import OptionError
from translator._types import MISSING, NO_VARS
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


@dataclass(frozen=True)
class KafkaEmitSpec:
    """Documents produced to Kafka; ``client`` is the confluent-kafka configuration, the
    callables are compiled per-document expressions."""

    client: dict = field(repr=False)  # holds credentials: never shown
    topic: str | Callable[[dict], Any]
    key: Callable[[dict], Any] | None
    key_format: str
    headers: Callable[[dict], Any] | None
    output_format: str
    date_format: str
    acks: int | str | None
    compression_type: str | None
    tombstone_when: Callable[[dict], Any] | None


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
    except OptionError as exc:
        raise SpecError(str(exc), ("connectionName",)) from None
    expressions = {name: _per_document(config[name], ("config", name)) for name in EXPRESSIONS if name in config}
    sink = KafkaEmitSpec(
        client=client,
        topic=_topic(spec["topic"]),
        key=expressions.get("key"),
        key_format=config.get("keyFormat", "binData"),
        headers=expressions.get("headers"),
        output_format=config.get("outputFormat", "relaxedJson"),
        date_format=config.get("dateFormat", "default"),
        acks=config.get("acks"),
        compression_type=config.get("compression_type"),
        tombstone_when=expressions.get("tombstoneWhen"),
    )
    try:
        sink_options(
            sink.topic,
            key_format=sink.key_format,
            output_format=sink.output_format,
            date_format=sink.date_format,
            acks=sink.acks,
            compression_type=sink.compression_type,
        )
    except OptionError as exc:
        raise SpecError(exc.message, exc.path) from None
    shown = sink.topic if type(sink.topic) is str else "<expression>"
    keyed = f", key as {sink.key_format}" if sink.key else ""
    description = (
        f"emit to Kafka topic {shown} as {sink.output_format}{keyed}; produced asynchronously, "
        "flushed before every snapshot (at-least-once); rejected messages to the DLQ"
    )
    steps = (f"{stage.step_id}_partition", stage.step_id)
    return StagePlan(stage, SINK, description, spec=sink, steps=steps)
