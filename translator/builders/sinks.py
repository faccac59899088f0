"""Sink specs into ``op.output`` steps: the one place each sink connector is constructed."""

from __future__ import annotations

import bytewax.operators as op
from bytewax.dataflow import Stream
from bytewax.outputs import DynamicSink, StatelessSinkPartition

from connectors.kafka import KafkaSink
from connectors.mongodb_merge import MergeSink
from connectors.mongodb_timeseries import TimeSeriesSink
from translator.builders._registry import builds
from translator.plan import StagePlan
from translator.stages.emit import KafkaEmitSpec
from translator.stages.emit_timeseries import TimeSeriesEmitSpec
from translator.stages.https import HttpsSinkSpec
from translator.stages.merge import MergeSpec


@builds(KafkaEmitSpec)
def build_kafka_emit(plan: StagePlan, up: Stream, bctx) -> None:
    """Chunks keyed round-robin onto the sink's partitions, each with its own producer."""
    spec: KafkaEmitSpec = plan.spec
    sink = KafkaSink(
        spec.client,
        spec.topic,
        key=spec.key,
        key_format=spec.key_format,
        headers=spec.headers,
        output_format=spec.output_format,
        date_format=spec.date_format,
        acks=spec.acks,
        compression_type=spec.compression_type,
        tombstone_when=spec.tombstone_when,
        dead_letter_writer_factory=bctx.dlq_writer_factory,
        processor_name=bctx.processor_name,
    )
    key_step, step_id = plan.steps
    op.output(step_id, op.key_on(key_step, up, sink.chunk_key), sink)


@builds(TimeSeriesEmitSpec)
def build_timeseries_emit(plan: StagePlan, up: Stream, bctx) -> None:
    spec: TimeSeriesEmitSpec = plan.spec
    sink = TimeSeriesSink(
        spec.uri,
        db=spec.db,
        coll=spec.coll,
        timeseries=spec.timeseries,
        dead_letter_writer_factory=bctx.dlq_writer_factory,
        processor_name=bctx.processor_name,
    )
    op.output(plan.stage.step_id, up, sink)


@builds(MergeSpec)
def build_merge(plan: StagePlan, up: Stream, bctx) -> None:
    spec: MergeSpec = plan.spec
    sink = MergeSink(
        spec.uri,
        db=spec.db,
        coll=spec.coll,
        on=spec.on,
        when_matched=spec.when_matched,
        when_not_matched=spec.when_not_matched,
        let=spec.let,
        parallelism=spec.parallelism,
        dead_letter_writer_factory=bctx.dlq_writer_factory,
        processor_name=bctx.processor_name,
    )
    op.output(plan.stage.step_id, up, sink)


@builds(HttpsSinkSpec)
def build_https_sink(plan: StagePlan, up: Stream, bctx) -> None:
    """The webhook's requests run in a ``flat_map``; their dead letters join the DLQ and the
    answers, already handled, end in a sink that keeps nothing."""
    step_id = plan.stage.step_id
    sent = bctx.split_dead_letters(step_id, op.flat_map(step_id, up, plan.spec.send))
    op.output(f"{step_id}_sent", sent, _Discard())


class _DiscardPartition(StatelessSinkPartition):
    def write_batch(self, items: list) -> None:
        """The webhook sink's answers were handled; nothing is left to write."""


class _Discard(DynamicSink):
    def build(self, step_id: str, worker_index: int, worker_count: int) -> _DiscardPartition:
        return _DiscardPartition()
