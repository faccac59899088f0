"""Fault injection: signals, SIGKILLs, lost members and restarted servers, with exact results.

Every expected result is computed from the test's own input. Waits poll for a condition
with a generous deadline; nothing sleeps and hopes.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import signal
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest

from connectors import ejson
from connectors.sample_solar import solar_reading

pytestmark = pytest.mark.faults

ROOT = Path(__file__).resolve().parent.parent
PIPE_NEARLY_FULL = 65536 - io.DEFAULT_BUFFER_SIZE  # Linux's default pipe buffer, less one write


def wait_for(condition: Callable[[], object], what: str, timeout: float = 90, explain: Callable[[], str] = str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what} {explain()}")
        time.sleep(0.05)


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def flow_env(tmp_path: Path, pipeline: object, connections: dict) -> dict:
    (tmp_path / "pipeline.json").write_text(json.dumps(pipeline))
    (tmp_path / "connections.json").write_text(json.dumps({"connections": connections}))
    return {
        **os.environ,
        "SLUICE_PIPELINE": str(tmp_path / "pipeline.json"),
        "SLUICE_CONNECTIONS": str(tmp_path / "connections.json"),
        "RUST_BACKTRACE": "1",
    }


def recovery_dir(tmp_path: Path, parts: int = 1) -> str:
    path = tmp_path / "recovery"
    path.mkdir()
    subprocess.run([sys.executable, "-m", "bytewax.recovery", str(path), str(parts)], check=True, cwd=ROOT)
    return str(path)


def bytewax_run(env: dict, *flags: str, stdout=subprocess.PIPE) -> subprocess.Popen:
    command = [sys.executable, "-m", "bytewax.run", "flows.pipeline", *flags]
    return subprocess.Popen(command, stdout=stdout, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)


def assert_clean_stop(err: str, signame: str) -> None:
    """One line on stderr, the signal's; no Rust panic, no Python traceback."""
    assert err.startswith(f"sluice: {signame} received") and err.count("\n") == 1, err


SOLAR = [{"$source": {"connectionName": "sample_stream_solar"}}, {"$project": {"_ts": 0, "_stream_meta": 0, "timestamp": 0}}]


def solar(rate: int, limit: int | None = None, seed: int = 5) -> dict:
    entry = {"type": "sample_stream_solar", "rate": rate, "seed": seed}
    return {"sample_stream_solar": entry if limit is None else {**entry, "limit": limit}}


@pytest.mark.parametrize(
    ("entry", "signum", "status"),
    [
        ("bytewax.run", signal.SIGTERM, 0),
        ("bytewax.run -w 2", signal.SIGINT, 130),
        ("sluice process", signal.SIGTERM, 0),
    ],
)
def test_a_signal_stops_the_flow_cleanly(tmp_path: Path, entry: str, signum: int, status: int) -> None:
    env = flow_env(tmp_path, SOLAR, solar(rate=200))
    if entry == "sluice process":
        command = [sys.executable, "-m", "translator.cli", "process", env["SLUICE_PIPELINE"]]
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    else:
        proc = bytewax_run(env, *entry.split()[1:])
    assert ejson.loads(proc.stdout.readline())["device_id"].startswith("device_")
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == status
    assert_clean_stop(err, signal.Signals(signum).name)
    assert all(ejson.loads(line)["device_id"] for line in out.splitlines())  # no half-written line


def test_a_second_signal_forces_the_exit(tmp_path: Path) -> None:
    """The console sink blocks on a full pipe, so the clean stop cannot finish: the second signal ends it."""
    proc = bytewax_run(flow_env(tmp_path, SOLAR, solar(rate=100_000)))

    def unread() -> int:
        return int.from_bytes(fcntl.ioctl(proc.stdout.fileno(), termios.FIONREAD, b"\0\0\0\0"), "little")

    wait_for(lambda: unread() >= PIPE_NEARLY_FULL, "a full stdout pipe")
    proc.send_signal(signal.SIGTERM)
    assert proc.stderr.readline().startswith("sluice: SIGTERM received")
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM


def test_sigterm_then_restart_replays_nothing(tmp_path: Path) -> None:
    """The stop's last checkpoint covers everything emitted: a 60 s snapshot interval replays nothing."""
    limit = 3000
    env = flow_env(tmp_path, SOLAR, solar(rate=500, limit=limit))
    flags = ("-r", recovery_dir(tmp_path), "-s", "60", "-b", "0")
    out = tmp_path / "out.jsonl"
    with out.open("a") as stdout:
        proc = bytewax_run(env, *flags, stdout=stdout)
        wait_for(lambda: len(lines(out)) >= 300, "output before the stop")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0
    assert_clean_stop(err, "SIGTERM")
    first_run = len(lines(out))
    assert first_run < limit, "the stop must land mid-stream"
    with out.open("a") as stdout:
        proc = bytewax_run(env, *flags, stdout=stdout)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    expected = [solar_reading(5, n, datetime.now(timezone.utc)) for n in range(limit)]
    for reading in expected:
        del reading["timestamp"]
    assert [ejson.loads(line) for line in lines(out)] == expected
