"""Plans are data: planning a pipeline gives frozen specs, checked and normalised, and builds nothing.

These tests plan pipelines and read the specs; none of them builds a dataflow, except the one
that counts how often building constructs each connector (once).
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from translator import plan
from translator.builders import BUILDERS
from translator.connections import parse_registry
from translator.errors import PipelineValidationError
from translator.parse import parse_pipeline
from translator.plan import SINK, SOURCE, PlanContext, SourceTime
from translator.stages.emit import KafkaEmitSpec
from translator.stages.emit_timeseries import TimeSeriesEmitSpec
from translator.stages.https import HttpsSinkSpec
from translator.stages.merge import MergeSpec
from translator.stages.sources.change_stream import ChangeStreamSpec
from translator.stages.sources.documents import DocumentsSourceSpec
from translator.stages.sources.kafka import KafkaSourceSpec
from translator.stages.sources.sample_solar import SampleSolarSpec
from translator.validate import plan_pipeline

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = {
    "connections": {
        "k": {"type": "kafka", "bootstrapServers": "broker:9092", "config": {"auto.offset.reset": "earliest"}},
        "m": {"type": "mongodb", "uri": "mongodb://db.example:27017"},
        "api": {"type": "https", "url": "https://api.example"},
    },
    "default": "m",
}
KAFKA_SOURCE = {"$source": {"connectionName": "k", "topic": ["a", "b"], "tsFieldName": "at",
                            "partitionIdleTimeout": {"size": 5, "unit": "second"}, "config": {"group_id": "g"}}}  # fmt: skip


def _plans(pipeline: list, registry: dict | None = REGISTRY, name: str = "p"):
    return plan(parse_pipeline({"name": name, "pipeline": pipeline}), parse_registry(registry) if registry else None)


def _problems(pipeline: list, registry: dict | None = REGISTRY) -> str:
    with pytest.raises(PipelineValidationError) as info:
        _plans(pipeline, registry)
    return str(info.value)


def test_a_kafka_source_plans_into_its_topics_group_and_time() -> None:
    (source,) = _plans([KAFKA_SOURCE])
    assert source.role == SOURCE
    spec = source.spec
    assert type(spec) is KafkaSourceSpec
    assert spec.topics == ("a", "b") and spec.group_id == "g"
    assert spec.client == {"bootstrap.servers": "broker:9092", "auto.offset.reset": "earliest"}
    assert (spec.key_format, spec.key_format_error, spec.commit_offsets) == ("binData", "dlq", True)
    assert spec.time == SourceTime(ts_field_name="at", idle_timeout=timedelta(seconds=5), finite=False)


def test_a_kafka_source_without_a_group_takes_the_processors_name() -> None:
    (source,) = _plans([{"$source": {"connectionName": "k", "topic": "t"}}], name="orders")
    assert source.spec.group_id == "sluice-orders"
    assert source.spec.time == SourceTime()


def test_documents_sources_are_finite_and_carry_their_documents() -> None:
    (source,) = _plans([{"$source": {"documents": [{"a": 1}], "tsFieldName": "t"}}], None)
    assert source.spec == DocumentsSourceSpec([{"a": 1}], None, None, SourceTime("t", None, True))
    (computed,) = _plans([{"$source": {"documents": {"$map": {"input": [1, 2], "in": {"n": "$$this"}}}}}], None)
    assert computed.spec.docs is None and callable(computed.spec.expression) and computed.spec.time.finite


def test_a_change_stream_plans_its_namespace_and_modes() -> None:
    (source,) = _plans([{"$source": {"db": "shop", "coll": ["a", "b"], "config": {"fullDocument": "required"}}}])
    spec = source.spec
    assert type(spec) is ChangeStreamSpec
    assert (spec.uri, spec.db, spec.coll, spec.full_document) == ("mongodb://db.example:27017", "shop", ["a", "b"], "required")
    assert spec.time == SourceTime()


def test_the_sample_source_takes_its_registry_settings() -> None:
    registry = {"connections": {"sample_stream_solar": {"type": "sample_stream_solar", "rate": 5, "limit": 3}}}
    (source,) = _plans([{"$source": {"connectionName": "sample_stream_solar"}}], registry)
    assert (source.spec.rate, source.spec.seed, source.spec.limit) == (5, 42, 3)
    assert type(source.spec) is SampleSolarSpec


def test_validate_gives_the_stateful_stages_the_planned_sources_time() -> None:
    pipeline = parse_pipeline([KAFKA_SOURCE, {"$match": {"x": 1}}])
    ctx = PlanContext(parse_registry(REGISTRY), "p")
    plans = plan_pipeline(pipeline, ctx)
    assert ctx.source_time is plans[0].spec.time
    assert ctx.source_time.idle_timeout == timedelta(seconds=5) and ctx.source_time.ts_field_name == "at"


def test_a_merge_plans_into_its_target_key_modes_and_parallelism() -> None:
    merge = {"$merge": {"into": {"connectionName": "m", "db": "shop", "coll": "totals"}, "on": ["region", "day"],
                        "whenMatched": "replace", "whenNotMatched": "discard", "parallelism": 4}}  # fmt: skip
    sink = _plans([KAFKA_SOURCE, merge])[-1]
    assert sink.role == SINK
    assert sink.spec == MergeSpec("mongodb://db.example:27017", "shop", "totals", ("region", "day"), "replace", "discard", None, 4)


def test_a_merge_with_computed_names_and_modes_compiles_them_once() -> None:
    merge = {"$merge": {"into": {"db": "shop", "coll": "$kind"}, "whenMatched": {"$cond": [True, "merge", "fail"]}}}
    spec = _plans([KAFKA_SOURCE, merge])[-1].spec
    assert spec.on == ("_id",) and spec.db == "shop"
    assert spec.coll({"kind": "orders"}) == "orders"
    assert spec.when_matched({}) == "merge"


def test_emit_to_kafka_and_to_a_time_series_collection_plan_into_their_options() -> None:
    emit = {"$emit": {"connectionName": "k", "topic": "out", "config": {"acks": 1, "outputFormat": "canonicalJson", "key": "$id"}}}
    sink = _plans([KAFKA_SOURCE, emit])[-1]
    spec = sink.spec
    assert type(spec) is KafkaEmitSpec
    assert (spec.topic, spec.acks, spec.output_format, spec.key_format) == ("out", 1, "canonicalJson", "binData")
    assert spec.key({"id": 7}) == 7 and spec.headers is None
    assert sink.steps == ("01_emit_partition", "01_emit")
    timeseries = {"$emit": {"db": "d", "coll": "c", "timeseries": {"timeField": "t", "granularity": "hours"}}}
    assert _plans([KAFKA_SOURCE, timeseries])[-1].spec == TimeSeriesEmitSpec(
        "mongodb://db.example:27017", "d", "c", {"timeField": "t", "granularity": "hours"}
    )


def test_https_as_the_last_stage_is_a_sink_spec() -> None:
    sink = _plans([KAFKA_SOURCE, {"$https": {"connectionName": "api", "method": "POST"}}])[-1]
    assert sink.role == SINK and type(sink.spec) is HttpsSinkSpec and callable(sink.spec.send)


def test_a_spec_never_shows_the_credentials_it_holds() -> None:
    registry = {"connections": {
        "k": {"type": "kafka", "bootstrapServers": "b:9092", "authentication": {"mechanism": "PLAIN", "username": "u", "password": "hunter2"}},
        "m": {"type": "mongodb", "uri": "mongodb://u:hunter2@db.example"},
    }, "default": "m"}  # fmt: skip
    kafka = [{"$source": {"connectionName": "k", "topic": "t"}}, {"$emit": {"connectionName": "k", "topic": "o"}}]
    mongodb = [{"$source": {"db": "d", "coll": "c"}}, {"$merge": {"into": {"db": "d", "coll": "t"}}}]
    timeseries = [{"$source": {"db": "d", "coll": "c"}}, {"$emit": {"db": "d", "coll": "c", "timeseries": {"timeField": "t"}}}]
    plans = [*_plans(kafka, registry), *_plans(mongodb, registry), *_plans(timeseries, registry)]
    assert plans[0].spec.client["sasl.password"] == "hunter2" and "hunter2" in plans[3].spec.uri
    assert all("hunter2" not in repr(p.spec) for p in plans)


def test_every_spec_is_frozen_and_has_one_builder() -> None:
    specs = (KafkaSourceSpec, DocumentsSourceSpec, ChangeStreamSpec, SampleSolarSpec, MergeSpec, KafkaEmitSpec,
             TimeSeriesEmitSpec, HttpsSinkSpec)  # fmt: skip
    for spec in specs:
        assert dataclasses.is_dataclass(spec) and spec.__dataclass_params__.frozen, spec
        assert spec in BUILDERS, spec


@pytest.mark.parametrize(
    ("pipeline", "message"),
    [
        # checked by the connectors' option functions, located at the stage's field
        ([KAFKA_SOURCE, {"$merge": {"into": {"db": "d", "coll": "c"}, "on": ["a", "a"]}}],
         "stage 1 ($merge): lists a field twice: ['a', 'a'] at on"),
        ([{"$source": {"db": "d", "coll": ["a", "a"]}}], "stage 0 ($source): coll lists a collection twice: ['a', 'a'] at coll"),
        ([{"$source": {"db": "d", "collection": ["a", "a"]}}],
         "stage 0 ($source): coll lists a collection twice: ['a', 'a'] at collection"),
        ([{"$source": {"db": "d", "config": {"initialSync": {"enable": True}}}}],
         "stage 0 ($source): initialSync of a whole database or cluster is not supported by sluice; name the collections "
         "in coll at config.initialSync"),
    ],
)  # fmt: skip
def test_connector_option_errors_carry_their_field_path(pipeline, message) -> None:
    assert _problems(pipeline) == message


def test_a_connection_that_its_connector_refuses_is_located_at_connection_name() -> None:
    registry = {"connections": {**REGISTRY["connections"], "api": {"type": "https", "url": "ftp://api.example"}}}
    assert _problems([KAFKA_SOURCE, {"$https": {"connectionName": "api", "as": "r"}}, {"$match": {}}], registry) == (
        "stage 1 ($https): https connection url: must start with https:// or http://; got 'ftp://api.example' at connectionName"
    )
    registry = {"connections": {"sample_stream_solar": {"type": "sample_stream_solar", "rate": 0}}}
    assert _problems([{"$source": {"connectionName": "sample_stream_solar"}}], registry) == (
        "stage 0 ($source): sample_stream_solar settings in the registry: rate must be a positive number; got 0 at connectionName"
    )


def test_planning_every_kind_of_source_and_sink_loads_no_driver() -> None:
    """Planning (what ``sluice validate`` does) constructs no connector: no driver is even imported."""
    pipelines = [
        [KAFKA_SOURCE, {"$lookup": {"from": {"db": "d", "coll": "c"}, "localField": "a", "foreignField": "b", "as": "l"}},
         {"$cachedLookup": {"from": {"db": "d", "coll": "c"}, "localField": "a", "foreignField": "b", "as": "m",
                            "ttl": {"size": 1, "unit": "minute"}}},
         {"$https": {"connectionName": "api", "as": "h"}},
         {"$emit": {"connectionName": "k", "topic": "out"}}],
        [{"$source": {"db": "d", "coll": "c"}}, {"$merge": {"into": {"db": "d", "coll": "t"}}}],
        [{"$source": {"documents": []}}, {"$emit": {"db": "d", "coll": "c", "timeseries": {"timeField": "t"}}}],
        [{"$source": {"documents": []}}, {"$https": {"connectionName": "api", "method": "POST"}}],
    ]  # fmt: skip
    code = (
        "import json, sys\n"
        "from translator.validate import plan\n"
        "from translator.connections import Registry\n"
        "from translator.parse import parse_pipeline\n"
        f"registry = Registry({REGISTRY['connections']!r}, 'm')\n"
        f"for pipeline in {pipelines!r}:\n"
        "    plan(parse_pipeline(pipeline), registry)\n"
        "print(json.dumps(sorted(m for m in ('confluent_kafka', 'pymongo', 'httpx') if m in sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_building_constructs_each_source_and_sink_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from connectors.kafka import KafkaSink, KafkaSource
    from connectors.mongodb_merge import MergeSink
    from translator import translate

    built: list[str] = []
    for cls in (KafkaSource, KafkaSink, MergeSink):
        original = cls.__init__

        def counting(self, *args, _original=original, _name=cls.__name__, **kwargs):
            built.append(_name)
            _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", counting)
    registry = parse_registry(REGISTRY)
    translate(parse_pipeline([KAFKA_SOURCE, {"$emit": {"connectionName": "k", "topic": "out"}}]), registry, stats=False)
    translate(parse_pipeline([KAFKA_SOURCE, {"$merge": {"into": {"db": "d", "coll": "t"}}}]), registry, stats=False)
    assert built == ["KafkaSource", "KafkaSink", "KafkaSource", "MergeSink"]
