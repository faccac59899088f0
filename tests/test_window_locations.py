"""Stages inside a window are located by the window and their place in its pipeline, at plan
time and in the DLQ: ``stage 2 ($tumblingWindow) pipeline.0 ($addFields): ...``."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from pipeline_runner import run_pipeline, with_documents

from translator import plan
from translator.errors import PipelineValidationError
from translator.parse import parse_pipeline

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _window(inner: list) -> list:
    return [{"$match": {}}, {"$tumblingWindow": {"interval": {"size": 10, "unit": "second"}, "pipeline": inner}}]


def test_a_failing_inner_stage_names_the_window_in_its_dead_letter():
    inner = [{"$addFields": {"ratio": {"$divide": ["$v", "$zero"]}}}, {"$group": {"_id": "$k", "n": {"$count": {}}}}]
    docs = [{"_ts": T0, "k": "a", "v": 1, "zero": 0}, {"_ts": T0, "k": "a", "v": 2, "zero": 1}]
    result = run_pipeline(with_documents(docs, _window(inner)))
    assert [doc["n"] for doc in result.docs] == [1]
    (record,) = result.dead
    assert record["errInfo"]["reason"].startswith("stage 2 ($tumblingWindow) pipeline.0 ($addFields): ")
    assert record["doc"]["v"] == 1


def test_a_bad_inner_stage_is_located_at_plan_time():
    inner = [{"$match": {}}, {"$addFields": {"x": {"$nope": 1}}}, {"$group": {"_id": "$k"}}]
    with pytest.raises(PipelineValidationError) as caught:
        plan(parse_pipeline(with_documents([], _window(inner))))
    (problem,) = caught.value.problems
    assert str(problem).startswith("stage 2 ($tumblingWindow) pipeline.1 ($addFields): ")
    assert problem.within == "pipeline.1 ($addFields)" and problem.field_path == "x.$nope"


def test_a_bad_inner_group_is_located_at_plan_time():
    with pytest.raises(PipelineValidationError, match=r"^stage 2 \(\$tumblingWindow\) pipeline\.0 \(\$group\): .* at x\.\$nope$"):
        plan(parse_pipeline(with_documents([], _window([{"$group": {"_id": 1, "x": {"$nope": 1}}}]))))
