"""``$lookup`` against a MongoDB collection: one query per chunk, never one per document.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-lookup/
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from runtime.dead_letters import DeadLetters, dead_letter
from translator._types import MISSING, NO_VARS
from translator.errors import SpecError
from translator.expressions import compile_expression
from translator.parse import Stage
from translator.plan import CHUNK, STATELESS, PlanContext, StagePlan
from translator.stages._registry import stage_planner
from translator.stages.lookup_documents import plan_documents_lookup, starts_with_documents

Doc = dict


def resolve_from(stage: Stage, ctx: PlanContext) -> tuple[dict | None, str, str]:
    """The ``from: {connectionName, db, coll}`` connection (None without a registry), db, coll."""
    source = stage.spec.get("from")
    if type(source) is not dict:
        msg = "from must be {connectionName, db, coll}, or pipeline must start with $documents"
        raise SpecError(msg, ("from",))
    for part in ("db", "coll"):
        if type(source[part]) is not str or not source[part] or source[part].startswith("$"):
            msg = f"from.{part} must be a name; got {source[part]!r}"
            raise SpecError(msg, ("from", part))
    why = f"but {stage.name} reads MongoDB"
    connection = ctx.connection(source.get("connectionName"), "mongodb", ("from", "connectionName"), why)
    return connection, source["db"], source["coll"]


def compile_local_field(spec: dict) -> Callable[[Doc], Any]:
    fn = compile_expression("$" + spec["localField"], ("localField",))
    return lambda doc: fn(doc, NO_VARS)


def as_path(spec: dict) -> tuple[str, ...]:
    parts = tuple(spec["as"].split("."))
    if any(not part or part.startswith("$") for part in parts):
        msg = f"as must be a field path without empty parts or '$'; got {spec['as']!r}"
        raise SpecError(msg, ("as",))
    return parts


def lookup_chunk(stage: Stage, connection: dict | None, make: Callable[[str], Any], as_parts: tuple) -> Callable:
    """``enrich(docs, dead)``, a chunk at a time: each worker thread queries through its own
    lookup object (``make(uri)``, a :mod:`connectors.mongodb_lookup` object), so the stage
    fuses with its neighbours and runs inside window pipelines.

    A chunk whose lookup fails for a reason other than the server (an expression
    failing on one document) is redone document by document, and the failing
    documents go to the DLQ.
    """
    where = stage.location
    # One lookup (and client) per worker thread, by OS thread id: Bytewax may recreate a
    # worker's Python thread state between calls, which empties any threading.local.
    lookups: dict[int, Any] = {}

    def enrich(docs: list, dead: DeadLetters) -> list:
        if not docs:
            return docs
        lookup = lookups.get(threading.get_ident())
        if lookup is None:
            lookup = lookups[threading.get_ident()] = make(connection["uri"])
        try:
            return [_with(doc, as_parts, found) for doc, found in zip(docs, lookup.lookup(docs))]
        except lookup.server_errors:
            raise
        except Exception:  # one document's expression failed: find it, keep the rest
            kept = []
            for doc in docs:
                try:
                    kept.append(_with(doc, as_parts, lookup.lookup([doc])[0]))
                except lookup.server_errors:
                    raise
                except Exception as exc:
                    dead.append(dead_letter(doc, f"{where}: {exc}"))
            return kept

    def state_bytes() -> int:
        """``$cachedLookup``'s cache is its state."""
        return getattr(lookups.get(threading.get_ident()), "cached_bytes", 0)

    enrich.state_bytes = state_bytes
    return enrich


def _with(doc: Doc, parts: tuple, value: Any) -> Doc:
    """``doc`` (which this step owns) with ``parts`` set to ``value``; embedded documents on
    the path are copied, since others may share them."""
    if len(parts) > 1:
        inner = doc.get(parts[0])
        value = _with(dict(inner) if type(inner) is dict else {}, parts[1:], value)
    doc[parts[0]] = value
    return doc


@stage_planner("$lookup")
def plan_lookup(stage: Stage, ctx: PlanContext) -> StagePlan:
    spec = stage.spec
    if ("localField" in spec) != ("foreignField" in spec):
        msg = "localField and foreignField go together"
        raise SpecError(msg, ("localField" if "localField" not in spec else "foreignField",))
    if starts_with_documents(spec):
        return plan_documents_lookup(stage, ctx, as_path(spec), _with)
    connection, db, coll = resolve_from(stage, ctx)
    pipeline = spec.get("pipeline")
    if "localField" not in spec and pipeline is None:
        msg = "expected localField/foreignField, a pipeline, or both"
        raise SpecError(msg)
    if pipeline is not None and not all(type(step) is dict and len(step) == 1 for step in pipeline):
        msg = "pipeline must be an array of stages, each an object with one field"
        raise SpecError(msg, ("pipeline",))
    if "let" in spec and pipeline is None:
        msg = "let needs a pipeline that uses its variables"
        raise SpecError(msg, ("let",))
    local_value = compile_local_field(spec) if "localField" in spec else None
    let = {}
    for name, expression in spec.get("let", {}).items():
        fn = compile_expression(expression, ("let", name))
        let[name] = lambda doc, fn=fn: fn(doc, NO_VARS)
    as_parts = as_path(spec)

    def make(uri: str) -> Any:
        """The worker's lookup, built at its first chunk: pymongo loads only when a flow runs."""
        from connectors.mongodb_lookup import MongoLookup

        return MongoLookup(
            uri,
            db,
            coll,
            local_value=local_value,
            foreign_field=spec.get("foreignField"),
            let=let,
            pipeline=pipeline,
            missing=MISSING,
        )

    if local_value is not None and pipeline is None:
        how = f"one $in query per chunk on {spec['foreignField']}"
    else:
        how = "one aggregate per chunk ($documents + $lookup run by the server)"
    description = f"look up {db}.{coll} into {spec['as']}: {how}"
    if "parallelism" in spec or "partitionBy" in spec:
        description += "; parallelism/partitionBy: batching per chunk takes their place"
    return StagePlan(stage, STATELESS, description, kind=CHUNK, doc_fn=lookup_chunk(stage, connection, make, as_parts))
