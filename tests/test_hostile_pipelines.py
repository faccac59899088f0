"""Hundreds of generated malformed pipelines through ``sluice validate``: each exits 2 with one
clear line (or the documented list of problems), never a traceback, within 5 s; the valid
controls beside them still pass. The cases are built in ``hostile_cases.py``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hostile_cases import REGISTRY, malformed_cases, valid_cases
from translator.cli import main

MALFORMED = malformed_cases()
VALID = valid_cases()
ROOT = Path(__file__).resolve().parent.parent
# After the first line, a multi-problem answer lists one located problem a line.
MORE_PROBLEMS = re.compile(r"(stage \d+ \(\$?\w+\)|pipeline): .+|\.\.\. and \d+ more")
LIMIT_SECONDS = 5


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile")
    (path / "registry.json").write_text(json.dumps(REGISTRY))
    return path


def validate(workdir: Path, data: bytes, capsys: pytest.CaptureFixture) -> tuple[int, str, str, float]:
    pipeline = workdir / "pipeline.json"
    pipeline.write_bytes(data)
    start = time.monotonic()
    code = main(["validate", str(pipeline), "--connections", str(workdir / "registry.json")])
    elapsed = time.monotonic() - start
    captured = capsys.readouterr()
    return code, captured.out, captured.err, elapsed


def assert_refused_clearly(code: int, out: str, err: str, elapsed: float) -> None:
    assert "Traceback" not in err
    assert code == 2, err
    assert out == ""
    first, *rest = err.rstrip("\n").split("\n")
    assert first.startswith("sluice: ") and len(first) > len("sluice: ") + 10, err
    assert all(MORE_PROBLEMS.fullmatch(line) for line in rest), err
    assert elapsed < LIMIT_SECONDS


def test_the_table_is_large_and_covers_every_family() -> None:
    assert len(MALFORMED) >= 300
    families = {name.split()[0] for name, _ in MALFORMED}
    assert {"wrong-type", "number", "encoding", "nesting", "huge", "ejson", "duplicate", "options", "unsupported"} <= families
    assert len({name for name, _ in MALFORMED}) == len(MALFORMED)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("data", [data for _, data in MALFORMED], ids=[name for name, _ in MALFORMED])
def test_malformed_pipeline_exits_2_with_one_clear_line(data: bytes, workdir: Path, capsys: pytest.CaptureFixture) -> None:
    assert_refused_clearly(*validate(workdir, data, capsys))


@pytest.mark.timeout(30)
@pytest.mark.parametrize("data", [data for _, data in VALID], ids=[name for name, _ in VALID])
def test_valid_control_still_validates(data: bytes, workdir: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, err, elapsed = validate(workdir, data, capsys)
    assert (code, err) == (0, "")
    assert "valid" in out
    assert elapsed < LIMIT_SECONDS


def test_messages_name_the_file_the_stage_and_the_field(workdir: Path, capsys: pytest.CaptureFixture) -> None:
    cases = dict(MALFORMED)
    code, _, err, _ = validate(workdir, cases["number $tumblingWindow.interval.size=NaN ms"], capsys)
    assert err == f"sluice: {workdir / 'pipeline.json'}: stage 1 ($tumblingWindow): expected a finite number; got nan at interval.size\n"
    _, _, err, _ = validate(workdir, cases["options typo DLQ"], capsys)
    assert "unknown option 'DLQ'; did you mean 'dlq'? at options.DLQ" in err
    _, _, err, _ = validate(workdir, cases["unsupported $externalFunction"], capsys)
    assert "stage 1 ($externalFunction): $externalFunction is valid in Atlas but not supported by sluice: " in err
    _, _, err, _ = validate(workdir, cases["nesting $add 200"], capsys)
    assert "stage 1 ($addFields): objects and arrays nested more than 150 levels deep at b.$add.0" in err
    _, _, err, _ = validate(workdir, cases["duplicate in $merge.into"], capsys)
    assert "stage 1 ($merge): duplicate field 'db' at into" in err
    _, _, err, _ = validate(workdir, cases["encoding latin-1"], capsys)
    assert "is not UTF-8 text (byte 0xeb at offset" in err


SUBPROCESS_CASES = ("encoding utf-16", "nesting raw brackets 100000", "options typo DLQ", "number $merge.parallelism=NaN")


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_the_real_command_refuses_without_a_traceback(name: str, workdir: Path) -> None:
    pipeline = workdir / f"{name.replace(' ', '_').replace('$', '')}.json"
    pipeline.write_bytes(dict(MALFORMED)[name])
    command = [sys.executable, "-m", "translator.cli", "validate", str(pipeline), "--connections", str(workdir / "registry.json")]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    assert_refused_clearly(done.returncode, done.stdout, done.stderr, 0)
    assert done.stderr.count("\n") == 1


def test_an_internal_error_is_one_line_and_sluice_debug_adds_the_traceback(
    workdir: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import translator.cli

    def broken(pipeline, registry, **options):  # stands in for a bug anywhere under `sluice process`
        raise TypeError("unsupported operand type(s) for +: 'int' and 'str'")

    monkeypatch.setattr(translator.cli, "process", broken)
    pipeline = workdir / "ok.json"
    pipeline.write_text(json.dumps([{"$source": {"documents": [{"a": 1}]}}]))
    assert main(["process", str(pipeline)]) == 1
    err = capsys.readouterr().err
    assert err == (
        "sluice: internal error: TypeError: unsupported operand type(s) for +: 'int' and 'str' "
        "(run with SLUICE_DEBUG=1 for the traceback)\n"
    )
    monkeypatch.setenv("SLUICE_DEBUG", "1")
    assert main(["process", str(pipeline)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and err.endswith("(run with SLUICE_DEBUG=1 for the traceback)\n")
