"""A Bytewax sink doing Atlas Stream Processing's ``$merge`` with unordered bulk writes.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-merge/
"""

from __future__ import annotations

import logging
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Callable, Sequence, Union

import bson
from bson.errors import InvalidDocument
from pymongo import DeleteOne, ReplaceOne, UpdateOne
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError

from runtime.dead_letters import DeadLetterWriter, dead_letter, hand_over
from connectors.bson_equality import hashable
from connectors.mongodb_options import WHEN_NOT_MATCHED, check_when_matched, merge_options, valid_name
from connectors.mongodb_support import DUPLICATE_KEY, connect, redact, retry_transient
from runtime.stream_meta import source_position
from connectors.writer_sink import WriterSink

__all__ = ["MergeSink", "MergeWriter"]

logger = logging.getLogger(__name__)

# Above this share of already-existing keys, an upsert costs less than a failed insert
# followed by an update (measured on SecantusDB: insert 13k/s, replace 3.6k/s).
_UPSERT_ABOVE = 0.5
_MAX_IN_VALUES = 256
_MISSING = object()
POSITIONS = "_sluicePositions"  # on target documents: source partition -> last applied position

Doc = dict
WhenMatched = Union[str, list]


class MergeSink(WriterSink):
    """Merge chunks of documents into a collection, fixed or chosen per document.

    Delivery is effectively exactly-once in every mode, additive pipelines included:
    each written document records, under ``_sluicePositions.<source partition>``, the
    source position of the event that last changed it (:func:`source_position`: a
    Kafka offset, a change event's cluster time, a window's start), and every update,
    replace and delete is filtered on that position being older, in the same single
    write. A replay after recovery therefore applies nothing twice. Documents inserted
    first and, where the ``on`` key already exists, the ``whenMatched`` action runs
    instead. A document without ``_stream_meta`` (removed by the pipeline) carries no
    position and is written at-least-once. A document whose write fails (too large,
    duplicate on another unique index, a dynamic name that does not evaluate) becomes
    a DLQ record; a lost connection retries with backoff. A :class:`DeadLetters` chunk
    reaching the sink goes to the DLQ too.
    """

    def __init__(
        self,
        uri: str,
        *,
        dead_letter_writer_factory: Callable[[], DeadLetterWriter] | None = None,
        **writer_args: Any,
    ) -> None:
        """Check the configuration (``writer_args`` as :class:`MergeWriter` takes them) now;
        each worker connects when Bytewax builds its part. ``dead_letter_writer_factory``
        makes each worker's DLQ writer; None logs and drops failed documents, as Atlas does
        without a DLQ."""
        MergeWriter(uri, **writer_args, connect_now=False)
        super().__init__(partial(MergeWriter, uri, **writer_args), dead_letter_writer_factory)


