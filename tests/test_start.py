"""Where a processor under recovery begins when no checkpoint exists yet (``runtime.start``)."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from runtime.start import RECORD, first_start, recovery_directory

ROOT = Path(__file__).resolve().parent.parent
EARLIER = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def init_store(path: Path, parts: int = 1) -> Path:
    path.mkdir(exist_ok=True)
    for part in path.glob("part-*.sqlite3"):
        part.unlink()
    subprocess.run([sys.executable, "-m", "bytewax.recovery", str(path), str(parts)], check=True, cwd=ROOT)
    return path


def test_the_first_run_records_its_start_and_later_runs_read_it(tmp_path: Path) -> None:
    store = init_store(tmp_path / "recovery")
    assert first_start(store, now=EARLIER) == EARLIER
    assert first_start(store, now=EARLIER + timedelta(hours=1)) == EARLIER
    assert (store / RECORD).exists()


def test_partitions_made_anew_start_anew(tmp_path: Path) -> None:
    """Bytewax's creation row has a one-second resolution: the re-initialisation waits for the next second."""
    store = init_store(tmp_path / "recovery")
    first_start(store, now=EARLIER)
    created = datetime.now(timezone.utc).replace(microsecond=0)
    while datetime.now(timezone.utc) < created + timedelta(seconds=1):
        pass  # busy-wait well under a second: the clock must tick over once
    init_store(store)
    later = EARLIER + timedelta(days=1)
    assert first_start(store, now=later) == later


def test_no_partitions_no_start(tmp_path: Path) -> None:
    assert first_start(tmp_path) is None
    assert not (tmp_path / RECORD).exists()


def test_the_processes_of_a_cluster_agree_on_one_start(tmp_path: Path) -> None:
    store = init_store(tmp_path / "recovery", parts=2)
    code = f"from runtime.start import first_start; from pathlib import Path; print(first_start(Path({str(store)!r})).isoformat())"
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT) for _ in range(4)]
    starts = {proc.communicate(timeout=60)[0].strip() for proc in procs}
    assert len(starts) == 1
    assert [p.name for p in store.iterdir() if not p.name.startswith("part-")] == [RECORD]  # no draft left behind


def test_the_recovery_directory_comes_from_bytewax_run_arguments(monkeypatch) -> None:
    monkeypatch.delenv("BYTEWAX_RECOVERY_DIRECTORY", raising=False)
    assert recovery_directory(["flows.pipeline", "-r", "/x", "-s", "1"]) == Path("/x")
    assert recovery_directory(["flows.pipeline", "--recovery-directory", "/y"]) == Path("/y")
    assert recovery_directory(["flows.pipeline", "-w", "2"]) is None
    monkeypatch.setenv("BYTEWAX_RECOVERY_DIRECTORY", "/z")
    assert recovery_directory(["flows.pipeline"]) == Path("/z")
