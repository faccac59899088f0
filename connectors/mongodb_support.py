"""What the MongoDB connectors share: clients, redaction, retries, BSON-equality keys.

https://pymongo.readthedocs.io/en/stable/api/pymongo/mongo_client.html
"""

from __future__ import annotations

import logging
import time
from datetime import timezone
from typing import Any, Callable, TypeVar

from pymongo import MongoClient
from pymongo.errors import ConnectionFailure, OperationFailure

try:  # recent pymongo: the parse without the DNS lookup of mongodb+srv:// hosts
    from pymongo.uri_parser_shared import _validate_uri as _parse_uri
except ImportError:  # older pymongo: its public parser, which resolves mongodb+srv:// hosts
    from pymongo.uri_parser import parse_uri as _parse_uri

from runtime.redaction import redact

__all__ = [
    "TRANSIENT_ERRORS",
    "connect",
    "parse_uri_offline",
    "hashable",
    "is_transient",
    "redact",
    "retry_transient",
    "values_at",
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


def parse_uri_offline(uri: str) -> dict:
    """pymongo's own parse of a connection string (hosts, credentials, options), raising
    pymongo's InvalidURI/ConfigurationError, without the DNS lookup of a ``mongodb+srv://``
    host that ``pymongo.uri_parser.parse_uri`` makes: validation must not touch the network."""
    return _parse_uri(uri)


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


def values_at(doc: Any, path: tuple[str, ...]) -> list:
    """Every value at a dotted path, descending into arrays as MongoDB queries do.

    An array found at the end of the path is returned itself and element by element,
    because an equality query matches either. A missing path gives ``[None]``: MongoDB
    equality on null matches missing fields too.
    """
    found: list = []
    _collect(doc, path, 0, found)
    return found or [None]


def _collect(value: Any, path: tuple[str, ...], depth: int, found: list) -> None:
    if depth == len(path):
        found.append(value)
        if isinstance(value, list):
            found.extend(value)
        return
    if isinstance(value, dict):
        if path[depth] in value:
            _collect(value[path[depth]], path, depth + 1, found)
    elif isinstance(value, list):
        for element in value:
            _collect(element, path, depth, found)


def hashable(value: Any) -> Any:
    """A dict key that is equal exactly when MongoDB's equality says the values are.

    Numbers of any BSON type compare by value (``1 == 1.0 == Int64(1)``), as Python
    does; booleans are kept apart from 1 and 0; documents and arrays become tuples.
    """
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, dict):
        return ("doc", tuple((key, hashable(item)) for key, item in value.items()))
    if isinstance(value, list):
        return ("array", tuple(hashable(item) for item in value))
    return value


_INVALID_DB_CHARS = frozenset('/\\. "$\0')


def valid_name(part: str, name: Any) -> bool:
    """Whether ``name`` can name a database (``part`` "db") or a collection ("coll")."""
    if not isinstance(name, str) or not name:
        return False
    if part == "db":
        return len(name) < 64 and not _INVALID_DB_CHARS.intersection(name)
    return "$" not in name and "\0" not in name and not name.startswith("system.")
