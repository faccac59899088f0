"""``$cachedLookup``: ``$lookup`` by equality, served from a TTL cache bounded in bytes.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-cachedlookup/
"""

from __future__ import annotations

from typing import Any

from translator._types import MISSING
from translator.errors import SpecError
from translator.parse import Stage
from translator.plan import CHUNK, STATELESS, PlanContext, StagePlan
from translator._spec_values import integer_value
from translator.stages._registry import stage_planner
from translator.stages.lookup import as_path, compile_local_field, lookup_chunk, resolve_from
from translator.windows.spec import duration


@stage_planner("$cachedLookup")
def plan_cached_lookup(stage: Stage, ctx: PlanContext) -> StagePlan:
    spec = stage.spec
    connection, db, coll = resolve_from(stage, ctx)
    ttl = duration(spec["ttl"], ("ttl",)).total_seconds()
    budget = spec.get("maxMemUsageBytes")
    if budget is not None:
        budget = integer_value(budget, ("maxMemUsageBytes",), 1, 2**63 - 1, "maxMemUsageBytes")
    read_preference = spec["from"].get("readPreference")
    if read_preference is not None and type(read_preference) is not str:
        msg = f"from.readPreference must be a read preference mode name; got {read_preference!r}"
        raise SpecError(msg, ("from", "readPreference"))
    local_value = compile_local_field(spec)
    client_options = {"readPreference": read_preference} if read_preference else {}

    def make(uri: str) -> Any:
        """The worker's cached lookup, built at its first chunk: pymongo loads only when a flow runs."""
        from connectors.mongodb_lookup import CachedMongoLookup

        return CachedMongoLookup(
            uri,
            db,
            coll,
            local_value=local_value,
            foreign_field=spec["foreignField"],
            ttl_seconds=ttl,
            max_mem_usage_bytes=budget,
            missing=MISSING,
            client_options=client_options,
        )

    limit = "10% of RAM" if budget is None else f"{budget} bytes"
    description = (
        f"look up {db}.{coll} into {spec['as']} by {spec['localField']} = {spec['foreignField']}, cached for "
        f"{ttl:g} s in at most {limit} per worker; misses cost one $in query per chunk"
    )
    return StagePlan(stage, STATELESS, description, kind=CHUNK, doc_fn=lookup_chunk(stage, connection, make, as_path(spec)))
