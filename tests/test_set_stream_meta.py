"""``$setStreamMeta``: metadata set per document, read by later stages with ``$meta``; the
routing example of Atlas's $setStreamMeta page runs against SecantusDB."""

from __future__ import annotations

import pytest
from pipeline_runner import run_pipeline, with_documents, without_stream_fields

from translator.connections import parse_registry
from translator.errors import PipelineValidationError
from translator.parse import parse_pipeline
from translator import plan

DOCS = [{"_id": 1, "kind": "red"}, {"_id": 2, "kind": "blue"}]


def test_metadata_is_set_per_document_and_read_with_meta() -> None:
    stages = [
        {"$setStreamMeta": {"stream.coll": "$kind", "stream.route.shard": {"$concat": ["s-", "$kind"]}}},
        {"$project": {"coll": {"$meta": "stream.coll"}, "shard": {"$meta": "stream.route.shard"}, "type": {"$meta": "stream.source.type"}}},
    ]
    result = run_pipeline(with_documents(DOCS, stages))
    assert result.docs == [
        {"_id": 1, "coll": "red", "shard": "s-red", "type": "generated"},
        {"_id": 2, "coll": "blue", "shard": "s-blue", "type": "generated"},
    ]


def test_document_fields_are_untouched() -> None:
    result = run_pipeline(with_documents(DOCS, [{"$setStreamMeta": {"stream.coll": "$kind"}}]), keep_stream_fields=True)
    assert [without_stream_fields(doc) for doc in result.docs] == DOCS
    assert [doc["_stream_meta"] for doc in result.docs] == [
        {"source": {"type": "generated"}, "coll": "red"},
        {"source": {"type": "generated"}, "coll": "blue"},
    ]


def test_a_failing_expression_sends_the_document_to_the_dlq() -> None:
    docs = [{"_id": 1, "n": 2}, {"_id": 2, "n": 0}]
    result = run_pipeline(with_documents(docs, [{"$setStreamMeta": {"stream.share": {"$divide": [10, "$n"]}}}]))
    assert [doc["_id"] for doc in result.docs] == [1]
    (record,) = result.dead
    assert record["doc"]["_id"] == 2 and "$setStreamMeta (stage 1)" in record["errInfo"]["reason"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"coll": "$kind"}, "a $setStreamMeta key must be \"stream.<field>\" (dotted fields allowed); got 'coll'"),
        ({"stream.": 1}, "a $setStreamMeta key must be \"stream.<field>\" (dotted fields allowed); got 'stream.'"),
        ({}, '$setStreamMeta needs at least one "stream.<field>": <expression>'),
    ],
)
def test_bad_keys_are_refused_at_validate(spec: dict, message: str) -> None:
    with pytest.raises(PipelineValidationError) as caught:
        plan(parse_pipeline(with_documents(DOCS, [{"$setStreamMeta": spec}])))
    assert message in str(caught.value)


@pytest.mark.integration
def test_atlas_example_routes_merge_by_metadata(db, mongodb_uri) -> None:
    """https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-setstreammeta/#examples"""
    registry = parse_registry({"connections": {"atlas": {"type": "mongodb", "uri": mongodb_uri}}, "default": "atlas"})
    db.products.insert_many([{"_id": "A", "name": "Laptop", "category": "tech"}, {"_id": "B", "name": "Shirt", "category": "clothing"}])
    orders = [{"orderId": 1, "productId": "A", "qty": 2}, {"orderId": 2, "productId": "B", "qty": 1}, {"orderId": 3, "productId": "A", "qty": 5}]
    pipeline = with_documents(
        orders,
        [
            {"$lookup": {"from": {"connectionName": "atlas", "db": db.name, "coll": "products"}, "localField": "productId", "foreignField": "_id", "as": "product"}},
            {"$unwind": "$product"},
            {"$setStreamMeta": {"stream.coll": "$product.category"}},
            {"$unset": ["product"]},
            {"$merge": {"into": {"connectionName": "atlas", "db": db.name, "coll": {"$meta": "stream.coll"}}}},
        ],
    )
    run_pipeline(pipeline, registry)
    shape = {"_id": 0, "orderId": 1, "productId": 1, "qty": 1}
    assert list(db.tech.find({}, shape).sort("orderId")) == [orders[0], orders[2]]
    assert list(db.clothing.find({}, shape)) == [orders[1]]
