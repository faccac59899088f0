"""Credentials never shown: one table of credential forms through ``redact``, ``validate``,
``translate``, retry warnings, ``process`` failures and DLQ records (contract C3)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest

from connectors.mongodb_support import connect, redact, retry_transient
from runtime.redaction import install_log_redaction
from translator.cli import main

ROOT = Path(__file__).resolve().parent.parent
SLUICE = [sys.executable, "-m", "translator.cli"]
# (text holding a credential, the secret parts that must never be shown)
CREDENTIAL_FORMS = [
    ("mongodb://alice:hunter2 secret@db.example:27017/", ["hunter2 secret", "hunter2"]),
    ("mongodb://alice:hun\tter2x@db.example:27017/", ["hun\tter2x", "ter2x"]),
    ("mongodb://alice:p@ssw0rd@db.example:27017/", ["p@ssw0rd", "ssw0rd"]),
    ("mongodb://alice:p%40ss%20w0rd@db.example:27017/", ["p%40ss%20w0rd", "w0rd"]),
    ("mongodb+srv://alice:s3cr3tpw@cluster0.example.net/?retryWrites=true", ["s3cr3tpw"]),
    ("mongodb://db.example:27017/?authSource=admin&password=hunter2q&w=1", ["hunter2q"]),
    ("mongodb%3A%2F%2Falice%3Ahunter2z%40db.example%3A27017", ["hunter2z"]),
    ("{'sasl.password': 'kafka pass'}", ["kafka pass"]),
    ("sasl.password=kafkapass1", ["kafkapass1"]),
    ("alice:brokerpass@broker.example:9092,b2.example:9092", ["brokerpass"]),
    ('{"clientKeyPassword": "keypass12"}', ["keypass12"]),
]
MONGODB_URIS = [text for text, _ in CREDENTIAL_FORMS if text.startswith("mongodb")]


def secrets_of(text: str) -> list[str]:
    return next(secrets for form, secrets in CREDENTIAL_FORMS if form == text)


def assert_hidden(output: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in output, f"{secret!r} shown in {output!r}"


@pytest.mark.parametrize(("text", "secrets"), CREDENTIAL_FORMS)
def test_redact_hides_every_credential_form(text: str, secrets: list[str]) -> None:
    shown = redact(f"connecting to {text} failed: timed out")
    assert_hidden(shown, secrets)
    assert "***" in shown and shown.endswith("failed: timed out")


def test_redact_keeps_what_holds_no_credential() -> None:
    text = "mongodb://db.example:27017/?replicaSet=rs0: [Errno 111] Connection refused; resume token kept"
    assert redact(text) == text


def write(tmp_path: Path, name: str, value: object) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(value))
    return str(path)


KAFKA_ENTRIES = [
    ({"type": "kafka", "bootstrapServers": "b.example:9092", "config": {"sasl.password": "kafka pass"}}, ["kafka pass"]),
    ({"type": "kafka", "bootstrapServers": "alice:brokerpass@broker.example:9092"}, ["brokerpass"]),
    ({"type": "kafka", "bootstrapServers": "b.example:9092", "authentication": {"mechanism": "PLAIN", "username": "u", "password": "authpass9"}}, ["authpass9"]),
    ({"type": "kafka", "bootstrapServers": "b.example:99999", "security": {"clientKeyPassword": "keypass12"}}, ["keypass12"]),
]


@pytest.mark.parametrize("uri", MONGODB_URIS)
@pytest.mark.parametrize("command", ["validate", "translate"])
def test_validate_and_translate_never_show_a_mongodb_credential(
    uri: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    registry = write(tmp_path, "c.json", {"connections": {"m": {"type": "mongodb", "uri": uri}}, "default": "m"})
    for pipeline in (
        [{"$source": {"connectionName": "m", "topic": "t"}}],  # a kafka source on a mongodb connection
        [{"$source": {"documents": [{"a": 1}]}}, {"$merge": {"into": {"connectionName": "m", "db": "d", "coll": "c"}}}],
    ):
        main([command, write(tmp_path, "p.json", pipeline), "--connections", registry])
        captured = capsys.readouterr()
        assert_hidden(captured.out + captured.err, secrets_of(uri))


@pytest.mark.parametrize(("entry", "secrets"), KAFKA_ENTRIES)
def test_validate_never_shows_a_kafka_credential(entry: dict, secrets: list[str], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    registry = write(tmp_path, "c.json", {"connections": {"k": entry}})
    pipeline = write(tmp_path, "p.json", [{"$source": {"connectionName": "k", "db": "d", "coll": "c"}}])
    assert main(["validate", pipeline, "--connections", registry]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("sluice: ") and captured.err.count("\n") == 1
    assert_hidden(captured.err, secrets)


def test_retry_warnings_hide_the_password_and_the_uri_timeout_is_respected(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    uri = "mongodb://alice:pa ss w0rd@127.0.0.1:9/?serverSelectionTimeoutMS=100"
    client = connect(uri)
    start = time.monotonic()
    with caplog.at_level(logging.WARNING), pytest.raises(ConnectionError) as failure:
        retry_transient(lambda: client.admin.command("ping"), uri, timeout=0.8)
    client.close()
    assert time.monotonic() - start < 4  # the URI's 100 ms, not sluice's 5 s default
    assert "retrying" in caplog.text
    assert_hidden(caplog.text + redact(str(failure.value)), ["pa ss w0rd", "w0rd"])


def pipeline_file(tmp_path: Path, pipeline: list) -> str:
    return write(tmp_path, "p.json", {"name": "redaction", "pipeline": pipeline})


@pytest.mark.integration
def test_a_server_refusing_the_credentials_is_one_redacted_line(tmp_path: Path, mongodb_uri: str) -> None:
    uri = mongodb_uri.replace("mongodb://", "mongodb://alice:pa ss w0rd@", 1) + "&serverSelectionTimeoutMS=2000"
    registry = write(tmp_path, "c.json", {"connections": {"m": {"type": "mongodb", "uri": uri}}, "default": "m"})
    pipeline = pipeline_file(tmp_path, [{"$source": {"documents": [{"a": 1}]}}, {"$merge": {"into": {"db": "d", "coll": "c"}}}])
    done = subprocess.run(
        [*SLUICE, "process", pipeline, "--connections", registry],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False, env={**_env(), "RUST_BACKTRACE": "1"},
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("sluice: processor failed: ") and done.stderr.count("\n") == 1, done.stderr
    assert "authentication failed" in done.stderr.lower()
    assert "panicked" not in done.stderr and "Traceback" not in done.stderr
    assert_hidden(done.stderr, ["pa ss w0rd", "w0rd"])


def test_dlq_records_hide_credentials_in_their_reason(tmp_path: Path) -> None:
    uri = "mongodb://alice:dlqsecret1@db.example:27017/"
    pipeline = pipeline_file(
        tmp_path, [{"$source": {"documents": [{"u": uri}]}}, {"$addFields": {"n": {"$toInt": "$u"}}}]
    )
    done = subprocess.run([*SLUICE, "process", pipeline], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    (record,) = [json.loads(line) for line in done.stderr.splitlines()]
    assert "$convert" in record["errInfo"]["reason"] and "***@db.example" in record["errInfo"]["reason"]
    assert "dlqsecret1" not in record["errInfo"]["reason"]


def test_a_closed_stdout_ends_quietly(tmp_path: Path) -> None:
    registry = write(tmp_path, "c.json", {"connections": {"sample_stream_solar": {"type": "sample_stream_solar", "rate": 100000}}})
    command = [*SLUICE, "process", str(ROOT / "examples" / "solar.json"), "--connections", registry]
    reader = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env={**_env(), "RUST_BACKTRACE": "1"}
    )
    assert reader.stdout is not None and reader.stderr is not None
    lines = [reader.stdout.readline() for _ in range(3)]
    assert all(line.startswith(b"{") for line in lines)
    reader.stdout.close()  # as `| head -3` does
    assert reader.wait(timeout=60) == 0
    assert reader.stderr.read() == b""


def _env() -> dict:
    import os

    return dict(os.environ)
