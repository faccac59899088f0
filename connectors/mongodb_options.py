"""What the MongoDB connectors accept, checked without a client: names, connection strings, and
the options of ``$merge`` and change streams, each refusal an :class:`OptionError` at its Atlas field.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-merge/
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connectors.options import OptionError

WHEN_MATCHED = ("replace", "keepExisting", "merge", "fail", "delete")
WHEN_NOT_MATCHED = ("insert", "discard", "fail")
FULL_DOCUMENT_MODES = ("updateLookup", "required", "whenAvailable", "default")
BEFORE_CHANGE_MODES = ("off", "whenAvailable", "required")
MERGE, CHANGE_STREAM = "$merge", "change stream"
_INVALID_DB_CHARS = frozenset('/\\. "$\0')


def valid_name(part: str, name: Any) -> bool:
    """Whether ``name`` can name a database (``part`` "db") or a collection ("coll")."""
    if not isinstance(name, str) or not name:
        return False
    if part == "db":
        return len(name) < 64 and not _INVALID_DB_CHARS.intersection(name)
    return "$" not in name and "\0" not in name and not name.startswith("system.")


def parse_uri_offline(uri: str) -> dict:
    """pymongo's own parse of a connection string (hosts, credentials, options), raising
    pymongo's InvalidURI/ConfigurationError, without the DNS lookup of a ``mongodb+srv://``
    host that ``pymongo.uri_parser.parse_uri`` makes: validation must not touch the network.

    pymongo loads here, when a connection string is first read, not when this module is.
    """
    try:  # recent pymongo: the parse without the DNS lookup of mongodb+srv:// hosts
        from pymongo.uri_parser_shared import _validate_uri as parse
    except ImportError:  # older pymongo: its public parser, which resolves mongodb+srv:// hosts
        from pymongo.uri_parser import parse_uri as parse
    return parse(uri)


def merge_options(*, db: Any, coll: Any, on: str | Sequence[str], when_matched: Any, when_not_matched: Any, parallelism: Any) -> tuple[str, ...]:
    """``$merge``'s fixed options (callables are chosen per document, and checked then); the ``on`` fields."""
    on_fields = (on,) if isinstance(on, str) else tuple(on)
    if not on_fields or not all(isinstance(field, str) and field for field in on_fields):
        raise OptionError(MERGE, f"expected a field name or a non-empty list of them; got {on!r}", ("on",))
    if len(set(on_fields)) != len(on_fields):
        raise OptionError(MERGE, f"lists a field twice: {list(on_fields)!r}", ("on",))
    for name, value in (("db", db), ("coll", coll)):
        if not callable(value) and not valid_name(name, value):
            raise OptionError(MERGE, f"expected a valid {name} name or an expression; got {value!r}", ("into", name))
    if type(parallelism) is not int or parallelism < 1:
        raise OptionError(MERGE, f"expected a positive integer; got {parallelism!r}", ("parallelism",))
    if not callable(when_matched):
        check_when_matched(when_matched)
    if not callable(when_not_matched) and when_not_matched not in WHEN_NOT_MATCHED:
        raise OptionError(MERGE, f"expected one of {', '.join(WHEN_NOT_MATCHED)}; got {when_not_matched!r}", ("whenNotMatched",))
    return on_fields


def check_when_matched(when_matched: Any) -> None:
    """A ``whenMatched`` mode or update pipeline, given in the stage or chosen for a document."""
    if isinstance(when_matched, list):
        if not all(isinstance(stage, dict) for stage in when_matched):
            raise OptionError(MERGE, f"a pipeline must be a list of stages; got {when_matched!r}", ("whenMatched",))
    elif when_matched not in WHEN_MATCHED:
        msg = f"expected one of {', '.join(WHEN_MATCHED)} or a pipeline; got {when_matched!r}"
        raise OptionError(MERGE, msg, ("whenMatched",))


def change_stream_options(
    *, db: str | None, coll: str | Sequence[str] | None, full_document: str, full_document_before_change: str | None,
    start_after: Any, start_at_operation_time: Any, initial_sync: bool,
) -> list[str] | None:
    """A change stream's target and modes; the watched collections (None: a database or the cluster)."""
    if coll is not None and db is None:
        raise OptionError(CHANGE_STREAM, f"coll {coll!r} needs a db", ("coll",))
    colls = [coll] if isinstance(coll, str) else coll
    if colls is not None and (not colls or not all(isinstance(name, str) and name for name in colls)):
        raise OptionError(CHANGE_STREAM, f"coll must be a non-empty string or a list of them; got {coll!r}", ("coll",))
    if colls is not None and len(set(colls)) != len(colls):
        raise OptionError(CHANGE_STREAM, f"coll lists a collection twice: {colls!r}", ("coll",))
    if full_document not in FULL_DOCUMENT_MODES:
        msg = f"fullDocument must be one of {', '.join(FULL_DOCUMENT_MODES)}; got {full_document!r}"
        raise OptionError(CHANGE_STREAM, msg, ("config", "fullDocument"))
    if full_document_before_change not in (None, *BEFORE_CHANGE_MODES):
        msg = f"fullDocumentBeforeChange must be one of {', '.join(BEFORE_CHANGE_MODES)}; got {full_document_before_change!r}"
        raise OptionError(CHANGE_STREAM, msg, ("config", "fullDocumentBeforeChange"))
    if start_after is not None and start_at_operation_time is not None:
        msg = "startAfter and startAtOperationTime exclude each other; got both"
        raise OptionError(CHANGE_STREAM, msg, ("config", "startAtOperationTime"))
    if initial_sync and colls is None:
        msg = "initialSync of a whole database or cluster is not supported by sluice; name the collections in coll"
        raise OptionError(CHANGE_STREAM, msg, ("config", "initialSync"))
    return None if colls is None else list(colls)