class MergeWriter:
    """The ``$merge`` logic without Bytewax: ``write(docs)`` applies one batch."""

    def __init__(
        self,
        uri: str,
        *,
        db: str | Callable[[Doc], Any],
        coll: str | Callable[[Doc], Any],
        on: str | Sequence[str] = "_id",
        when_matched: WhenMatched | Callable[[Doc], WhenMatched] = "merge",
        when_not_matched: str | Callable[[Doc], str] = "insert",
        let: dict[str, Callable[[Doc], Any]] | None = None,
        dead_letter_writer: DeadLetterWriter | None = None,
        processor_name: str = "sluice",
        retry_timeout: float = 300.0,
        client_options: dict | None = None,
        parallelism: int = 1,
        connect_now: bool = True,
    ) -> None:
        """Check the configuration; connect unless ``connect_now`` is False (validation only).

        Args:
            uri: MongoDB connection string.
            db: target database, or a callable computing it per document.
            coll: target collection, or a callable computing it per document.
            on: the field (or fields) identifying a document; needs a unique index
                unless it is ``_id``.
            when_matched: ``replace``, ``keepExisting``, ``merge``, ``fail``, ``delete``, an
                update pipeline (a list of stages; ``$$new`` and ``let`` variables are
                bound per document), or a callable choosing one per document.
            when_not_matched: ``insert``, ``discard``, ``fail``, or a callable choosing one.
            let: variables for a pipeline, as callables of the document; default
                ``{"new": <the document>}``.
            dead_letter_writer: where failed documents go; None logs and drops them.
            processor_name: the ``processorName`` of DLQ records.
            retry_timeout: seconds a lost connection is retried before the sink fails.
            client_options: extra ``MongoClient`` keyword arguments.
            parallelism: how many bulk writes one batch may have in flight at once; the
                documents are spread by ``on`` key, so one key's writes keep their order.
            connect_now: False only checks the configuration.
        """
        on_fields = merge_options(
            db=db, coll=coll, on=on, when_matched=when_matched, when_not_matched=when_not_matched, parallelism=parallelism
        )
        self._variables = let if let is not None else {"new": _identity}
        if not callable(when_matched):
            when_matched = self._when_matched_action(when_matched)
        self._shown_uri = redact(uri)
        self._db = db
        self._coll = coll
        self._on = on_fields
        self._on_paths = tuple(tuple(field.split(".")) for field in on_fields)
        self._when_matched = when_matched
        self._when_not_matched = when_not_matched
        self._dead_letter_writer = dead_letter_writer
        self._processor_name = processor_name
        self._retry_timeout = retry_timeout
        self._client = connect(uri, **(client_options or {})) if connect_now else None
        self._unique_index_ok: dict[tuple[str, str], bool] = {}
        self._prefer_upsert: dict[tuple[str, str], bool] = {}
        self._lanes = ThreadPoolExecutor(parallelism, "$merge") if parallelism > 1 and connect_now else None
        self._parallelism = parallelism

    def close(self) -> None:
        """Release the connections (the DLQ writer's too)."""
        if self._lanes is not None:
            self._lanes.shutdown()
        if self._client is not None:
            self._client.close()
        if self._dead_letter_writer is not None:
            self._dead_letter_writer.close()

    def dead_letters(self, records: list[dict]) -> None:
        """Hand DLQ records to the writer, or log them when there is no DLQ."""
        hand_over(records, self._dead_letter_writer, self._processor_name, logger)

    def write(self, docs: list[Doc]) -> None:
        """Merge one batch: one unordered bulk write per target and action, mostly.

        1. Route each document to its namespace; failures to evaluate go to the DLQ.
        2. Split each namespace's documents into rounds in which every ``on`` key occurs
           once, so that repeated keys apply in stream order.
        3. Per round and action, insert first and fall back to the ``whenMatched``
           action for keys that already exist (or upsert when most keys exist).
        """
        dead: list[dict] = []
        routed: dict[tuple[str, str], list[tuple[Doc, Any]]] = defaultdict(list)
        for doc in docs:
            namespace = self._namespace(doc, dead)
            if namespace is None:
                continue
            key = self._key(doc)
            if key is _MISSING:
                dead.append(dead_letter(doc, f"$merge: the on field(s) {list(self._on)} are missing"))
                continue
            routed[namespace].append((doc, key))
        for namespace, items in routed.items():
            where = f"{namespace[0]}.{namespace[1]}"
            collection = self._client[namespace[0]][namespace[1]]
            if self._on != ("_id",) and not self._has_unique_index(collection, namespace):
                reason = f"$merge into {where}: on {list(self._on)} needs a unique index on those fields"
                dead.extend(dead_letter(doc, reason) for doc, _ in items)
                continue
            if self._lanes is None:
                dead.extend(self._write_lane(collection, where, items))
                continue
            lanes = _spread(items, self._parallelism)
            for lane_dead in self._lanes.map(lambda lane: self._write_lane(collection, where, lane), lanes):
                dead.extend(lane_dead)
        self.dead_letters(dead)

    def _write_lane(self, collection: Collection, where: str, items: list) -> list[dict]:
        """Write documents of one namespace in stream order per key; return the DLQ records."""
        dead: list[dict] = []
        for round_items in _rounds(items):
            for (matched, not_matched), group in self._by_action(round_items, dead).items():
                dead.extend(
                    retry_transient(
                        lambda: self._apply(collection, where, matched, not_matched, group),
                        f"$merge into {where} at {self._shown_uri}",
                        self._retry_timeout,
                    )
                )
        return dead

    def _when_matched_action(self, when_matched: Any) -> WhenMatched | _UpdatePipeline:
        check_when_matched(when_matched)
        return _UpdatePipeline(when_matched, self._variables) if isinstance(when_matched, list) else when_matched

    def _namespace(self, doc: Doc, dead: list[dict]) -> tuple[str, str] | None:
        names = []
        for part, value in (("db", self._db), ("coll", self._coll)):
            if callable(value):
                try:
                    value = value(doc)
                except Exception as exc:  # the expression failed on this document only
                    dead.append(dead_letter(doc, f"$merge.into.{part}: the expression failed: {exc}"))
                    return None
                if not valid_name(part, value):
                    dead.append(dead_letter(doc, f"$merge.into.{part}: expected a valid {part} name; got {value!r}"))
                    return None
            names.append(value)
        return names[0], names[1]

    def _key(self, doc: Doc) -> Any:
        """The ``on`` values as a hashable key; None for a new document without ``_id``."""
        values = tuple(_get(doc, path) for path in self._on_paths)
        if _MISSING in values:
            # The server gives an _id-less document a fresh ObjectId on insert.
            return None if self._on == ("_id",) else _MISSING
        return tuple(hashable(value) for value in values)

    def _filter(self, doc: Doc) -> dict:
        return {field: _get(doc, path) for field, path in zip(self._on, self._on_paths)}

    def _guarded(self, doc: Doc) -> tuple[dict, dict]:
        """The ``on`` filter, matching only while the stored position is older; the position to set."""
        where = self._filter(doc)
        position = source_position(doc)
        if position is None:
            return where, {}
        field = f"{POSITIONS}.{position[0]}"
        where[field] = {"$not": {"$gte": position[1]}}
        return where, {field: position[1]}

    def _by_action(self, items: list[tuple[Doc, Any]], dead: list[dict]) -> dict[tuple, list]:
        groups: dict[tuple, list] = defaultdict(list)
        when_matched, when_not_matched = self._when_matched, self._when_not_matched
        for doc, key in items:
            try:
                matched = when_matched(doc) if callable(when_matched) else when_matched
                not_matched = when_not_matched(doc) if callable(when_not_matched) else when_not_matched
                if callable(self._when_matched):
                    matched = self._when_matched_action(matched)
                if not_matched not in WHEN_NOT_MATCHED:
                    msg = f"expected one of {', '.join(WHEN_NOT_MATCHED)}; got {not_matched!r}"
                    raise ValueError(msg)
            except Exception as exc:  # a per-document expression failed
                dead.append(dead_letter(doc, f"$merge: choosing whenMatched/whenNotMatched failed: {exc}"))
                continue
            groups[matched, not_matched].append((doc, key))
        return groups

    def _apply(self, collection: Collection, where: str, matched: Any, not_matched: str, items: list) -> list[dict]:
        """Write one group whose keys are distinct; return the DLQ records."""
        if not_matched == "insert":
            return self._insert_first(collection, where, matched, items)
        # A document without _id matches nothing: it is discarded, or fails below.
        keyed = [item for item in items if item[1] is not None]
        if not_matched == "fail":
            existing = self._existing(collection, keyed)
            dead = [
                dead_letter(doc, f"$merge into {where}: no document matched and whenNotMatched is fail")
                for doc, key in items
                if key not in existing
            ]
            found = [item for item in keyed if item[1] in existing]
            return dead + self._on_matched(collection, where, matched, found, existing)
        # whenNotMatched discard: updates without upsert leave unmatched keys alone.
        return self._on_matched(collection, where, matched, keyed, None)

    def _insert_first(self, collection: Collection, where: str, matched: Any, items: list) -> list[dict]:
        upsert_key = (where, matched) if isinstance(matched, str) else None
        keyed = all(key is not None for _, key in items)
        if self._prefer_upsert.get(upsert_key) and keyed and matched in _UPSERTS:
            return self._upsert(collection, where, matched, items, upsert_key)
        # Copies carry the position; the driver gives an _id-less copy a fresh _id, which an
        # update matching on other fields must not take: the documents themselves keep none.
        docs = [_marked(doc) for doc, _ in items]
        dead: list[dict] = []
        duplicates: list = []
        try:
            collection.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            duplicates = _duplicates(exc, items, where, dead)
        except (InvalidDocument, RecursionError) as exc:  # RecursionError: nested too deep to encode
            # The driver refused the whole batch: set aside what cannot be encoded, redo the rest.
            return self._without_unencodable(
                exc, items, where, lambda rest: self._insert_first(collection, where, matched, rest)
            )
        existing = self._already_there(collection, where, duplicates, dead)
        if upsert_key is not None and matched in _UPSERTS:
            self._prefer_upsert[upsert_key] = len(existing) > _UPSERT_ABOVE * len(items)
        return dead + self._on_matched(collection, where, matched, existing, None)

    def _already_there(self, collection: Collection, where: str, duplicates: list, dead: list[dict]) -> list:
        """Of the inserts refused as duplicates, those whose ``on`` key is stored; the rest are dead.

        mongod names one index per error, and a re-delivered document collides on ``_id`` and
        on the ``on`` index alike, so a duplicate on another index is checked by one query.
        """
        if not duplicates:
            return []
        on = set(self._on)
        stored = {}
        if any(set(error.get("keyPattern") or ()) != on for _, error in duplicates):
            stored = self._existing(collection, [item for item, _ in duplicates])
        found = []
        for item, error in duplicates:
            if set(error.get("keyPattern") or ()) == on or item[1] in stored:
                found.append(item)
            else:
                dead.append(dead_letter(item[0], f"$merge into {where}: {error['errmsg']}"))
        return found

    def _upsert(self, collection: Collection, where: str, matched: str, items: list, upsert_key: tuple) -> list[dict]:
        """One upsert per document; a duplicate means the guard saw a replay (or a real clash)."""
        make = _UPSERTS[matched]
        ops = [make(*self._guarded(doc), doc) for doc, _ in items]
        try:
            result = collection.bulk_write(ops, ordered=False)
        except BulkWriteError as exc:
            dead: list[dict] = []
            self._already_there(collection, where, _duplicates(exc, items, where, dead), dead)
            return dead
        except InvalidDocument as exc:
            return self._without_unencodable(
                exc, items, where, lambda rest: self._upsert(collection, where, matched, rest, upsert_key)
            )
        self._prefer_upsert[upsert_key] = result.upserted_count < (1 - _UPSERT_ABOVE) * len(items)
        return []

    def _on_matched(self, collection: Collection, where: str, matched: Any, items: list, existing: dict | None) -> list[dict]:
        """Apply ``whenMatched`` to documents whose key exists (or may exist, for discard)."""
        if not items or matched == "keepExisting":
            return []
        if matched == "fail":
            if existing is None:
                existing = self._existing(collection, items)
            return [
                dead_letter(doc, f"$merge into {where}: a document matched on {list(self._on)} and whenMatched is fail")
                for doc, key in items
                if key in existing and not _is_own_write(existing[key], doc)
            ]
        guarded = [self._guarded(doc) for doc, _ in items]
        docs = [doc for doc, _ in items]
        if matched == "replace":
            ops = [ReplaceOne(at, _marked(doc)) for (at, _), doc in zip(guarded, docs)]
        elif matched == "merge":
            ops = [UpdateOne(at, {"$set": {**doc, **mark}}) for (at, mark), doc in zip(guarded, docs)]
        elif matched == "delete":
            ops = [DeleteOne(at) for at, _ in guarded]
        else:
            ops = [UpdateOne(at, _then_mark(matched.render(doc), mark)) for (at, mark), doc in zip(guarded, docs)]
        return self._bulk(collection, where, ops, items)[1]

    def _bulk(self, collection: Collection, where: str, ops: list, items: list) -> tuple[Any, list[dict]]:
        try:
            return collection.bulk_write(ops, ordered=False), []
        except BulkWriteError as exc:
            dead = [
                dead_letter(items[error["index"]][0], f"$merge into {where}: {error['errmsg']}")
                for error in exc.details["writeErrors"]
            ]
            return None, dead
        except (InvalidDocument, RecursionError) as exc:  # RecursionError: nested too deep to encode
            by_doc = {id(doc): op for op, (doc, _) in zip(ops, items)}
            return None, self._without_unencodable(
                exc, items, where, lambda rest: self._bulk(collection, where, [by_doc[id(doc)] for doc, _ in rest], rest)[1]
            )

    def _without_unencodable(
        self, error: Exception, items: list, where: str, retry: Callable[[list], list[dict]]
    ) -> list[dict]:
        dead, rest = [], []
        for item in items:
            try:
                bson.encode(item[0])
            except (InvalidDocument, TypeError, OverflowError, RecursionError) as exc:
                dead.append(dead_letter(item[0], f"$merge into {where}: cannot encode the document as BSON: {exc}"))
            else:
                rest.append(item)
        if not dead:
            raise error  # no single document is to blame
        return dead + (retry(rest) if rest else [])

    def _existing(self, collection: Collection, items: list) -> dict:
        """The stored documents for these keys, by key: one ``$in``/``$or`` query per 256 keys."""
        found: dict = {}
        for start in range(0, len(items), _MAX_IN_VALUES):
            part = items[start : start + _MAX_IN_VALUES]
            if len(self._on) == 1:
                query = {self._on[0]: {"$in": [_get(doc, self._on_paths[0]) for doc, _ in part]}}
            else:
                query = {"$or": [self._filter(doc) for doc, _ in part]}
            for stored in collection.find(query):
                found[tuple(hashable(_get(stored, path)) for path in self._on_paths)] = stored
        return found

    def _has_unique_index(self, collection: Collection, namespace: tuple[str, str]) -> bool:
        if namespace not in self._unique_index_ok:
            wanted = set(self._on)
            self._unique_index_ok[namespace] = any(
                index.get("unique") and set(index["key"]) == wanted for index in collection.list_indexes()
            )
        return self._unique_index_ok[namespace]


