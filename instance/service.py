"""The stream processing instance: the twelve commands ``sp.*`` sends, over supervised processors.

The wire layer hands every command whose name is in :data:`STREAM_COMMANDS` to
:meth:`Instance.run_command`; replies follow ``asp-control-plane.md`` §3 and §5. Definitions and
states persist in :class:`instance.store.Store`; each started processor is an
:class:`instance.supervisor.Cluster`; samples travel as :mod:`instance.sample` describes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Awaitable, Callable

from bson import Int64, ObjectId

from runtime import ejson
from runtime.redaction import redact
from instance.errors import already_exists, bad_value, not_found, wrong_state
from instance.metrics import MetricsServer
from instance.sample import SampleCursor, SampleCursors
from instance.store import CREATED, FAILED, STARTED, STOPPED, ProcessorRecord, Store, now
from instance.supervisor import RECOVERY_PARTITIONS, Cluster, Layout
from runtime.stats import merge_stats, scaled, with_earlier_runs
from translator import plan
from translator.connections import BUILT_IN, Registry, load_registry
from translator.errors import SpecError, TranslateError
from translator.parse import STATEFUL_STAGES, parse_pipeline
from translator.query import compile_query

log = logging.getLogger("sluice.instance")

STREAM_COMMANDS = frozenset({
    "createStreamProcessor", "startStreamProcessor", "stopStreamProcessor", "dropStreamProcessor",
    "modifyStreamProcessor", "listStreamProcessors", "getStreamProcessorStats",
    "startSampleStreamProcessor", "getMoreSampleStreamProcessor", "processStreamProcessor",
    "listStreamConnections", "listWorkspaceDefaults",
})  # fmt: skip
# Atlas tiers → worker processes of one Bytewax cluster (about one per vCPU of the tier).
TIER_PROCESSES = {"SP2": 1, "SP5": 1, "SP10": 1, "SP30": 2, "SP50": 8}
DEFAULT_TIER, MAX_TIER = "SP10", "SP50"
# Options the instance itself honours (how many processes); the rest belong to the pipeline.
INSTANCE_OPTIONS = frozenset({"tier", "workers"})
CREATE_OPTIONS = frozenset({"dlq"}) | INSTANCE_OPTIONS
START_OPTIONS = frozenset({"resumeFromCheckpoint", "tier", "workers"})
EPHEMERAL_SECONDS = 600.0  # sp.process() processors live at most 10 minutes, as in Atlas
SWEEP_SECONDS = 2.0
CONNECTION_TYPES = {"mongodb": "atlas", "kafka": "kafka", "sample_stream_solar": "inmemory"}
STATUS = {CREATED: "created", STARTED: "running", STOPPED: "stopped", FAILED: "error"}
# What the shell adds to every command; never an option.
_ENVELOPE = frozenset({"$db", "lsid", "$clusterTime", "$readPreference", "apiVersion", "apiStrict", "apiDeprecationErrors"})


def _options(body: dict, command: str, allowed: frozenset) -> dict:
    """The options spread into the command's top level (start, stop, ...), checked by name."""
    options = {k: v for k, v in body.items() if k != command and k not in _ENVELOPE}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise bad_value(f"{command}: unknown option {unknown[0]!r}; expected one of {', '.join(sorted(allowed))}")
    return options


def _flag(options: dict, name: str, default: bool) -> bool:
    value = options.get(name, default)
    if type(value) is not bool:
        raise bad_value(f"{name} must be a boolean; got {type(value).__name__}")
    return value


def _longs(value: Any) -> Any:
    """Every integer counter as int64, as Atlas answers them (the shell prints Long('12'))."""
    if type(value) is int:
        return Int64(value)
    if type(value) is dict:
        return {k: _longs(v) for k, v in value.items()}
    if type(value) is list:
        return [_longs(v) for v in value]
    return value


def _stateful_specs(pipeline: list) -> dict[str, tuple[int, str, Any]]:
    """Checkpointed stages by step id (contract C4) → (index, name, spec); the source included."""
    stages = parse_pipeline(pipeline).stages
    return {s.step_id: (s.index, s.name, s.spec) for s in stages if s.name in STATEFUL_STAGES or s.name == "$source"}


