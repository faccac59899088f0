"""The query side of ``$lookup`` and ``$cachedLookup``: foreign documents for a whole batch.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-lookup/
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from typing import Any, Callable, Sequence

import bson
from pymongo.errors import PyMongoError

from connectors.bson_equality import hashable, values_at
from connectors.mongodb_support import connect, redact, retry_transient

__all__ = ["CachedMongoLookup", "MongoLookup"]

Doc = dict
# Bytes an entry costs beyond its documents (key, list, bookkeeping), roughly.
_ENTRY_OVERHEAD = 200


class MongoLookup:
    """Fetch the foreign documents matching each document of a batch.

    Equality (``localField``/``foreignField``) costs one ``$in`` query per batch, split
    every ``max_in_values`` values; ``let`` + ``pipeline`` (optionally with the equality
    too) costs one aggregate per batch: the batch's bindings travel in a ``$documents``
    stage and the server runs the ``$lookup`` itself (MongoDB 5.1+). Each document gets
    its own (shallow) copies of its matches; embedded documents inside them are shared.
    """

    # The server's failures, not a document's: the caller stops the flow on these.
    server_errors = (PyMongoError, ConnectionError)

    def __init__(
        self,
        uri: str,
        db: str,
        coll: str,
        *,
        local_value: Callable[[Doc], Any] | None = None,
        foreign_field: str | None = None,
        let: dict[str, Callable[[Doc], Any]] | None = None,
        pipeline: Sequence[dict] | None = None,
        missing: Any = None,
        max_in_values: int = 256,
        retry_timeout: float = 300.0,
        client_options: dict | None = None,
    ) -> None:
        """Check the configuration and connect.

        Args:
            uri: MongoDB connection string.
            db: foreign database.
            coll: foreign collection.
            local_value: the compiled ``localField`` getter.
            foreign_field: the ``foreignField`` path.
            let: compiled ``let`` expressions by variable name.
            pipeline: stages run by the server on the foreign collection.
            missing: what ``local_value`` and ``let`` return for a missing field.
            max_in_values: most values in one ``$in`` (and documents in one aggregate).
            retry_timeout: seconds a lost connection is retried before failing.
            client_options: extra ``MongoClient`` keyword arguments.
        """
        if (local_value is None) != (foreign_field is None):
            msg = "$lookup: localField and foreignField go together; got only one of them"
            raise ValueError(msg)
        if local_value is None and pipeline is None:
            msg = "$lookup: expected localField/foreignField, a pipeline, or both; got neither"
            raise ValueError(msg)
        if let and pipeline is None:
            msg = "$lookup.let: needs a pipeline to use the variables; got none"
            raise ValueError(msg)
        self._local_value = local_value
        self._foreign_field = foreign_field
        self._foreign_path = tuple(foreign_field.split(".")) if foreign_field else ()
        self._let = let or {}
        self._pipeline = list(pipeline) if pipeline is not None else None
        self._missing = missing
        self._max_in_values = max_in_values
        self._retry_timeout = retry_timeout
        self._where = f"{db}.{coll} at {redact(uri)}"
        self._client = connect(uri, **(client_options or {}))
        self._db = self._client[db]
        self._coll = self._db[coll]

    def close(self) -> None:
        """Release the connections."""
        self._client.close()

    def lookup(self, docs: list[Doc]) -> list[list[Doc]]:
        """The matching foreign documents of each document, in the batch's order."""
        if not docs:
            return []
        if self._pipeline is not None:
            return retry_transient(lambda: self._aggregate(docs), f"$lookup on {self._where}", self._retry_timeout)
        keys_per_doc = []
        wanted: dict[Any, Any] = {}
        for doc in docs:
            keys = []
            for value in self._local_values(doc):
                key = hashable(value)
                wanted.setdefault(key, value)
                keys.append(key)
            keys_per_doc.append(keys)
        matches = self._matches(wanted)
        return [_union(matches, keys) for keys in keys_per_doc]

    def _local_values(self, doc: Doc) -> list:
        # As MongoDB does: an array matches by element, a missing field as null.
        value = self._local_value(doc)
        if value is self._missing:
            return [None]
        return value if isinstance(value, list) else [value]

    def _matches(self, wanted: dict[Any, Any]) -> dict[Any, list[Doc]]:
        """Foreign documents by key, for every key in ``wanted`` (key -> raw value)."""
        return retry_transient(lambda: self._query(wanted), f"$lookup on {self._where}", self._retry_timeout)

    def _query(self, wanted: dict[Any, Any]) -> dict[Any, list[Doc]]:
        found: dict[Any, list[Doc]] = {key: [] for key in wanted}
        values = list(wanted.values())
        field, path = self._foreign_field, self._foreign_path
        for start in range(0, len(values), self._max_in_values):
            for foreign in self._coll.find({field: {"$in": values[start : start + self._max_in_values]}}):
                for key in {hashable(value) for value in values_at(foreign, path)}:
                    if key in found:
                        found[key].append(foreign)
        return found

    def _aggregate(self, docs: list[Doc]) -> list[list[Doc]]:
        stage: dict[str, Any] = {"from": self._coll.name, "pipeline": self._pipeline, "as": "matches"}
        if self._let:
            stage["let"] = {name: f"$vars.{name}" for name in self._let}
        if self._local_value is not None:
            stage["localField"] = "local"
            stage["foreignField"] = self._foreign_field
        results: list[list[Doc]] = []
        for start in range(0, len(docs), self._max_in_values):
            rows = [self._binding(doc) for doc in docs[start : start + self._max_in_values]]
            for row in self._db.aggregate([{"$documents": rows}, {"$lookup": stage}]):
                results.append(row["matches"])
        return results

    def _binding(self, doc: Doc) -> dict:
        # $documents evaluates expressions, so every value goes in as a $literal;
        # a missing value is left out and reads as missing on the server.
        row: dict[str, Any] = {}
        if self._let:
            bound = {}
            for name, expression in self._let.items():
                value = expression(doc)
                if value is not self._missing:
                    bound[name] = {"$literal": value}
            row["vars"] = bound
        if self._local_value is not None:
            value = self._local_value(doc)
            if value is not self._missing:
                row["local"] = {"$literal": value}
        return row