class _UpdatePipeline:
    """A ``whenMatched`` pipeline compiled once; ``render(doc)`` binds its variables."""

    def __init__(self, stages: list, variables: dict[str, Callable[[Doc], Any]]) -> None:
        self._variables = variables
        self._template = _compile_template(stages, frozenset(variables))

    def render(self, doc: Doc) -> list:
        bound = {name: value(doc) for name, value in self._variables.items()}
        return self._template(bound)


def _compile_template(node: Any, names: frozenset[str]) -> Callable[[dict], Any]:
    """Turn ``$$name`` / ``$$name.path`` strings into literals of the bound values."""
    if isinstance(node, str) and node.startswith("$$"):
        name, _, rest = node[2:].partition(".")
        if name not in names:
            return lambda bound: node  # system variables such as $$ROOT stay as written
        path = tuple(rest.split(".")) if rest else ()

        def variable(bound: dict) -> Any:
            value = _get(bound[name], path) if path else bound[name]
            return "$$REMOVE" if value is _MISSING else {"$literal": value}

        return variable
    if isinstance(node, dict):
        parts = [(key, _compile_template(value, names)) for key, value in node.items()]
        return lambda bound: {key: part(bound) for key, part in parts}
    if isinstance(node, list):
        items = [_compile_template(value, names) for value in node]
        return lambda bound: [item(bound) for item in items]
    return lambda bound: node


