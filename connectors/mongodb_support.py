"""What the MongoDB connectors share: clients, redaction, retries.

https://pymongo.readthedocs.io/en/stable/api/pymongo/mongo_client.html
"""

from __future__ import annotations

import logging
import time
from datetime import timezone
from typing import Any, Callable, TypeVar

from pymongo import MongoClient
from pymongo.errors import ConnectionFailure, OperationFailure

from connectors.mongodb_options import parse_uri_offline
from runtime.redaction import redact

__all__ = [
    "TRANSIENT_ERRORS",
    "connect",
    "is_transient",
    "redact",
    "retry_transient",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Network trouble and a primary that steps down or restarts: worth waiting for.
TRANSIENT_ERRORS = (ConnectionFailure,)
_TRANSIENT_LABELS = ("RetryableWriteError", "ResumableChangeStreamError")
DUPLICATE_KEY = 11000  # mongod's error code for a duplicate key


def connect(uri: str, **options: Any) -> MongoClient:
    """A client whose datetimes are tz-aware UTC, as everywhere in the project.

    Server selection waits 5 s by default, not pymongo's 30 s, so a server that is
    gone surfaces quickly as a transient error that the caller retries with backoff; a
    ``serverSelectionTimeoutMS`` written in the URI wins over that default.
    """
    if "serverSelectionTimeoutMS" not in parse_uri_offline(uri)["options"]:
        options.setdefault("serverSelectionTimeoutMS", 5000)
    return MongoClient(uri, tz_aware=True, tzinfo=timezone.utc, **options)


def is_transient(exc: BaseException) -> bool:
    """True for errors a reconnect can cure (network, failover), False for the rest."""
    if isinstance(exc, TRANSIENT_ERRORS):
        return True
    return isinstance(exc, OperationFailure) and any(exc.has_error_label(label) for label in _TRANSIENT_LABELS)


def retry_transient(operation: Callable[[], T], what: str, timeout: float, first_delay: float = 0.1) -> T:
    """Run ``operation``, retrying transient errors with exponential backoff.

    The operation must be safe to repeat: a write that reached the server before the
    connection broke runs again.

    Args:
        operation: the call to make.
        what: names the target in log lines and the final error, e.g. ``"store.sales"``.
        timeout: seconds of retrying before giving up with the last error.
        first_delay: first backoff in seconds; doubles up to 5 s.

    Returns:
        What ``operation`` returned.
    """
    deadline = time.monotonic() + timeout
    delay = first_delay
    while True:
        try:
            return operation()
        except Exception as exc:
            if not is_transient(exc):
                raise
            if time.monotonic() + delay > deadline:
                msg = f"mongodb {what}: still unreachable after {timeout:g} s of retries; last error: {exc}"
                raise ConnectionError(msg) from exc
            logger.warning("mongodb %s: %s; retrying in %.1f s", what, exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
