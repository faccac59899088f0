"""``$source`` on a Kafka connection: topics as chunks of documents, offsets in Bytewax snapshots.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-source/#apache-kafka-broker
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from connectors.kafka_options import client_config, source_options
from connectors.options import OptionError
from runtime.stream_meta import TimeField
from translator.errors import SpecError
from translator.parse import Stage
from translator.plan import SOURCE, PlanContext, SourceTime, StagePlan
from translator.stages.source import KAFKA, compile_time_field, only_fields, source_variant
from translator.windows.spec import duration

ALLOWED = frozenset({"connectionName", "topic", "timeField", "tsFieldName", "partitionIdleTimeout", "config"})
CONFIG = frozenset({"auto_offset_reset", "group_id", "keyFormat", "keyFormatError", "enable_auto_commit"})


@dataclass(frozen=True)
class KafkaSourceSpec:
    """Kafka topics read by a consumer group; ``client`` is the confluent-kafka configuration."""

    client: dict = field(repr=False)  # holds credentials: never shown
    topics: tuple[str, ...]
    group_id: str
    auto_offset_reset: str | None  # None: the connection's auto.offset.reset, else latest
    key_format: str
    key_format_error: str
    commit_offsets: bool
    time_field: TimeField | None
    time: SourceTime
    start_at: datetime | None  # the processor's first start: where a partition without offsets begins under latest


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
    except OptionError as exc:
        raise SpecError(str(exc), ("connectionName",)) from None
    try:
        topic_list, group_id = source_options(
            topics,
            processor_name=ctx.processor_name,
            group_id=config.get("group_id"),
            auto_offset_reset=config.get("auto_offset_reset") or client.get("auto.offset.reset"),
            key_format=config.get("keyFormat", "binData"),
            key_format_error=config.get("keyFormatError", "dlq"),
        )
    except OptionError as exc:
        raise SpecError(exc.message, exc.path) from None
    source = KafkaSourceSpec(
        client=client,
        topics=tuple(topic_list),
        group_id=group_id,
        auto_offset_reset=config.get("auto_offset_reset"),
        key_format=config.get("keyFormat", "binData"),
        key_format_error=config.get("keyFormatError", "dlq"),
        commit_offsets=config.get("enable_auto_commit", True),
        time_field=compile_time_field(spec),
        time=SourceTime(ts_field_name=spec.get("tsFieldName", "_ts"), idle_timeout=idle_timeout),
        start_at=ctx.start_at,
    )
    first_start = source.auto_offset_reset or client.get("auto.offset.reset", "latest")
    if source.commit_offsets:
        committed = f"committed to group {group_id} after each snapshot"
    else:
        committed = "not committed to a group"
    idle = f"; partitions idle after {idle_timeout} stop holding the watermark" if idle_timeout else ""
    description = (
        f"Kafka topic {', '.join(topic_list)}: one Bytewax partition per topic-partition, chunks of up to 1000 messages; "
        f"offsets in snapshots (exactly-once input), {committed}; a first start reads from the group's "
        f"offset, else {first_start}; keys as {source.key_format}; "
        f"non-JSON messages to the DLQ{idle}"
    )
    return StagePlan(stage, SOURCE, description, spec=source)