def _duplicates(error: BulkWriteError, items: list, where: str, dead: list[dict]) -> list[tuple]:
    """The ``(item, write error)`` pairs refused as duplicate keys; other failures go to ``dead``."""
    duplicates = []
    for write_error in error.details["writeErrors"]:
        item = items[write_error["index"]]
        if write_error["code"] == DUPLICATE_KEY:
            duplicates.append((item, write_error))
        else:
            dead.append(dead_letter(item[0], f"$merge into {where}: {write_error['errmsg']}"))
    return duplicates


def _is_own_write(stored: Doc, doc: Doc) -> bool:
    """Whether ``stored`` is this very document, written before a replay.

    By position when the document has one, else by equality (the stored ``_id`` aside
    when the document has none).
    """
    position = source_position(doc)
    if position is not None:
        applied = (stored.get(POSITIONS) or {}).get(position[0])
        return applied is not None and applied >= position[1]
    rest = {key: value for key, value in stored.items() if key != POSITIONS and (key != "_id" or "_id" in doc)}
    return rest == doc


def _marked(doc: Doc) -> Doc:
    """A copy of ``doc`` recording its source position, for inserts and replacements."""
    position = source_position(doc)
    return doc.copy() if position is None else {**doc, POSITIONS: {position[0]: position[1]}}


