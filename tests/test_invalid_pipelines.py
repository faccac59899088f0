"""Every malformed pipeline in tests/fixtures/invalid/ fails validation with its exact message.

Each case is a folder: ``pipeline.json`` and ``error.txt`` (the message is part of the contract).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from translator import plan
from translator.cli import main
from translator.errors import TranslateError
from translator.parse import load_pipeline

CASES = sorted((Path(__file__).parent / "fixtures" / "invalid").iterdir())


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_invalid_pipeline_message(case: Path) -> None:
    expected = (case / "error.txt").read_text().rstrip("\n")
    with pytest.raises(TranslateError) as caught:
        plan(load_pipeline(str(case / "pipeline.json")))
    assert str(caught.value) == expected


@pytest.mark.parametrize("case", CASES[:5], ids=[case.name for case in CASES[:5]])
def test_validate_command_exits_2_with_the_message(case: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["validate", str(case / "pipeline.json")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"sluice: {case / 'pipeline.json'}: {(case / 'error.txt').read_text()}"


def test_enough_cases() -> None:
    assert len(CASES) >= 40
