"""``sluice translate``: what each stage became, which stages fused, and a Mermaid graph."""

from __future__ import annotations

from translator.fusion import fused_step_id, segments
from translator.plan import SINK, STATELESS, StagePlan


def _steps(group: list[StagePlan]) -> list[str]:
    if group[0].role == STATELESS:
        return [fused_step_id(group)]
    return list(group[0].steps) or [group[0].stage.step_id]


def explain(plans: list[StagePlan]) -> str:
    """One line per stage, grouped by the Bytewax step(s) it runs in."""
    lines = []
    for group in segments(plans):
        steps = ", ".join(_steps(group))
        fused = f" (fused: {len(group)} stages, one batch step)" if len(group) > 1 else ""
        lines.append(f"step {steps}{fused}")
        for plan in group:
            lines.append(f"  stage {plan.stage.index} {plan.stage.name}: {plan.description}")
    if plans[-1].role != SINK:
        lines.append("step output: print each document as relaxed Extended JSON")
    lines.append("step dlq: dead letters from every step above")
    return "\n".join(lines)


def mermaid(plans: list[StagePlan]) -> str:
    """The dataflow as a Mermaid flowchart: main path plus dead-letter edges."""
    lines = ["flowchart LR"]
    nodes = []
    for i, group in enumerate(segments(plans)):
        label = " + ".join(plan.stage.name for plan in group)
        nodes.append(f"s{i}")
        lines.append(f'  s{i}["{", ".join(_steps(group))}<br/>{label}"]')
    if plans[-1].role != SINK:
        nodes.append("out")
        lines.append('  out["output<br/>stdout"]')
    lines.extend(f"  {a} --> {b}" for a, b in zip(nodes, nodes[1:]))
    lines.append('  dlq[("dlq")]')
    lines.extend(f"  {node} -. dead letters .-> dlq" for node in nodes if node != "out")
    return "\n".join(lines)
