"""Where a flow's stats go while it runs: a file, a callback (``sluice process --stats``), Prometheus.

``SLUICE_STATS_FILE=PATH`` writes the stats document to PATH about once a second and once
more when the dataflow ends, atomically (``PATH.tmp``, then ``os.replace``), so a reader
never sees half a document. ``SLUICE_METRICS_ADDR=HOST:PORT`` serves ``/metrics``.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import Callable

from runtime.metrics import parse_address, serve_metrics
from runtime.stats import FlowStats, dumps

FILE_INTERVAL_SECONDS = 1.0


def write_stats_file(path: str, doc: dict) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as file:
        file.write(dumps(doc))
    os.replace(tmp, path)


def report_every(stats: FlowStats, seconds: float | None, report: Callable[[dict], None]) -> None:
    """Call ``report(document)`` every ``seconds`` (if given) while the flow runs, and once when it ends."""
    done = threading.Event()
    lock = threading.Lock()  # the final report must not race a periodic one

    def send() -> None:
        with lock:
            report(stats.document())

    def loop() -> None:
        while not done.wait(seconds):
            send()

    def start(_stats: FlowStats) -> None:
        threading.Thread(target=loop, name="sluice-stats", daemon=True).start()

    def finish(_stats: FlowStats) -> None:
        done.set()
        send()

    if seconds:
        stats.when_started(start)
    stats.when_finished(finish)


def report_from_environment(stats: FlowStats) -> None:
    """Install what ``SLUICE_STATS_FILE`` and ``SLUICE_METRICS_ADDR`` ask for.

    The metrics endpoint opens now, so a port in use fails before anything runs; the final
    report runs when the dataflow ends, or at the latest when the process exits. Raises
    ValueError for a malformed setting.
    """
    path = os.environ.get("SLUICE_STATS_FILE")
    address = os.environ.get("SLUICE_METRICS_ADDR")
    if path:
        report_every(stats, FILE_INTERVAL_SECONDS, lambda doc: write_stats_file(path, doc))
    if address:
        serve_metrics(stats, *parse_address(address))
    if path or address:
        atexit.register(stats.finish)
        _finish_on_uncaught(stats)


def interrupted(exc: BaseException | None) -> bool:
    """Ctrl-C, seen by Bytewax itself or raised inside one of our callbacks."""
    while exc is not None:
        if isinstance(exc, KeyboardInterrupt) or "signal received" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _finish_on_uncaught(stats: FlowStats) -> None:
    """A flow that dies of an exception (``bytewax.run`` lets it reach the top) reports ``error``;
    one stopped by Ctrl-C, ``stopped``."""
    previous = sys.excepthook

    def hook(kind, value, traceback) -> None:  # noqa: ANN001 (sys.excepthook's signature)
        stats.finish("stopped" if interrupted(value) else "error")
        previous(kind, value, traceback)

    sys.excepthook = hook
