"""``$cachedLookup``: ``$lookup`` by equality, served from a TTL cache bounded in bytes.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-cachedlookup/
"""

from __future__ import annotations

from connectors.mongodb_lookup import CachedMongoLookup
from translator._types import MISSING
from translator.errors import SpecError
from translator.parse import Stage
from translator.plan import CHUNK, STATELESS, PlanContext, StagePlan
from translator.stages._registry import stage_planner
from translator.stages.lookup import as_path, compile_local_field, lookup_chunk, resolve_from

SECONDS_PER_UNIT = {"ms": 0.001, "second": 1, "minute": 60, "hour": 3600, "day": 86400}


@stage_planner("$cachedLookup")
def plan_cached_lookup(stage: Stage, ctx: PlanContext) -> StagePlan:
    spec = stage.spec
    connection, db, coll = resolve_from(stage, ctx)
    ttl = spec["ttl"]["size"] * SECONDS_PER_UNIT[spec["ttl"]["unit"]]
    if ttl <= 0:
        msg = f"ttl must be a positive duration; got {spec['ttl']['size']} {spec['ttl']['unit']}"
        raise SpecError(msg, ("ttl", "size"))
    budget = spec.get("maxMemUsageBytes")
    if budget is not None and (type(budget) is not int or budget <= 0):
        msg = f"maxMemUsageBytes must be a positive integer; got {budget!r}"
        raise SpecError(msg, ("maxMemUsageBytes",))
    read_preference = spec["from"].get("readPreference")
    if read_preference is not None and type(read_preference) is not str:
        msg = f"from.readPreference must be a read preference mode name; got {read_preference!r}"
        raise SpecError(msg, ("from", "readPreference"))
    local_value = compile_local_field(spec)
    client_options = {"readPreference": read_preference} if read_preference else {}

    def make(uri: str) -> CachedMongoLookup:
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
