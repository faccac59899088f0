"""A Bytewax source reading MongoDB change streams, one partition per watched stream.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-source/#mongodb-change-stream
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from datetime import datetime, timedelta, timezone
from typing import Callable, Optional, Sequence

import bson
from bson.timestamp import Timestamp
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from pymongo.change_stream import ChangeStream
from pymongo.errors import OperationFailure, PyMongoError

from runtime.dead_letters import DeadLetters, dead_letter
from connectors.mongodb_options import change_stream_options
from connectors.mongodb_support import connect, is_transient, redact, retry_transient
from runtime.stop import end_partition_if_stopping
from runtime.stream_meta import STREAM_META, chunks
from runtime.stats import active_worker

__all__ = ["ChangeStreamSource"]

logger = logging.getLogger(__name__)

SOURCE_TYPE = "atlas"
CLUSTER_PART = "*"
INITIAL_SYNC = "initialSync"  # the key of a partition's state while it copies its collection
RESUME, NUMBERING = "resume", "numbering"  # a partition's snapshot: where to resume, how to number on
# Server codes after which resuming would silently skip or repeat events.
_HISTORY_LOST = {286: "ChangeStreamHistoryLost", 280: "ChangeStreamFatalError", 260: "InvalidResumeToken"}


class ChangeStreamSource(FixedPartitionedSource[list, Optional[dict]]):
    """Change events of a collection (or several), a database or the whole cluster.

    A reader thread per partition fetches events ahead; each item is a chunk of every
    event fetched when Bytewax asked (``next_batch`` never waits), shaped as Atlas does (the event, or its ``fullDocument`` with ``full_document_only``)
    plus ``_ts`` and ``_stream_meta.source`` (whose ``position``, the cluster time and the
    event's number within it as sortable hex, lets ``$merge`` skip replayed events). A chunk of records whose ``time_field``
    failed follows as :class:`DeadLetters`.

    Delivery: a partition's snapshot is the resume token after the last emitted event (with
    that event's number within its cluster time, so positions inside a transaction survive a
    restart), so under Bytewax recovery a restart resumes exactly there (exactly-once input).

    ``initial_sync`` first copies each watched collection's documents, as insert events,
    in ``_id`` order: the stream's position is taken *before* the copy starts and the stream
    follows from there once the copy is done, so no write is missed (a write during the
    copy may come twice, as the copied document and as its event: idempotent sinks such as
    ``$merge`` end exact). ``initial_sync_parallelism`` ranges of ``_id`` are read at once.
    While copying, the resume point is ``{"initialSync": {"token", "ranges"}}`` (each range's last
    copied ``_id``), so a restart resumes the copy where it stopped.
    Network errors reconnect with backoff from that token. An invalidate event or a
    resume point no longer in the oplog raises: a silent restart from "now" would lose
    events.
    """

    def __init__(
        self,
        uri: str,
        *,
        db: str | None = None,
        coll: str | Sequence[str] | None = None,
        full_document: str = "updateLookup",
        full_document_only: bool = False,
        full_document_before_change: str | None = None,
        pipeline: Sequence[dict] | None = None,
        start_after: dict | None = None,
        start_at_operation_time: Timestamp | datetime | None = None,
        time_field: Callable[[dict], datetime] | None = None,
        ts_field_name: str = "_ts",
        max_batch_docs: int = 5_000,
        max_queued: int = 20_000,
        max_await_ms: int = 100,
        idle_poll: timedelta = timedelta(milliseconds=10),
        reconnect_timeout: float = 300.0,
        begin_at: datetime | None = None,
        initial_sync: bool = False,
        initial_sync_parallelism: int = 1,
        copy_batch_docs: int = 1_000,
        client_options: dict | None = None,
    ) -> None:
        """Check the configuration; nothing connects until a partition is built.

        Args:
            uri: MongoDB connection string (credentials never appear in messages).
            db: database to watch; None watches the whole cluster.
            coll: collection name or list of names; None watches the whole database.
            full_document: ``updateLookup`` (Atlas's default), ``required``, ``whenAvailable``.
            full_document_only: emit ``fullDocument`` instead of the change event; events
                without one (deletes, drops) are skipped.
            full_document_before_change: ``off`` (None), ``whenAvailable`` or ``required``.
            pipeline: change-stream stages run by the server, never in Python.
            start_after: resume token to start after when there is no snapshot.
            start_at_operation_time: cluster time to start at when there is no snapshot.
            begin_at: when the processor first started (``runtime.start``), used when there
                is neither a snapshot nor a start option: the stream opens at that second and
                leaves out what happened before that moment (by wall time), going on past an
                invalidate from before it (a collection dropped just before the start).
            time_field: event time of an output document (raising sends it to the DLQ);
                the event's wall time if None.
            ts_field_name: where the event time goes (Atlas's ``tsFieldName``).
            max_batch_docs: most events per chunk, so that epochs (and snapshots) keep
                closing under a steady flow of writes.
            max_queued: most events fetched ahead of Bytewax.
            max_await_ms: how long one getMore of the reader thread waits on the server
                for new events (the server answers as soon as one arrives).
            idle_poll: how soon Bytewax looks at the queue again once it ran dry.
            reconnect_timeout: seconds of failed reconnects before the source fails.
            initial_sync: copy the existing documents of each collection in ``coll`` first.
            initial_sync_parallelism: ``_id`` ranges of a collection copied at once.
            copy_batch_docs: documents per query of that copy.
            client_options: extra ``MongoClient`` keyword arguments.
        """
        colls = change_stream_options(
            db=db,
            coll=coll,
            full_document=full_document,
            full_document_before_change=full_document_before_change,
            start_after=start_after,
            start_at_operation_time=start_at_operation_time,
            initial_sync=initial_sync,
        )
        if isinstance(start_at_operation_time, datetime):
            start_at_operation_time = Timestamp(start_at_operation_time, 0)
        self._uri = uri
        if db is None:
            self._streams = {CLUSTER_PART: (None, None)}
        elif colls is None:
            self._streams = {db: (db, None)}
        else:
            self._streams = {f"{db}.{name}": (db, name) for name in colls}
        self._watch_options = {
            "full_document": full_document,
            "full_document_before_change": None
            if full_document_before_change == "off"
            else full_document_before_change,
            "max_await_time_ms": max_await_ms,
        }
        self._pipeline = list(pipeline or ())
        self._start_after = start_after
        self._start_at_operation_time = start_at_operation_time
        self._begin_at = begin_at if start_after is None and start_at_operation_time is None else None
        self._full_document_only = full_document_only
        self._time_field = time_field
        self._ts_field_name = ts_field_name
        self._max_batch_docs = max_batch_docs
        self._max_queued = max_queued
        self._idle_poll = idle_poll
        self._reconnect_timeout = reconnect_timeout
        self._initial_sync = initial_sync
        self._initial_sync_parallelism = initial_sync_parallelism
        self._copy_batch_docs = copy_batch_docs
        self._client_options = client_options or {}

    def list_parts(self) -> list[str]:
        """One part per watched stream: ``db.coll``, ``db`` or ``*`` for the cluster."""
        return list(self._streams)

    def build_part(self, step_id: str, for_part: str, resume_state: dict | None) -> _ChangeStreamPartition:
        """Open the partition's client and start its reader thread, which opens the stream."""
        db, coll = self._streams[for_part]
        return _ChangeStreamPartition(self, db, coll, resume_state)


def _unpacked(state: dict | None) -> tuple[dict | None, tuple[Timestamp | None, int]]:
    """A snapshot's resume point and numbering; a bare resume point is what earlier versions kept."""
    if state is not None and set(state) == {RESUME, NUMBERING}:
        last_time, sequence = state[NUMBERING]
        return state[RESUME], (last_time, sequence)
    return state, (None, 0)


class _ChangeStreamPartition(StatefulSourcePartition[list, Optional[dict]]):
    """A reader thread fetches events into a queue; ``next_batch`` only takes from it.

    Each queued entry carries the resume token just after it, so the snapshot is the
    position after the last *emitted* event, whatever the reader fetched beyond it.
    Fetching while Bytewax processes the previous chunk keeps the server busy with
    reads and writes at once.
    """

    def __init__(self, source: ChangeStreamSource, db: str | None, coll: str | None, state: dict | None) -> None:
        self._source = source
        self._db = db
        self._coll = coll
        self._where = f"{db or '*'}.{coll or '*'} at {redact(source._uri)}"
        # A date outside Python's years 1..9999 is valid BSON: it arrives as a DatetimeMS
        # instead of failing the whole stream.
        self._client = connect(source._uri, **{"datetime_conversion": "DATETIME_AUTO", **source._client_options})
        token, numbering = _unpacked(state)
        self._token = token
        self._queue: deque[tuple[dict | None, dict | None]] = deque()
        self._failure: BaseException | None = None
        self._awake_at: datetime | None = None
        # The cluster time of the last event emitted and its number among the events sharing it
        # (a transaction's): kept in snapshots, so a restart inside a transaction numbers on.
        self._last_cluster_time, self._sequence = numbering
        self._stop = threading.Event()
        self._stats = active_worker()
        self._reader = threading.Thread(target=self._read, name=f"change stream {self._where}", daemon=True)
        self._reader.start()

    def next_batch(self) -> list:
        """Every event fetched so far (up to ``max_batch_docs``), as one chunk; never waits."""
        end_partition_if_stopping()
        failure = self._failure  # read first: whatever was queued before it still comes out
        queue = self._queue
        source = self._source
        limit = source._max_batch_docs
        events: list[dict] = []
        token = self._token
        while queue and len(events) < limit:
            event, token = queue.popleft()
            if event is not None:
                events.append(event)
        self._token = token
        if failure is not None and not events and not queue:
            raise failure
        self._awake_at = None if queue else datetime.now(timezone.utc) + source._idle_poll
        if events and self._stats is not None:
            self._count(events)
        return self._shape(events) if events else []

    def _count(self, events: list[dict]) -> None:
        """Bytes received (each event's BSON size) and how far behind the last event is."""
        self._stats.input_bytes += sum(len(bson.encode(event)) for event in events)
        last = events[-1]
        happened = last.get("wallTime") or last["clusterTime"].as_datetime()
        self._stats.change_stream_lag = max((datetime.now(timezone.utc) - happened).total_seconds(), 0.0)

    def next_awake(self) -> datetime | None:
        """When the queue ran dry, poll it again shortly."""
        return self._awake_at

    def snapshot(self) -> dict:
        """The resume token just after the last emitted event (or the stream's start), or
        while copying, the stream's start and the last copied ``_id``; with the numbering of
        the last event within its cluster time."""
        return {RESUME: self._token, NUMBERING: [self._last_cluster_time, self._sequence]}

    def close(self) -> None:
        """Stop the reader and release the connections."""
        self._stop.set()
        self._reader.join(timeout=5)
        self._client.close()

    def _read(self) -> None:
        """Fetch events until stopped; a transient error reopens the stream from the last one."""
        source = self._source
        queue = self._queue
        token = self._token
        if source._initial_sync and (token is None or INITIAL_SYNC in token):
            try:
                token = self._copy(token)
            except Exception as exc:  # handed to next_batch, which raises it in the worker
                self._failure = exc
                return
            if token is None:  # stopped while copying
                return
        stream = None
        failing_since = 0.0
        delay = 0.1
        # Opened at the processor's first start: events before that moment are left out, and
        # no position is kept until one after it (a restart then begins there again).
        skip_before = source._begin_at if token is None else None
        after_invalidate = None
        while not self._stop.is_set():
            try:
                if stream is None:
                    stream = self._open(token, after_invalidate)
                    if skip_before is None:
                        token = stream.resume_token
                        # The opening position is already a resume point: a snapshot taken before
                        # the first event must not turn into "start from now" after a restart.
                        queue.append((None, token))
                if len(queue) >= source._max_queued:
                    self._stop.wait(0.005)
                    continue
                event = stream.try_next()
                if event is None:
                    # Past events the server-side pipeline filtered out, the position still moves.
                    if skip_before is None and stream.resume_token != token:
                        token = stream.resume_token
                        queue.append((None, token))
                    continue
                if skip_before is not None:
                    if (event.get("wallTime") or event["clusterTime"].as_datetime()) < skip_before:
                        if event["operationType"] == "invalidate":
                            after_invalidate = event["_id"]
                            stream.close()
                            stream = None
                        continue
                    skip_before = None
                if event["operationType"] == "invalidate":
                    msg = (
                        f"change stream on {self._where} was invalidated (the collection or database was "
                        "dropped or renamed); resuming would skip events, so the source stops"
                    )
                    raise RuntimeError(msg)
                token = event["_id"]  # its resume token (the driver's property copies it each time)
                queue.append((event, token))
                failing_since, delay = 0.0, 0.1
            except PyMongoError as exc:
                if not is_transient(exc):
                    self._failure = self._fatal(exc, token)
                    break
                now = time.monotonic()
                failing_since = failing_since or now
                if now - failing_since > source._reconnect_timeout:
                    msg = f"change stream on {self._where}: unreachable for {source._reconnect_timeout:g} s; last error: {exc}"
                    self._failure = ConnectionError(msg)
                    break
                logger.warning("change stream on %s: %s; reconnecting in %.1f s", self._where, exc, delay)
                if stream is not None:
                    stream.close()
                    stream = None
                self._stop.wait(delay)
                delay = min(delay * 2, 5.0)
            except Exception as exc:  # handed to next_batch, which raises it in the worker
                self._failure = exc
                break
        if stream is not None:
            stream.close()

    def _copy(self, state: dict | None) -> dict | None:
        """Copy the collection after the stream's position is taken, ``parallelism`` ``_id``
        ranges at once; the stream's start token when done, None when stopped first."""
        source = self._source
        collection = self._client[self._db][self._coll]
        if state is None:

            def start() -> dict:
                with self._open(None) as stream:
                    return stream.resume_token

            token = retry_transient(start, f"change stream on {self._where}", source._reconnect_timeout)
            state = {INITIAL_SYNC: {"token": token, "ranges": self._ranges(collection)}}
            self._queue.append((None, state))  # a snapshot from now on resumes the copy, not "now"
        progress = state[INITIAL_SYNC]
        ranges = [dict(part) for part in progress["ranges"]]  # updated under the lock as documents queue
        lock = threading.Lock()
        failures: list[BaseException] = []
        readers = [
            threading.Thread(target=self._copy_range, args=(collection, progress["token"], ranges, i, lock, failures), daemon=True)
            for i, part in enumerate(ranges)
            if not part.get("done")
        ]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join()
        if failures:
            raise failures[0]
        if self._stop.is_set():
            return None
        self._queue.append((None, progress["token"]))  # copied: snapshots hold the stream's position again
        return progress["token"]

    def _ranges(self, collection) -> list[dict]:
        """``parallelism`` ranges of ``_id`` with about as many documents each."""
        parts = self._source._initial_sync_parallelism
        count = collection.estimated_document_count()
        bounds: list = []
        for k in range(1, parts):
            found = list(collection.find({}, {"_id": 1}, sort=[("_id", 1)], skip=k * count // parts, limit=1))
            if found and (not bounds or found[0]["_id"] > bounds[-1]):
                bounds.append(found[0]["_id"])
        edges = [None, *bounds, None]
        return [{key: value for key, value in (("lo", lo), ("hi", hi)) if value is not None} for lo, hi in zip(edges, edges[1:])]

    def _copy_range(self, collection, token: dict, ranges: list, i: int, lock: threading.Lock, failures: list) -> None:
        """One range's reader: batches in ``_id`` order, queued with the progress of every range."""
        source = self._source
        queue = self._queue
        ns = {"db": self._db, "coll": self._coll}
        part = ranges[i]
        try:
            while not self._stop.is_set() and not failures:
                if len(queue) >= source._max_queued:
                    self._stop.wait(0.005)
                    continue
                bounds = {"$gt": part["after"]} if "after" in part else {"$gte": part["lo"]} if "lo" in part else {}
                if "hi" in part:
                    bounds["$lt"] = part["hi"]
                query = {"_id": bounds} if bounds else {}

                def fetch(query: dict = query) -> list:
                    return list(collection.find(query, sort=[("_id", 1)], limit=source._copy_batch_docs))

                batch = retry_transient(fetch, f"initialSync of {self._where}", source._reconnect_timeout)
                now = datetime.now(timezone.utc)
                with lock:
                    if not batch:
                        part["done"] = True
                    for doc in batch:
                        part["after"] = doc["_id"]
                        event = {"operationType": "insert", "wallTime": now, "fullDocument": doc, "ns": ns, "documentKey": {"_id": doc["_id"]}}
                        queue.append((event, {INITIAL_SYNC: {"token": token, "ranges": [dict(r) for r in ranges]}}))
                if not batch:
                    return
        except Exception as exc:  # the partition's reader raises it
            failures.append(exc)

    def _open(self, token: dict | None, after_invalidate: dict | None = None) -> ChangeStream:
        source = self._source
        target = self._client
        if self._db is not None:
            target = target[self._db]
            if self._coll is not None:
                target = target[self._coll]
        options = dict(source._watch_options)
        if token is not None:
            options["resume_after"] = token
        elif source._start_after is not None:
            options["start_after"] = source._start_after
        elif source._start_at_operation_time is not None:
            options["start_at_operation_time"] = source._start_at_operation_time
        elif after_invalidate is not None:
            options["start_after"] = after_invalidate
        elif source._begin_at is not None:
            options["start_at_operation_time"] = Timestamp(source._begin_at, 0)
        return target.watch(source._pipeline, **options)

    def _fatal(self, exc: PyMongoError, token: dict | None) -> RuntimeError:
        code = exc.code if isinstance(exc, OperationFailure) else None
        if code in _HISTORY_LOST:
            msg = (
                f"change stream on {self._where}: cannot resume from token {token!r} "
                f"({_HISTORY_LOST[code]}): the oplog no longer holds the resume point; "
                "restarting from now would lose events, so the source stops"
            )
        else:
            msg = f"change stream on {self._where}: {exc}"
        return RuntimeError(msg)

    def _shape(self, events: list[dict]) -> list:
        source = self._source
        full_document_only = source._full_document_only
        time_field = source._time_field
        ts_field_name = source._ts_field_name
        docs: list[dict] = []
        failed = DeadLetters()
        last_time, sequence = self._last_cluster_time, self._sequence
        for event in events:
            cluster_time = event.get("clusterTime")  # None for a document initialSync copied
            if cluster_time is not None:
                # The events of one transaction share a cluster time: number them within it.
                sequence = sequence + 1 if cluster_time == last_time else 0
                last_time = cluster_time
            if full_document_only:
                doc = event.get("fullDocument")
                if doc is None:
                    continue
            else:
                doc = event
            ns = event.get("ns") or {}
            meta = {"type": SOURCE_TYPE, "db": ns.get("db"), "coll": ns.get("coll"), "operationType": event["operationType"]}
            if cluster_time is not None:  # a copied document has no position: $merge writes it unguarded
                meta["position"] = f"{cluster_time.time:08x}{cluster_time.inc:08x}{sequence:06x}"
            doc[STREAM_META] = {"source": meta}
            if time_field is None:
                doc[ts_field_name] = event.get("wallTime") or cluster_time.as_datetime()
            else:
                try:
                    ts = time_field(doc)
                except Exception as exc:  # the expression's error is the reason the DLQ shows
                    failed.append(dead_letter(doc, f"timeField: {exc}"))
                    continue
                doc[ts_field_name] = ts
            docs.append(doc)
        self._last_cluster_time, self._sequence = last_time, sequence
        return chunks(docs, failed)
