"""When a processor under recovery first started, kept beside its recovery partitions.

Bytewax commits a first checkpoint only when the first epoch closes. A run killed before
that leaves nothing to resume from, and a restart that began "now" would skip every event
since the first start. So the first run records its start in the recovery directory, and
every run whose sources have no checkpoint begins there (replayed events are skipped by
idempotent sinks; missed ones could never be recovered).

The record names the recovery store it belongs to (the creation row Bytewax writes into
each partition), so partitions initialised afresh start afresh.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from datetime import datetime, timezone
from pathlib import Path

RECORD = "sluice-start.json"


def recovery_directory(argv: list[str] | None = None) -> Path | None:
    """The ``-r``/``--recovery-directory`` that ``python -m bytewax.run`` was given, if any."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("-r", "--recovery-directory", default=os.environ.get("BYTEWAX_RECOVERY_DIRECTORY"))
    known, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    return Path(known.recovery_directory) if known.recovery_directory else None


def _store_identity(directory: Path) -> str | None:
    """The creation row of the directory's first partition: it changes when partitions are made anew."""
    parts = sorted(directory.glob("part-*.sqlite3"))
    if not parts:
        return None
    with sqlite3.connect(f"file:{parts[0]}?mode=ro", uri=True) as db:
        row = db.execute("SELECT created_at, part_index, part_count FROM parts ORDER BY part_index LIMIT 1").fetchone()
    return None if row is None else json.dumps(row)


def first_start(directory: Path, now: datetime | None = None) -> datetime | None:
    """When the processor recovering from ``directory`` first started: recorded now on its first run.

    The processes of a cluster may race on a shared directory: the first to link its record wins
    and the others read it. None when the directory holds no recovery partitions.
    """
    store = _store_identity(directory)
    if store is None:
        return None
    record = directory / RECORD
    try:
        found = json.loads(record.read_text())
    except FileNotFoundError:
        found = None
    if found is not None and found.get("store") == store:
        return datetime.fromisoformat(found["start"])
    started = now or datetime.now(timezone.utc)
    draft = directory / f"{RECORD}.{os.getpid()}"
    draft.write_text(json.dumps({"start": started.isoformat(), "store": store}))
    try:
        if found is not None:  # from an older store
            record.unlink(missing_ok=True)
        os.link(draft, record)
    except FileExistsError:
        pass  # another process linked its record first: the one read below
    finally:
        draft.unlink(missing_ok=True)
    return datetime.fromisoformat(json.loads(record.read_text())["start"])
