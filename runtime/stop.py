"""Clean stops: SIGTERM or SIGINT ends every source partition, so the run finishes cleanly.

Bytewax runs Python's signal handlers from its worker loop; a handler that raises aborts the
dataflow mid-epoch (a Rust panic, nothing flushed, no last snapshot). These handlers only
record the request. Each source partition then ends at its next ``next_batch`` (see
:func:`end_partition_if_stopping`), and Bytewax ends a partition the clean way: the batch
already emitted goes through every step, the EOF epoch is snapshotted when recovery is on,
sinks write and close (flushing), and the run returns. Window engines keep their open windows
for the next run instead of closing them early (:func:`stopping`). A second signal exits at
once.

A member of a cluster whose peer died exits 1 with one line (every member must then restart,
see the README). Exit status: 0 after SIGTERM, 130 after SIGINT (``sluice process`` raises KeyboardInterrupt,
``python -m bytewax.run`` gets it through :func:`install`'s exit hook).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator

__all__ = ["end_partition_if_stopping", "handling_signals", "install", "interrupted", "stopping"]

_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_requested = threading.Event()
_received: list[int] = []  # the signals received, in order


def stopping() -> bool:
    """True once a stop was requested: sources end their partitions, windows stay open."""
    return _requested.is_set()


def interrupted() -> bool:
    """True when the stop came from SIGINT (Ctrl-C): the run must exit 130."""
    return bool(_received) and _received[0] == signal.SIGINT


def end_partition_if_stopping() -> None:
    """Called first in every source partition's ``next_batch``: EOF once a stop is requested."""
    if _requested.is_set():
        raise StopIteration


def _on_signal(signum: int, _frame: object) -> None:
    _received.append(signum)
    if len(_received) > 1:
        os._exit(128 + signum)  # the user insists: no flush, no snapshot
    _requested.set()
    name = signal.Signals(signum).name
    print(
        f"sluice: {name} received; stopping cleanly (finishing the batch in flight, flushing sinks, "
        "last checkpoint); send it again to exit at once",
        file=sys.stderr,
        flush=True,
    )


def _finish_clean_stop() -> None:
    """atexit hook: after a stop request, flush the output while the handlers still stand.

    A flush blocked on a full pipe then still yields to a second signal (at interpreter
    shutdown the default handlers are back and the process would die by the signal instead).
    ``bytewax.run`` returns normally after a clean stop; Ctrl-C still means 130.
    """
    if not stopping():
        return
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    if interrupted():
        os._exit(130)


def _report_lost_peer(kind: type, error: BaseException, trace: object) -> None:
    """sys.excepthook: a cluster member that lost a peer says so in one line and exits 1."""
    if "Send thread panic" in str(error) or "Receive thread panic" in str(error):
        print(
            "sluice: lost a member of the cluster; stopping: restart every member, they resume from the recovery store",
            file=sys.stderr,
        )
        return
    sys.__excepthook__(kind, error, trace)


def install() -> None:
    """Handle SIGTERM and SIGINT for the rest of this process (``python -m bytewax.run``)."""
    for signum in _SIGNALS:
        signal.signal(signum, _on_signal)
    atexit.register(_finish_clean_stop)
    sys.excepthook = _report_lost_peer


@contextlib.contextmanager
def handling_signals() -> Iterator[None]:
    """Handle SIGTERM and SIGINT during one run in this process, then restore what was there.

    Outside the main thread (where Python cannot take signals) it changes nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in _SIGNALS}
    _requested.clear()
    _received.clear()
    for signum in _SIGNALS:
        signal.signal(signum, _on_signal)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _requested.clear()
