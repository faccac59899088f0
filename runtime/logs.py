"""Log lines on stderr: Python's usual text by default, one JSON object per line with ``SLUICE_LOG_FORMAT=json``.

A JSON line carries ``time``, ``level``, ``processor``, ``worker`` (the Bytewax worker index,
when the line comes from a worker thread), ``stage`` (when the caller passes
``extra={"stage": ...}``), ``message``, any other ``extra`` fields, and ``error`` for an
exception. Every string goes through the ``redact`` function given, so no credential in a
connection string reaches the log.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import datetime, timezone
from typing import Any, Callable

from runtime.stats import current_worker_index

FORMATS = ("text", "json")
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def __init__(self, processor: str, redact: Callable[[str], str]) -> None:
        super().__init__()
        self.processor = processor
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "processor": self.processor,
            "worker": current_worker_index(),
            "logger": record.name,
            "message": self.redact(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD:
                entry[key] = self.redact(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["error"] = self.redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=lambda value: self.redact(str(value)))


def configure_logging(processor: str, redact: Callable[[str], str]) -> None:
    """Apply ``SLUICE_LOG_FORMAT`` (``text``, the default, or ``json``) to the root logger, once per process."""
    wanted = os.environ.get("SLUICE_LOG_FORMAT", "text")
    if wanted not in FORMATS:
        msg = f"SLUICE_LOG_FORMAT: expected one of {', '.join(FORMATS)}; got {wanted!r}"
        raise ValueError(msg)
    if wanted == "text":
        return
    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler.formatter, JsonFormatter):
            handler.formatter = JsonFormatter(processor, redact)
            return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(processor, redact))
    root.addHandler(handler)
