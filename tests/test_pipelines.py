"""Golden cases: each folder in tests/fixtures/pipelines/ runs through ``sluice process``'s path.

``pipeline.json`` holds the stages after the source; ``input.jsonl`` the documents a
documents source emits; ``expected.jsonl`` the output in order, in canonical Extended JSON.
The sources' ``_ts`` and ``_stream_meta`` are left out of the comparison.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from expression_cases import same
from pipeline_runner import run_pipeline, with_documents

from runtime import ejson

CASES = sorted((Path(__file__).parent / "fixtures" / "pipelines").iterdir())


def _rows(path: Path) -> list:
    return [ejson.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_golden_pipeline(case: Path) -> None:
    stages = ejson.loads((case / "pipeline.json").read_text())
    result = run_pipeline(with_documents(_rows(case / "input.jsonl"), stages))
    expected = _rows(case / "expected.jsonl")
    assert result.dead == []
    assert len(result.docs) == len(expected), result.docs
    for actual, wanted in zip(result.docs, expected):
        assert same(actual, wanted), f"got {actual!r}, expected {wanted!r}"
