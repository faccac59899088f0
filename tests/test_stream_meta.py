"""Stream metadata as Atlas keeps it: added by every source, readable with ``$meta``, and
dropped only on request (``{$project: {_stream_meta: 0}}`` or ``$unset``)."""

from __future__ import annotations

from datetime import datetime

import pytest
from pipeline_runner import run_pipeline, with_documents

GENERATED = {"source": {"type": "generated"}}


def run(stages: list) -> list:
    return run_pipeline(with_documents([{"_id": 1, "a": {"b": 2}}], stages), keep_stream_fields=True).docs


def test_sources_add_ts_and_stream_meta() -> None:
    (doc,) = run([])
    assert doc["_stream_meta"] == GENERATED
    assert type(doc["_ts"]) is datetime


def test_ts_field_name_renames_ts() -> None:
    pipeline = [{"$source": {"documents": [{"_id": 1}], "tsFieldName": "arrived"}}]
    (doc,) = run_pipeline(pipeline, keep_stream_fields=True).docs
    assert "_ts" not in doc and type(doc["arrived"]) is datetime


@pytest.mark.parametrize(
    ("stage", "kept"),
    [
        ({"$project": {"a": 1}}, True),
        ({"$project": {"x": "$a.b"}}, True),
        ({"$project": {"a": 1, "_stream_meta": 0}}, False),
        ({"$project": {"_stream_meta": 0}}, False),
        ({"$unset": "_stream_meta"}, False),
        ({"$replaceRoot": {"newRoot": "$a"}}, True),
        ({"$replaceWith": {"c": 1}}, True),
    ],
)
def test_stream_meta_goes_only_when_asked(stage: dict, kept: bool) -> None:
    (doc,) = run([stage])
    assert ("_stream_meta" in doc) is kept
    if kept:
        assert doc["_stream_meta"] == GENERATED


def test_inclusion_projection_drops_ts_like_any_field() -> None:
    (doc,) = run([{"$project": {"a": 1}}])
    assert "_ts" not in doc


def test_meta_reads_the_stream_metadata() -> None:
    (doc,) = run([{"$project": {"kind": {"$meta": "stream.source.type"}, "all": {"$meta": "stream"}}}])
    assert doc["kind"] == "generated"
    assert doc["all"] == GENERATED
