"""``$redact``: keep, prune or descend into each (sub)document by an expression.

https://www.mongodb.com/docs/manual/reference/operator/aggregation/redact/
"""

from __future__ import annotations

from typing import Any

from translator._types import MISSING
from translator.errors import ExpressionError
from translator.expressions import compile_expression
from translator.expressions.compile import ROOT_SCOPE
from translator.parse import Stage
from translator.plan import FLAT_MAP, STATELESS, PlanContext, StagePlan
from translator.stages._registry import stage_planner

DECISIONS = {"DESCEND": "descend", "PRUNE": "prune", "KEEP": "keep"}
DECISION_VARS = dict(DECISIONS)  # $$KEEP etc. evaluate to these markers


@stage_planner("$redact")
def plan_redact(stage: Stage, ctx: PlanContext) -> StagePlan:
    decide = compile_expression(stage.spec, (), ROOT_SCOPE.with_variables(DECISIONS))

    def redact(doc: dict) -> Any:
        decision = decide(doc, DECISION_VARS)
        if decision == "keep":
            return doc
        if decision == "prune":
            return MISSING
        if decision != "descend":
            msg = f"$redact's expression should not return anything aside from the variables $$KEEP, $$DESCEND, and $$PRUNE, but returned {decision!r}"
            raise ExpressionError(msg)
        out = {}
        for key, value in doc.items():
            if type(value) is dict:
                value = redact(value)
            elif type(value) is list:
                value = [kept for kept in (redact(v) if type(v) is dict else v for v in value) if kept is not MISSING]
            if value is not MISSING:
                out[key] = value
        return out

    def redact_root(doc: dict) -> list:
        result = redact(doc)
        return [] if result is MISSING else [result]

    return StagePlan(stage, STATELESS, "redact by $$KEEP/$$PRUNE/$$DESCEND", kind=FLAT_MAP, doc_fn=redact_root)
