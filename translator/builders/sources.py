"""Source specs into ``op.input`` steps: the one place each source connector is constructed."""

from __future__ import annotations

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream

from connectors.documents import DocumentsSource
from connectors.kafka import KafkaSource
from connectors.mongodb_change_stream import ChangeStreamSource
from connectors.sample_solar import SolarSource
from translator._types import NO_VARS
from translator.builders._registry import builds
from translator.errors import ExpressionError, PipelineValidationError, Problem
from translator.plan import StagePlan
from translator.stages.sources.change_stream import ChangeStreamSpec
from translator.stages.sources.documents import NOT_DOCUMENTS, DocumentsSourceSpec
from translator.stages.sources.kafka import KafkaSourceSpec
from translator.stages.sources.sample_solar import SampleSolarSpec


@builds(DocumentsSourceSpec)
def build_documents(plan: StagePlan, flow: Dataflow, bctx) -> Stream:
    """An expression is evaluated here, once, as the flow is built to run; a result that is no
    array of documents fails like a bad pipeline, located at ``documents``."""
    spec: DocumentsSourceSpec = plan.spec
    stage = plan.stage

    def failed(message: str) -> PipelineValidationError:
        return PipelineValidationError([Problem(stage.index, stage.name, "documents", message)])

    docs = spec.docs
    if spec.expression is not None:
        try:
            docs = spec.expression({}, NO_VARS)
        except ExpressionError as exc:
            raise failed(str(exc)) from None
    try:  # the connector checks every document once
        source = DocumentsSource(docs, time_field=spec.time_field, ts_field_name=spec.time.ts_field_name)
    except TypeError:
        raise failed(NOT_DOCUMENTS) from None
    return op.input(stage.step_id, flow, source)


@builds(KafkaSourceSpec)
def build_kafka(plan: StagePlan, flow: Dataflow, bctx) -> Stream:
    spec: KafkaSourceSpec = plan.spec
    source = KafkaSource(
        spec.client,
        list(spec.topics),
        group_id=spec.group_id,
        auto_offset_reset=spec.auto_offset_reset,
        key_format=spec.key_format,
        key_format_error=spec.key_format_error,
        time_field=spec.time_field,
        ts_field_name=spec.time.ts_field_name,
        commit_offsets=spec.commit_offsets,
        start_at=spec.start_at,
    )
    bctx.source_partitions = source  # windows keep their watermark per partition it gives
    return op.input(plan.stage.step_id, flow, source)


@builds(ChangeStreamSpec)
def build_change_stream(plan: StagePlan, flow: Dataflow, bctx) -> Stream:
    spec: ChangeStreamSpec = plan.spec
    source = ChangeStreamSource(
        spec.uri,
        db=spec.db,
        coll=spec.coll,
        full_document=spec.full_document,
        full_document_only=spec.full_document_only,
        full_document_before_change=spec.full_document_before_change,
        pipeline=spec.pipeline,
        start_after=spec.start_after,
        start_at_operation_time=spec.start_at_operation_time,
        begin_at=spec.begin_at,
        time_field=spec.time_field,
        ts_field_name=spec.time.ts_field_name,
        initial_sync=spec.initial_sync,
        initial_sync_parallelism=spec.initial_sync_parallelism,
    )
    return op.input(plan.stage.step_id, flow, source)


@builds(SampleSolarSpec)
def build_sample_solar(plan: StagePlan, flow: Dataflow, bctx) -> Stream:
    spec: SampleSolarSpec = plan.spec
    source = SolarSource(spec.rate, spec.seed, spec.limit, spec.time_field, spec.time.ts_field_name)
    return op.input(plan.stage.step_id, flow, source)