def _no_stats(record: ProcessorRecord) -> dict:
    """The stats of a processor that has not run yet: every counter zero."""
    zero = dict.fromkeys(("inputMessageCount", "inputMessageSize", "outputMessageCount", "outputMessageSize"), 0)
    zero.update(dict.fromkeys(("dlqMessageCount", "dlqMessageSize", "stateSize"), 0))
    operators = [{"name": next(iter(stage)), **zero, "maxMemoryUsage": 0, "executionTime": 0} for stage in record.pipeline]
    return {"scaleFactor": 1, **zero, "watermark": None, "operatorStats": operators}


class Instance:
    """Every processor of one data directory, their clusters and their sample cursors."""

    def __init__(self, registry: Registry | str | None, data_dir: str, metrics_address: tuple[str, int] | None = None) -> None:
        self._data = Path(data_dir)
        self._registry = load_registry(registry) if isinstance(registry, str) else registry or Registry()
        self._connections_file = self._registry.path
        self._metrics_address = metrics_address
        self._metrics = None
        self._store: Store | None = None
        self._records: dict[str, ProcessorRecord] = {}  # by name, in creation order
        self._ephemeral: dict[str, float] = {}  # id → monotonic deadline of sp.process() processors
        self._clusters: dict[str, Cluster] = {}  # by processor id
        self._locks: dict[str, asyncio.Lock] = {}
        self._cursors = SampleCursors()
        self._sweeper: asyncio.Task | None = None
        self._handlers: dict[str, Callable[[dict, int], Awaitable[dict]]] = {
            "createStreamProcessor": self._create,
            "startStreamProcessor": self._start,
            "stopStreamProcessor": self._stop,
            "dropStreamProcessor": self._drop,
            "modifyStreamProcessor": self._modify,
            "listStreamProcessors": self._list,
            "getStreamProcessorStats": self._stats,
            "startSampleStreamProcessor": self._start_sample,
            "getMoreSampleStreamProcessor": self._get_more_sample,
            "processStreamProcessor": self._process,
            "listStreamConnections": self._list_connections,
            "listWorkspaceDefaults": self._workspace_defaults,
        }

    # -- lifetime ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the store, resume the processors that were STARTED, serve metrics."""
        self._data.mkdir(parents=True, exist_ok=True)
        if self._connections_file is None and self._registry.connections:
            self._connections_file = self._write_registry()
        self._store = Store(str(self._data))
        for record in self._store.load():
            self._records[record.name] = record
            if record.state == STARTED:
                self._launch(record)
        known = {record.id for record in self._records.values()}
        for leftover in (self._data / "processors").glob("*"):
            if leftover.name not in known:  # an sp.process() processor when the instance died
                shutil.rmtree(leftover, ignore_errors=True)
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep())
        if self._metrics_address is not None:
            self._metrics = MetricsServer(self._metrics_address, self._metric_sources)
            self._metrics.start()

    async def stop(self) -> None:
        """Stop every processor gracefully; the STARTED ones stay STARTED and resume next time."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        for record in list(self._records.values()):
            if record.id in self._ephemeral:
                await self._remove(record)
        await asyncio.gather(*(cluster.stop() for cluster in self._clusters.values()))
        self._clusters.clear()
        for cursor in [c for record in self._records.values() for c in self._cursors.of_processor(record.id)]:
            self._cursors.close(cursor)
        if self._metrics is not None:
            self._metrics.stop()
        if self._store is not None:
            self._store.close()

    def metrics_url(self) -> str | None:
        return self._metrics.url if self._metrics is not None else None

    def connection_closed(self, connection_id: int) -> None:
        """The client went away: its sample cursors expire (and the sp.process() they ran)."""
        for cursor in self._cursors.of_connection(connection_id):
            self._close_cursor(cursor)

    async def run_command(self, body: dict, connection_id: int) -> dict:
        command = next(iter(body))
        return await self._handlers[command](body, connection_id)

    # -- the commands -----------------------------------------------------------------------

    async def _create(self, body: dict, connection_id: int) -> dict:
        name = self._new_name(body["createStreamProcessor"])
        options = body.get("options") or {}
        if type(options) is not dict:
            raise bad_value("createStreamProcessor: options must be an object")
        pipeline, options, tier = self._validated(name, body.get("pipeline"), options)
        record = ProcessorRecord(str(ObjectId()), name, pipeline, options, tier)
        self._save(record)
        return {"ok": 1}

    async def _start(self, body: dict, connection_id: int) -> dict:
        record = self._record(body["startStreamProcessor"])
        options = _options(body, "startStreamProcessor", START_OPTIONS)
        resume = _flag(options, "resumeFromCheckpoint", True)
        async with self._lock(record):
            record = self._record(record.name)
            if record.state == STARTED:
                raise wrong_state(f"stream processor {record.name!r} is already started")
            tier = self._tier(options, record.tier)
            kept = dict(record.options)
            if "workers" in options:  # kept, so that the processor resumes as it was started
                kept["workers"] = options["workers"]
            self._workers(kept.get("workers"), tier)
            if not resume:
                Layout(self._data / "processors" / record.id).forget_checkpoints()
            started_at = record.started_at if resume and record.started_at is not None else now()
            record = replace(record.with_state(STARTED), tier=tier, options=kept, started_at=started_at)
            self._save(record)
            self._launch(record)
        return {"ok": 1}

    async def _stop(self, body: dict, connection_id: int) -> dict:
        record = self._record(body["stopStreamProcessor"])
        force = _flag(_options(body, "stopStreamProcessor", frozenset({"force"})), "force", False)
        async with self._lock(record):
            record = self._record(record.name)
            if record.state not in (STARTED, FAILED):
                raise wrong_state(f"stream processor {record.name!r} is not started (state {record.state})")
            await self._halt(record, force)
            self._save(record.with_state(STOPPED))
        return {"ok": 1}

    async def _drop(self, body: dict, connection_id: int) -> dict:
        record = self._record(body["dropStreamProcessor"])
        _options(body, "dropStreamProcessor", frozenset())
        async with self._lock(record):
            record = self._record(record.name)
            await self._remove(record)
        return {"ok": 1}

    async def _modify(self, body: dict, connection_id: int) -> dict:
        record = self._record(body["modifyStreamProcessor"])
        options = _options(body, "modifyStreamProcessor", frozenset({"pipeline", "resumeFromCheckpoint", "dlq", "name"}))
        resume = _flag(options, "resumeFromCheckpoint", True)
        async with self._lock(record):
            record = self._record(record.name)
            if record.state == STARTED:
                raise wrong_state(f"stream processor {record.name!r} must be stopped before it is modified")
            name = record.name if options.get("name") in (None, record.name) else self._new_name(options["name"])
            new_options = dict(record.options)
            if "dlq" in options:
                new_options["dlq"] = options["dlq"]
                if options["dlq"] is None:
                    del new_options["dlq"]
            pipeline, new_options, tier = self._validated(name, options.get("pipeline", record.pipeline), new_options)
            layout = Layout(self._data / "processors" / record.id)
            if resume:
                self._check_state_carries_over(record.pipeline, pipeline)
            else:
                layout.forget_checkpoints()
            del self._records[record.name]
            modified = replace(record, name=name, pipeline=pipeline, options=new_options, tier=tier, last_modified=now())
            if not resume:
                modified = replace(modified, started_at=None)
            self._save(modified)
        return {"ok": 1}

    async def _list(self, body: dict, connection_id: int) -> dict:
        matches = self._filter(body.get("filter"))
        entries = [r.entry() for r in self._records.values() if r.id not in self._ephemeral]
        return {"ok": 1, "streamProcessors": [e for e in entries if matches(e)]}

    async def _stats(self, body: dict, connection_id: int) -> dict:
        record = self._record(body["getStreamProcessorStats"])
        options = _options(body, "getStreamProcessorStats", frozenset({"options", "verbose", "scale"}))
        nested = options.pop("options", None) or {}
        if type(nested) is not dict:
            raise bad_value("getStreamProcessorStats: options must be an object")
        options.update(nested)
        verbose = _flag(options, "verbose", False)
        scale = options.get("scale", 1)
        if type(scale) not in (int, Int64, float) or scale < 1 or int(scale) != scale:
            raise bad_value("scale must be a positive integer")
        layout = Layout(self._data / "processors" / record.id)
        docs = layout.stats_documents()
        current = merge_stats(docs) if docs else _no_stats(record)
        earlier = layout.earlier_runs()
        stats = scaled(with_earlier_runs(earlier, current) if earlier else current, int(scale))
        stats["name"] = record.name
        stats["processorId"] = record.id
        if record.state != STARTED or not docs:
            stats["status"] = "starting" if record.state == STARTED else STATUS[record.state]
        if not verbose:
            stats.pop("operatorStats", None)
        return {
            "ok": 1,
            "ns": f"sluice.{record.name}",
            "name": record.name,
            "state": record.state,
            "stats": _longs(stats),
            "pipeline": record.pipeline,
        }

    async def _start_sample(self, body: dict, connection_id: int) -> dict:
        record = self._record(body["startSampleStreamProcessor"])
        _options(body, "startSampleStreamProcessor", frozenset({"limit"}))
        cursor = self._open_cursor(record, connection_id)
        return {"ok": 1, "cursorId": Int64(cursor.id)}

    async def _get_more_sample(self, body: dict, connection_id: int) -> dict:
        record = self._record(body["getMoreSampleStreamProcessor"])
        cursor_id = body.get("cursorId")
        if type(cursor_id) not in (int, Int64, float):
            raise bad_value("getMoreSampleStreamProcessor needs a numeric cursorId")
        cursor = self._cursors.get(int(cursor_id), record.id)
        cluster = self._clusters.get(record.id)
        ended = record.id in self._ephemeral and (cluster is None or cluster.finished)
        messages = await asyncio.to_thread(cursor.read)
        if cursor.exhausted or (ended and not messages):
            self._close_cursor(cursor)
            return {"ok": 1, "cursorId": Int64(0), "messages": messages}
        return {"ok": 1, "cursorId": Int64(cursor.id), "messages": messages}

    async def _process(self, body: dict, connection_id: int) -> dict:
        options = body.get("options") or {}
        if type(options) is not dict:
            raise bad_value("processStreamProcessor: options must be an object")
        name = f"sp_process_{ObjectId()}"
        pipeline, options, tier = self._validated(name, body["processStreamProcessor"], options)
        record = ProcessorRecord(str(ObjectId()), name, pipeline, options, tier, STARTED)
        self._records[name] = record
        self._ephemeral[record.id] = time.monotonic() + EPHEMERAL_SECONDS
        cursor = self._open_cursor(record, connection_id)  # before the flow starts: nothing is missed
        self._launch(record)
        return {"ok": 1, "name": name, "cursorId": Int64(cursor.id)}

    async def _list_connections(self, body: dict, connection_id: int) -> dict:
        matches = self._filter(body.get("filter"))
        found = {**BUILT_IN, **self._registry.connections}
        entries = [{"name": name, "type": CONNECTION_TYPES[entry["type"]]} for name, entry in found.items()]
        return {"ok": 1, "connections": [e for e in entries if matches(e)]}

    async def _workspace_defaults(self, body: dict, connection_id: int) -> dict:
        return {"ok": 1, "defaultTierSize": DEFAULT_TIER, "maxTierSize": MAX_TIER}

    # -- helpers ----------------------------------------------------------------------------

    def _record(self, name: Any) -> ProcessorRecord:
        if type(name) is not str:
            raise bad_value(f"a stream processor name must be a string; got {type(name).__name__}")
        record = self._records.get(name)
        if record is None:
            raise not_found(name)
        return record

    def _new_name(self, name: Any) -> str:
        if type(name) is not str or not name:
            raise bad_value("a stream processor needs a nonempty string name")
        if name in self._records:
            raise already_exists(name)
        return name

    def _lock(self, record: ProcessorRecord) -> asyncio.Lock:
        return self._locks.setdefault(record.id, asyncio.Lock())

    def _tier(self, options: dict, default: str) -> str:
        tier = options.get("tier", default)
        if tier not in TIER_PROCESSES:
            raise bad_value(f"unknown tier {tier!r}; expected one of {', '.join(TIER_PROCESSES)}")
        return tier

    @staticmethod
    def _workers(workers: Any, tier: str) -> int:
        if workers is None:
            return TIER_PROCESSES[tier]
        if type(workers) not in (int, Int64) or not 1 <= workers <= RECOVERY_PARTITIONS:
            raise bad_value(f"options.workers must be an integer from 1 to {RECOVERY_PARTITIONS}")
        return int(workers)

    def _validated(self, name: str, pipeline: Any, options: dict) -> tuple[list, dict, str]:
        """The pipeline and options as stored, once the translator's own plan() accepts them."""
        unknown = sorted(set(options) - CREATE_OPTIONS)
        if unknown:
            raise bad_value(f"unknown option {unknown[0]!r}; expected one of {', '.join(sorted(CREATE_OPTIONS))}")
        tier = self._tier(options, DEFAULT_TIER)
        self._workers(options.get("workers"), tier)
        try:
            parsed = parse_pipeline({"name": name, "pipeline": pipeline, "options": _pipeline_options(options)})
            plan(parsed, self._registry)
        except TranslateError as exc:
            raise bad_value(redact(str(exc))) from None
        return pipeline, options, tier

    def _check_state_carries_over(self, old: list, new: list) -> None:
        """Refuse a resumed modify that changes a stage whose checkpointed state it would reuse."""
        before = _stateful_specs(old)
        for step_id, (index, name, spec) in _stateful_specs(new).items():
            if step_id in before and before[step_id][2] != spec:
                raise bad_value(
                    f"stage {index} ({name}) changed, so its checkpointed state cannot carry over; "
                    "modify with resumeFromCheckpoint: false to start it afresh"
                )

    def _filter(self, spec: Any) -> Callable[[dict], bool]:
        try:
            return compile_query(spec or {})
        except SpecError as exc:
            at = f" at {'.'.join(exc.path)}" if exc.path else ""
            raise bad_value(f"filter: {exc.message}{at}") from None

    def _save(self, record: ProcessorRecord) -> None:
        self._records[record.name] = record
        if record.id not in self._ephemeral:
            self._store.save(record)

    def _write_registry(self) -> str:
        """A registry given as an object reaches the processes as a file only the owner reads."""
        path = self._data / "connections.json"
        body = {"connections": self._registry.connections, "default": self._registry.default}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(ejson.dumps(body))
        return str(path)

    def _launch(self, record: ProcessorRecord) -> None:
        layout = Layout(self._data / "processors" / record.id)
        layout.write_definition(record.name, record.pipeline, _pipeline_options(record.options))
        workers = self._workers(record.options.get("workers"), record.tier)

        def on_exit(error: str | None) -> None:
            current = self._records.get(record.name)
            if current is None or current.id != record.id or self._clusters.get(record.id) is not cluster:
                return
            del self._clusters[record.id]
            if error:
                log.warning("processor %s failed: %s", record.name, error)
            if record.id not in self._ephemeral:
                self._save(current.with_state(FAILED if error else STOPPED, error or ""))

        cluster = Cluster(layout, self._connections_file, workers, on_exit, record.started_at)
        self._clusters[record.id] = cluster
        cluster.start()

    async def _halt(self, record: ProcessorRecord, force: bool) -> None:
        cluster = self._clusters.pop(record.id, None)
        if cluster is not None:
            await cluster.stop(force)

    async def _remove(self, record: ProcessorRecord) -> None:
        """Stop a processor and forget it: definition, checkpoints, samples."""
        current = self._records.get(record.name)
        if current is None or current.id != record.id:
            return  # already removed (the shell drops an sp.process() that ended by itself)
        del self._records[record.name]
        ephemeral = self._ephemeral.pop(record.id, None) is not None
        for cursor in self._cursors.of_processor(record.id):
            self._cursors.close(cursor)
        await self._halt(record, force=True)
        Layout(self._data / "processors" / record.id).remove()
        self._locks.pop(record.id, None)
        if not ephemeral:
            self._store.delete(record.id)

    def _open_cursor(self, record: ProcessorRecord, connection_id: int) -> SampleCursor:
        return self._cursors.open(record.id, connection_id, str(Layout(self._data / "processors" / record.id).samples))

    def _close_cursor(self, cursor: SampleCursor) -> None:
        """Close a cursor; an sp.process() processor goes with its last cursor."""
        self._cursors.close(cursor)
        if cursor.processor_id in self._ephemeral and not self._cursors.of_processor(cursor.processor_id):
            record = next((r for r in self._records.values() if r.id == cursor.processor_id), None)
            if record is not None:
                asyncio.get_running_loop().create_task(self._remove(record))

    async def _sweep(self) -> None:
        """Expire idle cursors and sp.process() processors past their ten minutes."""
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            for cursor in self._cursors.idle():
                self._close_cursor(cursor)
            moment = time.monotonic()
            for record in [r for r in self._records.values() if self._ephemeral.get(r.id, moment + 1) < moment]:
                with contextlib.suppress(Exception):
                    await self._remove(record)

    def _metric_sources(self) -> list[tuple[str, list[tuple[int, dict]]]]:
        """(processor name, its processes' stats documents): called from the metrics thread."""
        return [
            (record.name, Layout(self._data / "processors" / record.id).stats_by_process())
            for record in list(self._records.values())
        ]


def _pipeline_options(options: dict) -> dict:
    """The options the translator checks and the flow runs with: all but the instance's own."""
    return {key: value for key, value in options.items() if key not in INSTANCE_OPTIONS}