class CachedMongoLookup(MongoLookup):
    """``$cachedLookup``: equality lookups served from a TTL cache bounded in bytes.

    A cache miss costs one ``$in`` query per batch for all the batch's missing keys;
    keys without a match are cached too. When the cache is full, expired entries go
    first, then the oldest.
    """

    def __init__(
        self,
        uri: str,
        db: str,
        coll: str,
        *,
        local_value: Callable[[Doc], Any],
        foreign_field: str,
        ttl_seconds: float,
        max_mem_usage_bytes: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        **options: Any,
    ) -> None:
        """Same arguments as :class:`MongoLookup` (no ``let``/``pipeline``), plus:

        Args:
            ttl_seconds: how long an entry serves lookups.
            max_mem_usage_bytes: cache budget; Atlas's default is 10% of RAM.
            clock: seconds, monotonic; tests pass their own.
        """
        super().__init__(uri, db, coll, local_value=local_value, foreign_field=foreign_field, **options)
        if ttl_seconds <= 0:
            msg = f"$cachedLookup.ttl: expected a positive duration; got {ttl_seconds!r} s"
            raise ValueError(msg)
        if max_mem_usage_bytes is None:
            max_mem_usage_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 10
        self._ttl = ttl_seconds
        self._budget = max_mem_usage_bytes
        self._clock = clock
        self._entries: OrderedDict[Any, tuple[float, int, list[Doc]]] = OrderedDict()
        self._used = 0

    @property
    def cached_bytes(self) -> int:
        """Estimated bytes held by the cache."""
        return self._used

    def _matches(self, wanted: dict[Any, Any]) -> dict[Any, list[Doc]]:
        now = self._clock()
        found: dict[Any, list[Doc]] = {}
        missed: dict[Any, Any] = {}
        for key, value in wanted.items():
            entry = self._entries.get(key)
            if entry is not None and entry[0] > now:
                found[key] = entry[2]
            else:
                missed[key] = value
        if missed:
            fetched = super()._matches(missed)
            for key, docs in fetched.items():
                found[key] = docs
                self._store(key, docs, now)
        return found

    def _store(self, key: Any, docs: list[Doc], now: float) -> None:
        size = _ENTRY_OVERHEAD + sum(len(bson.encode(doc)) for doc in docs)
        old = self._entries.pop(key, None)
        if old is not None:
            self._used -= old[1]
        if size > self._budget:
            return
        if self._used + size > self._budget:
            for stale in [k for k, entry in self._entries.items() if entry[0] <= now]:
                self._used -= self._entries.pop(stale)[1]
        while self._used + size > self._budget:
            self._used -= self._entries.popitem(last=False)[1][1]
        self._entries[key] = (now + self._ttl, size, docs)
        self._used += size


def _union(matches: dict[Any, list[Doc]], keys: list) -> list[Doc]:
    """Copies of the matches of every key: the same foreign document may serve many
    documents (and the cache), and a downstream stage may update what it receives."""
    if len(keys) == 1:
        return [dict(doc) for doc in matches[keys[0]]]
    seen: set[int] = set()
    merged = []
    for key in keys:
        for doc in matches[key]:
            if id(doc) not in seen:
                seen.add(id(doc))
                merged.append(dict(doc))
    return merged
