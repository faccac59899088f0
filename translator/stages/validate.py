"""``$validate``: documents that fail the validator are discarded or sent to the DLQ.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-validate/
"""

from __future__ import annotations

from typing import Any, Callable

from runtime import ejson
from translator.errors import ExpressionError, SpecError
from translator.parse import Stage
from translator.plan import FILTER, STATELESS, PlanContext, StagePlan
from translator.query import compile_query
from translator.query.json_schema import first_violation, nested_keys, schema_validator
from translator.stages._registry import stage_planner

# Stream operators need an index or a text engine, which a stream does not have.
NOT_ALLOWED = ("$near", "$nearSphere", "$text", "$where")


def _check_allowed(validator: Any, at: tuple) -> None:
    for key, where in nested_keys(validator, at):
        if key in NOT_ALLOWED:
            msg = f"{key} is not allowed in $validate"
            raise SpecError(msg, where)


def _explainer(validator: dict) -> Callable[[dict], str]:
    """Name the first top-level rule a document breaks, for the DLQ record."""
    rules = []
    for key, condition in validator.items():
        if key == "$jsonSchema":
            schema = schema_validator(condition, ("validator", key))
            rules.append(lambda doc, schema=schema: first_violation(schema, doc))
        else:
            test = compile_query({key: condition}, ("validator",))
            text = ejson.dumps({key: condition})
            rules.append(lambda doc, test=test, text=text: None if test(doc) else f"failed rule {text}")

    def explain(doc: dict) -> str:
        for rule in rules:
            reason = rule(doc)
            if reason:
                return f"document failed $validate: {reason}"
        return "document failed $validate"

    return explain


@stage_planner("$validate")
def plan_validate(stage: Stage, ctx: PlanContext) -> StagePlan:
    _check_allowed(stage.spec["validator"], ("validator",))
    validator = compile_query(stage.spec["validator"], ("validator",))
    if stage.spec.get("validationAction", "discard") == "discard":
        return StagePlan(stage, STATELESS, "discard documents failing the validator", kind=FILTER, doc_fn=validator)
    explain = _explainer(stage.spec["validator"])

    def valid_or_dead(doc: dict) -> bool:
        if validator(doc):
            return True
        raise ExpressionError(explain(doc))

    return StagePlan(stage, STATELESS, "send documents failing the validator to the DLQ", kind=FILTER, doc_fn=valid_or_dead)
