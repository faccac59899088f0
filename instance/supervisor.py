"""One started processor: a cluster of ``python -m bytewax.run flows.pipeline`` processes, supervised.

Bytewax cannot survive losing a member of a cluster, so when any process exits the others are
stopped and the whole cluster starts again from the last checkpoint, after a backoff that doubles
with each quick failure. A processor that keeps failing, or fails in a way a restart cannot mend,
is reported failed with the last line its process wrote.

Layout of ``DIR`` (one per processor): ``pipeline.json`` (what the processes run),
``recovery/`` (the Bytewax recovery store), ``stats/`` (one stats file per process, contract C1),
``samples/`` (live samples, see :mod:`instance.sample`), ``logs/`` (each process's output).
A fresh recovery store gets the processor's start as its first start (``runtime.start``), so
a run without a checkpoint, the first one included, reads the change events since.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

from bytewax.recovery import init_db_dir

from runtime import ejson
from runtime.redaction import redact
from runtime.start import first_start
from runtime.stats import merge_stats, with_earlier_runs

log = logging.getLogger("sluice.instance")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
RECOVERY_PARTITIONS = 8  # fixed when the store is created: the most worker processes a processor may have
SNAPSHOT_SECONDS = 1
STOP_TIMEOUT_SECONDS = 30.0
BACKOFF_SECONDS, BACKOFF_MAX_SECONDS = 0.5, 30.0
MAX_QUICK_FAILURES = 5  # restarts in a row, each after less than HEALTHY_SECONDS of running
HEALTHY_SECONDS = 60.0
# Failures a restart cannot mend: the change stream's resume point is gone from the oplog.
PERMANENT_FAILURES = ("ChangeStreamHistoryLost", "resume point may no longer be in the oplog")
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Layout:
    """Where one processor keeps its files."""

    root: Path

    @property
    def pipeline_file(self) -> Path:
        return self.root / "pipeline.json"

    @property
    def recovery(self) -> Path:
        return self.root / "recovery"

    @property
    def stats(self) -> Path:
        return self.root / "stats"

    @property
    def samples(self) -> Path:
        return self.root / "samples"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def write_definition(self, name: str, pipeline: list, options: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        text = ejson.dumps({"name": name, "pipeline": pipeline, "options": options}, ejson.CANONICAL)
        tmp = self.pipeline_file.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.pipeline_file)

    def forget_checkpoints(self) -> None:
        shutil.rmtree(self.recovery, ignore_errors=True)
        shutil.rmtree(self.stats, ignore_errors=True)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def earlier_runs_file(self) -> Path:
        return self.stats / "earlier-runs.json"

    def earlier_runs(self) -> dict | None:
        """The counters of the runs before the current one, summed (None before a second run)."""
        try:
            return ejson.loads(self.earlier_runs_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None

    def fold_stats(self) -> None:
        """Before a run: the last run's final counters join those of the runs before it, so that
        the processor's stats count from its first start (forget_checkpoints resets them)."""
        last = self.stats_documents()
        if not last:
            return
        earlier = self.earlier_runs()
        total = with_earlier_runs(earlier, merge_stats(last)) if earlier else merge_stats(last)
        tmp = self.earlier_runs_file.with_suffix(".tmp")
        tmp.write_text(ejson.dumps(total), encoding="utf-8")
        os.replace(tmp, self.earlier_runs_file)
        for path in self.stats.glob("process-*.json"):
            path.unlink(missing_ok=True)

    def stats_documents(self) -> list[dict]:
        """The last stats document of every process (those not yet written are skipped)."""
        return [doc for _, doc in self.stats_by_process()]

    def stats_by_process(self) -> list[tuple[int, dict]]:
        found = []
        for path in sorted(self.stats.glob("process-*.json")):
            try:
                found.append((int(path.stem.split("-")[1]), ejson.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError):
                continue  # being replaced right now, or not a stats file
        return found


try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up once: the child may not load libraries
except (OSError, AttributeError):  # not Linux
    _prctl = None


def _die_with_parent() -> None:
    """In the child before exec: a SIGKILLed instance takes its processes with it (Linux)."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _last_line(path: Path) -> str:
    try:
        with open(path, "rb") as file:
            file.seek(max(0, os.path.getsize(path) - 8192))
            lines = [line.strip() for line in file.read().decode(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return redact(lines[-1])[:500] if lines else ""


class Cluster:
    """The processes of one started processor, restarted together until stopped.

    ``on_exit(error)`` is called once the cluster is over by itself: ``error`` is None when every
    process ended cleanly (a finite source ran out), else why it failed for good.
    """

    def __init__(
        self,
        layout: Layout,
        connections_file: str | None,
        workers: int,
        on_exit: Callable[[str | None], None],
        started_at: datetime | None = None,
    ) -> None:
        self.layout = layout
        self._started_at = started_at
        self._connections_file = connections_file
        self._workers = workers
        self._on_exit = on_exit
        self._procs: list[asyncio.subprocess.Process] = []
        self._stop_requested = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.restarts = 0

    def start(self) -> None:
        """Launch the cluster from the last checkpoint (the caller clears them to start fresh)."""
        self.layout.recovery.mkdir(parents=True, exist_ok=True)
        if not any(self.layout.recovery.glob("part-*.sqlite3")):
            init_db_dir(self.layout.recovery, RECOVERY_PARTITIONS)
            first_start(self.layout.recovery, now=self._started_at)
        for directory in (self.layout.stats, self.layout.samples, self.layout.logs):
            directory.mkdir(parents=True, exist_ok=True)
        self._task = asyncio.get_running_loop().create_task(self._supervise())

    @property
    def finished(self) -> bool:
        return self._task is not None and self._task.done()

    async def stop(self, force: bool = False) -> None:
        """Graceful: SIGTERM, each process finishes its batch and checkpoints (contract C2);
        ``force`` or a process still there after the timeout: SIGKILL."""
        self._stop_requested.set()
        self._signal(signal.SIGKILL if force else signal.SIGTERM)
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), STOP_TIMEOUT_SECONDS)
        except asyncio.TimeoutError:
            self._signal(signal.SIGKILL)
            await self._task

    def _signal(self, signum: int) -> None:
        for proc in self._procs:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signum)

    async def _spawn(self) -> list[asyncio.subprocess.Process]:
        self.layout.fold_stats()
        env = {
            **os.environ,
            "SLUICE_PIPELINE": str(self.layout.pipeline_file),
            "SLUICE_SAMPLE_DIR": str(self.layout.samples),
            "SLUICE_FLOW_ID": self.layout.root.name,
        }
        if self._connections_file:
            env["SLUICE_CONNECTIONS"] = self._connections_file
        command = [
            sys.executable, "-m", "bytewax.run", "flows.pipeline",
            "-r", str(self.layout.recovery), "-s", str(SNAPSHOT_SECONDS), "-b", "0",
        ]
        addresses = ";".join(f"127.0.0.1:{port}" for port in _free_ports(self._workers)) if self._workers > 1 else None
        procs = []
        for index in range(self._workers):
            cluster = ["-i", str(index), "-a", addresses] if addresses else []
            env["SLUICE_STATS_FILE"] = str(self.layout.stats / f"process-{index}.json")
            with open(self.layout.logs / f"process-{index}.log", "ab") as out:
                procs.append(
                    await asyncio.create_subprocess_exec(
                        *command, *cluster, env=dict(env), cwd=PROJECT_ROOT,
                        stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
                        start_new_session=True, preexec_fn=_die_with_parent,
                    )
                )
        return procs

    async def _supervise(self) -> None:
        quick_failures = 0
        error: str | None = None
        while not self._stop_requested.is_set():
            began = time.monotonic()
            self._procs = await self._spawn()
            if self._stop_requested.is_set():  # stop() came while the processes were launched
                self._signal(signal.SIGTERM)
            waits = {asyncio.ensure_future(proc.wait()): index for index, proc in enumerate(self._procs)}
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            if self._stop_requested.is_set():
                await asyncio.wait(waits)
                return
            first = waits[next(iter(done))]
            if self._procs[first].returncode == 0:
                # A finite source ran out: the other members end on their own, soon.
                _, pending = await asyncio.wait(waits, timeout=10)
                if not pending and all(proc.returncode == 0 for proc in self._procs):
                    self._on_exit(None)
                    return
            self._signal(signal.SIGKILL)
            await asyncio.wait(waits)
            error = _last_line(self.layout.logs / f"process-{first}.log") or f"exit status {self._procs[first].returncode}"
            log.warning("processor %s: process %d exited (%s); restarting the cluster", self.layout.root.name, first, error)
            if any(marker in error for marker in PERMANENT_FAILURES):
                break
            quick_failures = 1 if time.monotonic() - began > HEALTHY_SECONDS else quick_failures + 1
            if quick_failures > MAX_QUICK_FAILURES:
                break
            self.restarts += 1
            delay = min(BACKOFF_MAX_SECONDS, BACKOFF_SECONDS * 2 ** (quick_failures - 1))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop_requested.wait(), delay)
        if not self._stop_requested.is_set():
            self._on_exit(error or "the processor failed")
