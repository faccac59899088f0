"""``$lookup`` without ``from`` (Atlas's collectionless form): the pipeline starts with
``$documents`` and sluice runs it in process, with no database.

``$documents`` may read the ``let`` variables; the stages after it run through the core's
stateless planners (they see the documents, not the variables). With ``localField`` and
``foreignField`` the results join by MongoDB's equality. A constant ``$documents`` without
``let`` is computed and indexed once.
https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-lookup/
"""

from __future__ import annotations

from typing import Any, Callable

from runtime.dead_letters import DeadLetters
from connectors.bson_equality import hashable, values_at
from translator._types import MISSING, NO_VARS
from translator.errors import ExpressionError, SpecError
from translator.expressions import compile_expression
from translator.expressions.compile import ROOT_SCOPE
from translator.parse import Stage
from translator.plan import MAP, STATELESS, PlanContext, StagePlan
from translator.windows.plan import inner_stages_compiler


def starts_with_documents(spec: dict) -> bool:
    pipeline = spec.get("pipeline")
    return "from" not in spec and type(pipeline) is list and bool(pipeline) and type(pipeline[0]) is dict and "$documents" in pipeline[0]


def _is_constant(spec: Any) -> bool:
    if type(spec) is str:
        return not spec.startswith("$")
    if type(spec) is dict:
        return all(not key.startswith("$") and _is_constant(value) for key, value in spec.items())
    if type(spec) is list:
        return all(_is_constant(item) for item in spec)
    return True


def _pipeline_runner(stages: list, ctx: PlanContext) -> Callable[[list], list]:
    """The stages after ``$documents``, fused as the core fuses stateless stages."""
    if not stages:
        return lambda docs: docs
    run = inner_stages_compiler(ctx, "the pipeline of a $lookup without from")([(i, body) for i, body in enumerate(stages, start=1)])

    def through(docs: list) -> list:
        out = []
        for chunk in run([docs]):
            if isinstance(chunk, DeadLetters):
                raise ExpressionError(f"the $lookup pipeline failed: {chunk[0]['errInfo']['reason']}")
            out.extend(chunk)
        return out

    return through


def plan_documents_lookup(stage: Stage, ctx: PlanContext, as_parts: tuple, set_as: Callable) -> StagePlan:
    spec = stage.spec
    pipeline = spec["pipeline"]
    let = spec.get("let", {})
    if type(let) is not dict:
        msg = "let must be an object of variable expressions"
        raise SpecError(msg, ("let",))
    variables = [(name, compile_expression(expression, ("let", name))) for name, expression in let.items()]
    source = pipeline[0]["$documents"]
    documents = compile_expression(source, ("pipeline", "0", "$documents"), ROOT_SCOPE.with_variables(let))
    rest = _pipeline_runner(pipeline[1:], ctx)
    foreign = tuple(spec["foreignField"].split(".")) if "foreignField" in spec else None
    local = compile_expression("$" + spec["localField"], ("localField",)) if "localField" in spec else None

    def results(doc: dict) -> list:
        bound = {}
        for name, fn in variables:
            value = fn(doc, NO_VARS)
            if value is not MISSING:
                bound[name] = value
        found = documents(doc, bound)
        if type(found) is not list or not all(type(item) is dict for item in found):
            raise ExpressionError(f"$documents must give an array of objects; got {found!r}")
        return rest([dict(item) for item in found])

    def index(docs: list) -> dict:
        by_key: dict = {}
        for item in docs:
            for key in {hashable(value) for value in values_at(item, foreign)}:
                by_key.setdefault(key, []).append(item)
        return by_key

    def local_keys(doc: dict) -> list:
        value = local(doc, NO_VARS)
        values = [None] if value is MISSING else value if type(value) is list else [value]
        return list(dict.fromkeys(hashable(item) for item in values))

    def join(by_key: dict, doc: dict) -> list:
        matched: dict[int, dict] = {}
        for key in local_keys(doc):
            for item in by_key.get(key, ()):
                matched.setdefault(id(item), item)
        return [dict(item) for item in matched.values()]

    if not variables and _is_constant(source):
        cache: list = []  # [results, index], computed at the first document

        def lookup_constant(doc: dict) -> dict:
            if not cache:
                found = results({})
                cache.extend([found, index(found) if foreign else None])
            found, by_key = cache
            return set_as(doc, as_parts, join(by_key, doc) if foreign else [dict(item) for item in found])

        doc_fn, how = lookup_constant, "computed once"
    else:

        def lookup_each(doc: dict) -> dict:
            found = results(doc)
            return set_as(doc, as_parts, join(index(found), doc) if foreign else found)

        doc_fn, how = lookup_each, "per document"
    return StagePlan(stage, STATELESS, f"look up the pipeline's $documents ({how}, in process) into {spec['as']}", kind=MAP, doc_fn=doc_fn)
