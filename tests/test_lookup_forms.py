"""``$lookup`` without a collection (a ``pipeline`` starting with ``$documents``, run in
process), and ``$lookup``/``$cachedLookup`` inside window pipelines, against SecantusDB."""

from __future__ import annotations

import pytest
from pipeline_runner import run_pipeline, with_documents

from translator import plan
from translator.connections import parse_registry
from translator.errors import PipelineValidationError
from translator.parse import parse_pipeline

LOCATIONS = [{"_id": 1, "name": "a", "zip": 94301}, {"_id": 2, "name": "b", "zip": [1, 10019]}, {"_id": 3, "name": "c", "zip": 1}]
CITIES = [{"zip": 94301, "name": "Palo Alto"}, {"zip": 10019, "name": "New York"}]


def lookup_ids(lookup: dict, docs: list = LOCATIONS) -> list:
    result = run_pipeline(with_documents(docs, [{"$lookup": lookup}]))
    assert result.dead == []
    return [(doc["_id"], doc[lookup["as"]]) for doc in result.docs]


def test_documents_joined_on_local_and_foreign_field() -> None:
    """The $documents page's example: a $documents pipeline joined on zip (arrays match by element)."""
    lookup = {"localField": "zip", "pipeline": [{"$documents": CITIES}], "foreignField": "zip", "as": "city_state"}
    assert lookup_ids(lookup) == [(1, [CITIES[0]]), (2, [CITIES[1]]), (3, [])]


def test_documents_read_let_variables_and_later_stages_shape_them() -> None:
    lookup = {
        "let": {"least": "$_id"},
        "pipeline": [
            {"$documents": {"$map": {"input": [1, 2, 3], "as": "n", "in": {"n": "$$n", "above": {"$gt": ["$$n", "$$least"]}}}}},
            {"$match": {"above": True}},
            {"$project": {"_id": 0, "n": 1}},
        ],
        "as": "bigger",
    }
    assert lookup_ids(lookup) == [(1, [{"n": 2}, {"n": 3}]), (2, [{"n": 3}]), (3, [])]


def test_each_document_gets_its_own_copies() -> None:
    lookup = {"pipeline": [{"$documents": [{"x": 1}]}, {"$set": {"y": 2}}], "as": "found"}
    found = lookup_ids(lookup)
    assert found == [(1, [{"x": 1, "y": 2}]), (2, [{"x": 1, "y": 2}]), (3, [{"x": 1, "y": 2}])]
    assert found[0][1][0] is not found[1][1][0]


def test_a_failing_documents_expression_sends_the_document_to_the_dlq() -> None:
    lookup = {"let": {"items": "$items"}, "pipeline": [{"$documents": "$$items"}], "as": "found"}
    docs = [{"_id": 1, "items": [{"a": 1}]}, {"_id": 2, "items": 5}]
    result = run_pipeline(with_documents(docs, [{"$lookup": lookup}]))
    assert [(d["_id"], d["found"]) for d in result.docs] == [(1, [{"a": 1}])]
    (record,) = result.dead
    assert record["doc"]["_id"] == 2 and "$documents must give an array of objects" in record["errInfo"]["reason"]


def test_stages_after_documents_cannot_read_the_variables() -> None:
    lookup = {"let": {"v": 1}, "pipeline": [{"$documents": [{"a": 1}]}, {"$set": {"b": "$$v"}}], "as": "x"}
    with pytest.raises(PipelineValidationError, match="v"):
        plan(parse_pipeline(with_documents([{}], [{"$lookup": lookup}])))


def test_documents_lookup_runs_inside_a_window_pipeline() -> None:
    lookup = {"$lookup": {"localField": "_id", "foreignField": "k", "pipeline": [{"$documents": [{"k": "a", "label": "A"}]}], "as": "meta"}}
    window = {"$tumblingWindow": {"interval": {"size": 1, "unit": "day"}, "pipeline": [
        lookup, {"$group": {"_id": "$_id", "labels": {"$push": "$meta.label"}}},
    ]}}  # fmt: skip
    docs = [{"_id": "a"}, {"_id": "b"}]
    result = run_pipeline(with_documents(docs, [window]))
    assert sorted((d["_id"], d["labels"]) for d in result.docs) == [("a", [["A"]]), ("b", [[]])]


@pytest.mark.integration
@pytest.mark.parametrize("name", ["$lookup", "$cachedLookup"])
def test_collection_lookups_run_inside_a_window_pipeline(name: str, db, mongodb_uri) -> None:
    db.labels.insert_many([{"_id": "a", "label": "A"}, {"_id": "b", "label": "B"}])
    registry = parse_registry({"connections": {"atlas": {"type": "mongodb", "uri": mongodb_uri}}, "default": "atlas"})
    body = {"from": {"connectionName": "atlas", "db": db.name, "coll": "labels"}, "localField": "k", "foreignField": "_id", "as": "meta"}
    if name == "$cachedLookup":
        body["ttl"] = {"size": 1, "unit": "minute"}
    window = {"$tumblingWindow": {"interval": {"size": 1, "unit": "day"}, "pipeline": [
        {name: body}, {"$group": {"_id": "$k", "labels": {"$push": {"$first": "$meta.label"}}}}, {"$sort": {"_id": 1}},
    ]}}  # fmt: skip
    docs = [{"k": "a"}, {"k": "b"}, {"k": "a"}, {"k": "z"}]
    result = run_pipeline(with_documents(docs, [window]), registry)
    assert [(d["_id"], d["labels"]) for d in result.docs] == [("a", ["A", "A"]), ("b", ["B"]), ("z", [])]


def test_only_per_document_stages_follow_documents() -> None:
    lookup = {"pipeline": [{"$documents": [{"a": 1}]}, {"$group": {"_id": "$a"}}], "as": "x"}
    with pytest.raises(PipelineValidationError, match=r"\$group cannot run inside the pipeline of a \$lookup without from"):
        plan(parse_pipeline(with_documents([{}], [{"$lookup": lookup}])))