def _then_mark(pipeline: list, mark: dict) -> list:
    """A ``whenMatched`` pipeline that also records the position it applies."""
    return pipeline + [{"$set": {field: {"$literal": value} for field, value in mark.items()}}] if mark else pipeline


_UPSERTS: dict[str, Callable[[dict, dict, Doc], Any]] = {
    "replace": lambda where, _mark, doc: ReplaceOne(where, _marked(doc), upsert=True),
    "merge": lambda where, mark, doc: UpdateOne(where, {"$set": {**doc, **mark}}, upsert=True),
    "keepExisting": lambda where, _mark, doc: UpdateOne(where, {"$setOnInsert": _marked(doc)}, upsert=True),
}


def _spread(items: list[tuple[Doc, Any]], count: int) -> list[list[tuple[Doc, Any]]]:
    """At most ``count`` nonempty lanes; every document with the same key in the same lane."""
    lanes: list[list] = [[] for _ in range(count)]
    for position, item in enumerate(items):
        key = item[1]
        lanes[(position if key is None else hash(key)) % count].append(item)
    return [lane for lane in lanes if lane]


def _rounds(items: list[tuple[Doc, Any]]) -> list[list[tuple[Doc, Any]]]:
    """Split so that each key appears at most once per round, keeping stream order."""
    rounds: list[list] = [[]]
    seen: dict[Any, int] = {}
    for item in items:
        key = item[1]
        if key is None:
            rounds[0].append(item)
            continue
        index = seen.get(key, -1) + 1
        seen[key] = index
        if index == len(rounds):
            rounds.append([])
        rounds[index].append(item)
    return rounds


def _get(doc: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(doc, dict) or part not in doc:
            return _MISSING
        doc = doc[part]
    return doc


def _identity(doc: Doc) -> Doc:
    return doc
