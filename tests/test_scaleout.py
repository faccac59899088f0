"""Stateful stages spread over workers: the same output on 1 worker, 3 worker threads and a
two-process cluster, across a SIGKILL and a restart on another worker count; and a source
that is not Kafka getting Atlas's watermark through ``runtime.source_partitions``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from partitioned_source import free_ports
from scaleout_flow import CASES, T0

from runtime import ejson

TESTS = Path(__file__).resolve().parent
ENV = {**os.environ, "PYTHONPATH": f"{TESTS.parent}{os.pathsep}{TESTS}"}


def _command(case: str, out_dir: Path, pause: float, recovery: Path | None) -> list[str]:
    flow = f"scaleout_flow:get_flow({case!r}, {str(out_dir)!r}, pause={pause})"
    command = [sys.executable, "-m", "bytewax.run", flow]
    if recovery is not None:
        command += ["-r", str(recovery), "-s", "1", "-b", "0"]
    return command


def _start(case: str, out_dir: Path, layout: str, pause: float = 0.0, recovery: Path | None = None) -> list[subprocess.Popen]:
    """``layout``: "w1", "w3" (worker threads) or "cluster" (two processes, one worker each)."""
    out_dir.mkdir(exist_ok=True)
    command = _command(case, out_dir, pause, recovery)
    if layout == "cluster":
        addresses = ";".join(f"127.0.0.1:{port}" for port in free_ports(2))
        return [subprocess.Popen([*command, "-i", str(i), "-a", addresses], env=ENV) for i in range(2)]
    return [subprocess.Popen([*command, "-w", layout[1:]], env=ENV)]


def _run(case: str, out_dir: Path, layout: str, recovery: Path | None = None) -> list[dict]:
    processes = _start(case, out_dir, layout, recovery=recovery)
    for process in processes:
        assert process.wait(timeout=180) == 0
    return _output(out_dir)


def _output(out_dir: Path) -> list[list[dict]]:
    """Each output file's documents in order (a file is one worker's)."""
    return [[ejson.loads(line) for line in path.read_text().splitlines()] for path in sorted(out_dir.glob("out-*.jsonl"), key=os.path.getmtime)]


def _windows(files: list[list[dict]]) -> Counter:
    """Window results as a multiset: (window start s, group, total, count, max)."""
    found: Counter = Counter()
    for docs in files:
        for doc in docs:
            start = (doc["_stream_meta"]["window"]["start"] - T0).total_seconds()
            found[(start, doc["_id"], doc["total"], doc["n"], doc["top"])] += 1
    return found


def _sorted_windows(files: list[list[dict]]) -> dict:
    """Each window's groups in output order: the inner $sort defines it."""
    found: dict = {}
    for docs in files:
        for doc in docs:
            start = doc["_stream_meta"]["window"]["start"]
            found.setdefault(start, []).append((doc["_id"], doc["total"]))
    return found


def _per_owner(files: list[list[dict]]) -> dict:
    """$setWindowFields output per partition, in order: the stage defines arrival order per partition."""
    found: dict = {}
    for docs in files:
        for doc in docs:
            found.setdefault(doc["owner"], []).append((doc["_id"], doc["running"], doc["seq"]))
    return found


SUMMARIES = {"tumbling": _windows, "hopping": _windows, "session": _windows, "sorted": _sorted_windows, "setWindowFields": _per_owner}


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_output_on_one_worker_three_threads_and_two_processes(case: str, tmp_path: Path) -> None:
    summary = SUMMARIES[case]
    single = summary(_run(case, tmp_path / "w1", "w1"))
    assert single  # the run produced something to compare
    assert summary(_run(case, tmp_path / "w3", "w3")) == single
    assert summary(_run(case, tmp_path / "cluster", "cluster")) == single


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_case_spreads_its_state_over_shards(case: str) -> None:
    """The differential runs compare spread state, not one shard (``sorted`` combines per window)."""
    from translator import plan
    from translator.parse import parse_pipeline

    (_, stage) = plan(parse_pipeline([{"$source": {"documents": []}}, *CASES[case]]))
    assert stage.spec.shard_key is not None
    assert (f"{stage.stage.step_id}_combine" in stage.steps) == (case == "sorted")


@pytest.mark.parametrize("case", ["tumbling", "sorted", "setWindowFields"])
def test_sigkill_then_resume_on_another_worker_count(case: str, tmp_path: Path) -> None:
    """Killed mid-stream on 3 workers, resumed from recovery on a two-process cluster: after
    removing what was replayed, the output is the single run's (state rescaled by Bytewax)."""
    from bytewax.recovery import init_db_dir

    summary = SUMMARIES[case]
    expected = summary(_run(case, tmp_path / "reference", "w1"))
    recovery = tmp_path / "recovery"
    recovery.mkdir()
    init_db_dir(recovery, 4)
    out_dir = tmp_path / "killed"
    (first,) = _start(case, out_dir, "w3", pause=0.05, recovery=recovery)
    deadline = time.monotonic() + 120
    while first.poll() is None and time.monotonic() < deadline and sum(len(f) for f in _output(out_dir)) < 3:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    assert first.wait() == -signal.SIGKILL  # killed mid-stream, not finished
    for process in _start(case, out_dir, "cluster", recovery=recovery):
        assert process.wait(timeout=180) == 0
    files = _output(out_dir)
    if case != "tumbling":  # replayed documents (or windows) leave again, the same
        resumed = {key: list(dict.fromkeys(rows)) for key, rows in summary(files).items()}
    else:  # a replayed window repeats its result
        resumed = Counter(dict.fromkeys(summary(files), 1))
    assert resumed == expected


def test_a_silent_shard_of_a_non_kafka_source_holds_the_watermark():
    """The watermark waits for every partition the source lists, even one that sent nothing."""
    from datetime import datetime, timedelta, timezone

    from partitioned_source import ShardedDocuments

    from translator.windows.engine import window_engine_factory
    from translator.windows.spec import parse_window

    source = ShardedDocuments({"shard-a": iter, "shard-b": iter})
    spec = {"interval": {"size": 10, "unit": "second"}, "allowedLateness": 0, "pipeline": [{"$group": {"_id": "$k", "n": {"$count": {}}}}]}
    engine = window_engine_factory(parse_window("$tumblingWindow", spec), source_partitions=source.partition_ids)()
    now = datetime(2030, 1, 1, tzinfo=timezone.utc)
    docs = [{"_ts": T0 + timedelta(seconds=s), "k": "x", "_stream_meta": {"source": {"shardId": "shard-a"}}} for s in (1, 25)]
    assert engine.process(docs, now, source.partition_of(docs[0])) == []  # shard-b has said nothing
    late_b = {"_ts": T0 + timedelta(seconds=12), "k": "x", "_stream_meta": {"source": {"shardId": "shard-b"}}}
    (closed,) = engine.process([late_b], now, source.partition_of(late_b))  # the watermark is 12 now
    assert [(d["_stream_meta"]["window"]["start"], d["n"]) for d in closed] == [(T0, 1)]
