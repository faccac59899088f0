"""Atlas Stream Processing features sluice does not run, refused by name when a pipeline is planned.

Valid Atlas definitions must never lose a feature silently, so each one is named with what to
do instead. The table is the only place that knows them: a feature sluice learns leaves by
deleting its entry.
"""

from __future__ import annotations

from translator.errors import SpecError

TO_KAFKA = "emit to Kafka or $merge into MongoDB and let a separate consumer do it"
STAGES = {
    "$externalFunction": f"call AWS Lambda outside the processor: {TO_KAFKA}",
    "$iceberg": f"write Iceberg tables outside the processor: {TO_KAFKA}",
}
# Fields of a stage, by stage: each names an Atlas target or option sluice has no connector for.
STAGE_FIELDS = {
    "$source": {
        "schemaRegistry": "schemaRegistry (Avro payloads): produce JSON or Extended JSON messages",
        "partitions": "partitions (Atlas's source parallelism): run more Bytewax workers (-w) instead",
        "stream": "Kinesis as a source: read from Kafka or a MongoDB change stream",
        "shardIdleTimeout": "Kinesis as a source: read from Kafka or a MongoDB change stream",
        "consumerARN": "Kinesis as a source: read from Kafka or a MongoDB change stream",
    },
    "$emit": {
        "schemaRegistry": "schemaRegistry (Avro output): emit JSON (config.outputFormat)",
        "stream": "Kinesis as a target: emit to Kafka",
        "partitionKey": "Kinesis as a target: emit to Kafka",
        "bucket": "S3 as a target: emit to Kafka or $merge into MongoDB",
        "path": "S3 as a target: emit to Kafka or $merge into MongoDB",
        "region": "S3 as a target: emit to Kafka or $merge into MongoDB",
        "container": "Azure Blob Storage as a target: emit to Kafka or $merge into MongoDB",
    },
}
# Connection types of an Atlas connection registry that sluice has no connector for (a Pub/Sub
# $emit is shaped like a Kafka one: its connection's type is what names it).
CONNECTION_TYPES = {
    "s3": "a connection of type s3: use Kafka or MongoDB",
    "kinesis": "a connection of type kinesis: use Kafka",
    "awslambda": "a connection of type awsLambda ($externalFunction): use Kafka or MongoDB",
    "azureblobstorage": "a connection of type azureBlobStorage: use Kafka or MongoDB",
    "azureeventhubs": "a connection of type azureEventHubs: use its Kafka endpoint as a kafka connection",
    "gcppubsub": "a Google Cloud Pub/Sub connection: use Kafka",
    "pubsub": "a Google Cloud Pub/Sub connection: use Kafka",
    "schemaregistry": "a schema registry connection (Avro): use JSON or Extended JSON payloads",
}
# Processor options Atlas takes at creation or start that mean nothing to one sluice process.
OPTIONS = {
    "tier": "tier (the processor's size): size the deployment with Bytewax workers (-w) and processes",
    "autoscaling": "autoscaling: size the deployment with Bytewax workers (-w) and processes",
    "enableAutoScaling": "autoscaling: size the deployment with Bytewax workers (-w) and processes",
    "startAfter": "startAfter as a start option: give it in $source.config.startAfter",
    "startAtOperationTime": "startAtOperationTime as a start option: give it in $source.config.startAtOperationTime",
    "resumeFromCheckpoint": "resumeFromCheckpoint: resume with Bytewax recovery (-r) instead",
}


def refusal(what: str) -> str:
    """``what`` is "<feature>: <what to do>"; the sentence every refusal shares."""
    feature, _, advice = what.partition(": ")
    return f"{feature} is valid in Atlas but not supported by sluice: {advice}"


def check_stage(name: str, spec: object) -> None:
    """Raise SpecError naming the first unsupported feature a stage uses."""
    if name in STAGES:
        raise SpecError(refusal(f"{name}: {STAGES[name]}"))
    fields = STAGE_FIELDS.get(name, {})
    for field in spec if type(spec) is dict else ():
        if field in fields:
            raise SpecError(refusal(fields[field]), (field,))
