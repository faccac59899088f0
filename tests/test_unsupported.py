"""Atlas features sluice cannot run are refused by ``sluice validate`` (exit 2), named, at plan time.

Each row is a valid Atlas definition; the message is ``stage N ($name): <feature> is valid in
Atlas but not supported by sluice: <what to do>``, located at the field that asks for it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from translator.cli import main
from translator.stages import STAGE_PLANNERS
from translator.stages._fields import KNOWN_STAGES, WINDOW_ONLY
from translator.unsupported import STAGES

KAFKA = {"$source": {"connectionName": "k", "topic": "t"}}
NOT_SUPPORTED = "is valid in Atlas but not supported by sluice"
TO_KAFKA = "emit to Kafka or $merge into MongoDB and let a separate consumer do it"
CASES = [
    ("externalFunction", [KAFKA, {"$externalFunction": {"connectionName": "l", "functionName": "f", "as": "r"}}, {"$match": {}}],
     f"stage 1 ($externalFunction): $externalFunction {NOT_SUPPORTED}: call AWS Lambda outside the processor: {TO_KAFKA}"),
    ("iceberg", [KAFKA, {"$iceberg": {"connectionName": "s3", "bucket": "b", "tableName": "t"}}],
     f"stage 1 ($iceberg): $iceberg {NOT_SUPPORTED}: write Iceberg tables outside the processor: {TO_KAFKA}"),
    ("emit to S3", [KAFKA, {"$emit": {"connectionName": "s3", "bucket": "b", "path": "p", "region": "us-east-1"}}],
     f"stage 1 ($emit): S3 as a target {NOT_SUPPORTED}: emit to Kafka or $merge into MongoDB at bucket"),
    ("emit to Kinesis", [KAFKA, {"$emit": {"connectionName": "kin", "stream": "s", "partitionKey": "$k"}}],
     f"stage 1 ($emit): Kinesis as a target {NOT_SUPPORTED}: emit to Kafka at stream"),
    ("emit to Azure Blob Storage", [KAFKA, {"$emit": {"connectionName": "az", "container": "c", "path": "p"}}],
     f"stage 1 ($emit): Azure Blob Storage as a target {NOT_SUPPORTED}: emit to Kafka or $merge into MongoDB at container"),
    ("emit with a schema registry", [KAFKA, {"$emit": {"connectionName": "k", "topic": "o", "schemaRegistry": {"connectionName": "r"}}}],
     f"stage 1 ($emit): schemaRegistry (Avro output) {NOT_SUPPORTED}: emit JSON (config.outputFormat) at schemaRegistry"),
    ("source with a schema registry", [{"$source": {"connectionName": "k", "topic": "t", "schemaRegistry": {"connectionName": "r"}}}],
     f"stage 0 ($source): schemaRegistry (Avro payloads) {NOT_SUPPORTED}: produce JSON or Extended JSON messages at schemaRegistry"),
    ("Kinesis source", [{"$source": {"connectionName": "kin", "stream": "s"}}],
     f"stage 0 ($source): Kinesis as a source {NOT_SUPPORTED}: read from Kafka or a MongoDB change stream at stream"),
    ("Kinesis source by its shard options", [{"$source": {"connectionName": "kin", "shardIdleTimeout": {"size": 1, "unit": "second"}}}],
     f"stage 0 ($source): Kinesis as a source {NOT_SUPPORTED}: read from Kafka or a MongoDB change stream at shardIdleTimeout"),
    ("source partitions", [{"$source": {"connectionName": "k", "topic": "t", "partitions": {"min": 1, "max": 4}}}],
     f"stage 0 ($source): partitions (Atlas's source parallelism) {NOT_SUPPORTED}: run more Bytewax workers (-w) instead "
     "at partitions"),
]  # fmt: skip


@pytest.mark.parametrize(("pipeline", "message"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_validate_refuses_what_sluice_cannot_run(pipeline, message, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "pipeline.json"
    path.write_text(json.dumps(pipeline))
    assert main(["validate", str(path)]) == 2
    assert capsys.readouterr().err == f"sluice: {path}: {message}\n"


def test_an_unsupported_processor_option_is_named(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "pipeline.json"
    path.write_text(json.dumps({"name": "p", "pipeline": [KAFKA], "options": {"tier": "SP30"}}))
    assert main(["validate", str(path)]) == 2
    assert capsys.readouterr().err == (
        f"sluice: {path}: pipeline: tier (the processor's size) {NOT_SUPPORTED}: "
        "size the deployment with Bytewax workers (-w) and processes at options.tier\n"
    )


@pytest.mark.parametrize(
    ("kind", "feature"),
    [
        ("gcpPubSub", "a Google Cloud Pub/Sub connection is valid in Atlas but not supported by sluice: use Kafka"),
        ("azureBlobStorage", f"a connection of type azureBlobStorage {NOT_SUPPORTED}: use Kafka or MongoDB"),
        ("kinesis", f"a connection of type kinesis {NOT_SUPPORTED}: use Kafka"),
    ],
)
def test_a_registry_connection_sluice_has_no_connector_for_is_named(kind: str, feature: str, tmp_path: Path, capsys) -> None:
    """A Pub/Sub ``$emit`` looks like a Kafka one; its connection's type is what names it."""
    pipeline, registry = tmp_path / "pipeline.json", tmp_path / "connections.json"
    pipeline.write_text(json.dumps([KAFKA, {"$emit": {"connectionName": "x", "topic": "o"}}]))
    registry.write_text(json.dumps({"connections": {"x": {"type": kind}}}))
    assert main(["validate", str(pipeline), "--connections", str(registry)]) == 2
    assert capsys.readouterr().err == f"sluice: {registry}: connection 'x': {feature}\n"


def test_every_stage_sluice_knows_is_built_or_refused_by_name() -> None:
    """A stage in the field table without a planner would reach "not built yet"; today none does."""
    assert sorted(KNOWN_STAGES - set(STAGE_PLANNERS) - set(STAGES) - WINDOW_ONLY) == []
