"""``$source`` on a Kafka connection: topics as chunks of documents, offsets in Bytewax snapshots.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-source/#apache-kafka-broker
"""

from __future__ import annotations

from dataclasses import replace

import bytewax.operators as op

from connectors.kafka import KafkaSource, client_config
from translator.errors import SpecError
from translator.parse import Stage
from translator.plan import SOURCE, PlanContext, StagePlan
from translator.stages.source import KAFKA, compile_time_field, only_fields, source_variant
from translator.windows.spec import duration

ALLOWED = frozenset({"connectionName", "topic", "timeField", "tsFieldName", "partitionIdleTimeout", "config"})
CONFIG = frozenset({"auto_offset_reset", "group_id", "keyFormat", "keyFormatError", "enable_auto_commit"})


@source_variant(KAFKA)
def plan_kafka(stage: Stage, connection: dict | None, ctx: PlanContext) -> StagePlan:
    """Check every option now; the broker is contacted only when the flow runs."""
    spec = stage.spec
    only_fields(spec, ALLOWED, "a Kafka source")
    config = spec.get("config", {})
    only_fields(config, CONFIG, "a Kafka source", ("config",))
    topics = spec["topic"]
    if type(topics) is list and not (topics and all(type(t) is str and t for t in topics)):
        msg = "topic must be a topic name or a non-empty array of names"
        raise SpecError(msg, ("topic",))
    if "partitionIdleTimeout" in spec:
        idle_timeout = duration(spec["partitionIdleTimeout"], ("partitionIdleTimeout",))
    else:
        idle_timeout = None
    try:
        client = client_config(connection) if connection is not None else {"bootstrap.servers": ""}
    except ValueError as exc:
        raise SpecError(str(exc), ("connectionName",)) from None
    try:  # the connector checks names and formats; it connects only when Bytewax builds a worker
        source = KafkaSource(
            client,
            topics,
            processor_name=ctx.processor_name,
            group_id=config.get("group_id"),
            auto_offset_reset=config.get("auto_offset_reset"),
            key_format=config.get("keyFormat", "binData"),
            key_format_error=config.get("keyFormatError", "dlq"),
            time_field=compile_time_field(spec),
            ts_field_name=spec.get("tsFieldName", "_ts"),
            commit_offsets=config.get("enable_auto_commit", True),
        )
    except ValueError as exc:
        raise SpecError(str(exc).removeprefix("kafka $source "), ("config",)) from None
    shown = topics if type(topics) is str else ", ".join(topics)
    first_start = config.get("auto_offset_reset") or client.get("auto.offset.reset", "latest")
    if config.get("enable_auto_commit", True):
        committed = f"committed to group {source.group_id} after each snapshot"
    else:
        committed = "not committed to a group"
    idle = f"; partitions idle after {idle_timeout} stop holding the watermark" if idle_timeout else ""
    description = (
        f"Kafka topic {shown}: one Bytewax partition per topic-partition, chunks of up to 1000 messages; "
        f"offsets in snapshots (exactly-once input), {committed}; a first start reads from the group's "
        f"offset, else {first_start}; keys as {config.get('keyFormat', 'binData')}; "
        f"non-JSON messages to the DLQ{idle}"
    )

    ctx.source_time = replace(ctx.source_time, idle_timeout=idle_timeout)

    def build(flow, bctx):
        bctx.source_partitions = source
        return op.input(stage.step_id, flow, source)

    return StagePlan(stage, SOURCE, description, build=build)
