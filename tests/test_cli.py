"""The ``sluice`` command and ``flows.pipeline`` as users run them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from runtime import ejson
from translator.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SLUICE = [sys.executable, "-m", "translator.cli"]


def write(tmp_path: Path, name: str, value: object) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(value))
    return str(path)


@pytest.mark.parametrize("example", sorted(path.name for path in EXAMPLES.glob("*.json")))
def test_seed_and_example_pipelines_validate_verbatim(example: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["validate", str(EXAMPLES / example)]) == 0
    assert "valid" in capsys.readouterr().out


def test_translate_shows_fusion_and_steps(capsys: pytest.CaptureFixture) -> None:
    assert main(["translate", str(EXAMPLES / "solar.json")]) == 0
    out = capsys.readouterr().out
    assert "step 01_match+02_addFields+03_project (fused: 3 stages, one batch step)" in out
    assert "stage 0 $source: solar readings" in out
    assert "step output" in out


def test_translate_graph_is_mermaid(capsys: pytest.CaptureFixture) -> None:
    assert main(["translate", str(EXAMPLES / "solar.json"), "--graph"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("flowchart LR")
    assert "s0 --> s1" in out


def test_process_prints_documents_and_dead_letters(tmp_path: Path) -> None:
    pipeline = write(
        tmp_path,
        "p.json",
        {
            "name": "ratios",
            "pipeline": [
                {"$source": {"documents": [{"a": 4, "b": 2}, {"a": 1, "b": 0}, {"a": 9, "b": 3}]}},
                {"$project": {"_id": 0, "ratio": {"$divide": ["$a", "$b"]}}},
            ],
        },
    )
    done = subprocess.run([*SLUICE, "process", pipeline], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert [ejson.loads(line)["ratio"] for line in done.stdout.splitlines()] == [2.0, 3.0]
    (dead,) = [ejson.loads(line) for line in done.stderr.splitlines()]
    assert dead["doc"]["a"] == 1
    assert dead["errInfo"]["reason"] == "$project (stage 1): can't $divide by zero"
    assert dead["processorName"] == "ratios"


def test_unbuilt_connection_without_registry_fails_clearly(capsys: pytest.CaptureFixture) -> None:
    assert main(["process", str(EXAMPLES / "high_value_sales.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"sluice: {EXAMPLES / 'high_value_sales.json'}: stage 0 ($source): no connectionName given and the registry names no default connection")
    assert "Traceback" not in err


def test_credentials_never_printed(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    registry = write(
        tmp_path,
        "c.json",
        {"connections": {"m": {"type": "mongodb", "uri": "mongodb://alice:s3cret@db.example:27017/"}}, "default": "m"},
    )
    pipeline = write(tmp_path, "p.json", [{"$source": {"connectionName": "m", "topic": "t"}}])
    assert main(["validate", pipeline, "--connections", registry]) == 2
    err = capsys.readouterr().err
    assert "connection 'm' is of type mongodb, but these fields describe a kafka source" in err
    assert "s3cret" not in err


def test_registry_substitutes_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from translator.connections import load_registry

    monkeypatch.setenv("SLUICE_TEST_BROKERS", "127.0.0.1:1234")
    path = write(tmp_path, "c.json", {"connections": {"k": {"type": "kafka", "bootstrapServers": "${SLUICE_TEST_BROKERS}"}}})
    assert load_registry(path).connections["k"]["bootstrapServers"] == "127.0.0.1:1234"


def test_registry_names_a_missing_environment_variable(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    registry = write(tmp_path, "c.json", {"connections": {"k": {"type": "kafka", "bootstrapServers": "${SLUICE_NOT_SET_ANYWHERE}"}}})
    assert main(["validate", str(EXAMPLES / "solar.json"), "--connections", registry]) == 2
    assert "environment variable SLUICE_NOT_SET_ANYWHERE is not set" in capsys.readouterr().err


def test_not_json_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "broken.json"
    path.write_text('[{"$source": ')
    assert main(["validate", str(path)]) == 2
    assert f"sluice: {path} is not valid Extended JSON" in capsys.readouterr().err


def test_bytewax_run_executes_a_pipeline_file(tmp_path: Path) -> None:
    registry = write(tmp_path, "c.json", {"connections": {"sample_stream_solar": {"type": "sample_stream_solar", "rate": 5000, "limit": 50}}})
    pipeline = write(
        tmp_path,
        "p.json",
        [{"$source": {"connectionName": "sample_stream_solar"}}, {"$project": {"_id": 0, "_stream_meta": 0, "device_id": 1}}],
    )
    env = {**os.environ, "SLUICE_PIPELINE": pipeline, "SLUICE_CONNECTIONS": registry}
    done = subprocess.run(
        [sys.executable, "-m", "bytewax.run", "flows.pipeline"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = [ejson.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == 50
    assert all(set(doc) == {"device_id"} and doc["device_id"].startswith("device_") for doc in lines)


def test_sample_stream_is_deterministic_for_a_seed() -> None:
    from datetime import datetime, timezone

    from connectors.sample_solar import solar_reading

    now = datetime(2024, 1, 1, tzinfo=timezone.utc)
    assert solar_reading(42, 7, now) == solar_reading(42, 7, now)
    assert solar_reading(42, 7, now) != solar_reading(43, 7, now)
    reading = solar_reading(1, 0, now)
    assert set(reading) == {"device_id", "group_id", "timestamp", "max_watts", "event_type", "obs"}
    assert set(reading["obs"]) == {"watts", "temp"}


def test_ctrl_c_stops_an_endless_pipeline() -> None:
    env = {**os.environ, "RUST_BACKTRACE": "1"}
    command = [*SLUICE, "process", str(EXAMPLES / "solar.json")]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    first = proc.stdout.readline()  # blocks until the flow runs (bounded by pytest's timeout)
    assert ejson.loads(first)["device_id"].startswith("device_")
    proc.send_signal(signal.SIGINT)
    # communicate() drains stdout: a full pipe would otherwise block the flow it waits for.
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert err.startswith("sluice: SIGINT received") and err.count("\n") == 1, err
