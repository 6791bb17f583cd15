"""Pictures of a procedure's step graph: Mermaid text, and an SVG drawn without any JavaScript."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from domain.definition import ProcedureDefinition, Step, StepKind

_MERMAID_SHAPES = {
    StepKind.reception: ("[", "]"),
    StepKind.review: ("[", "]"),
    StepKind.approval: ("[", "]"),
    StepKind.adapter: ("[[", "]]"),
    StepKind.notification: (">", "]"),
    StepKind.fee: ("{{", "}}"),
    StepKind.parallel: ("[/", "/]"),
    StepKind.child: ("[\\", "/]"),
    StepKind.result: ("([", "])"),
}


def _label(step: Step) -> str:
    who = f" · {step.role.value}" if step.role else ""
    if step.system:
        who = f" · {step.system}.{step.operation}"
    if step.procedure:
        who = f" · dossier {step.procedure}" + (f" at {step.unit.unit_code}" if step.unit.unit_code else "")
    days = f" · {step.budget_working_days}d" if step.budget_working_days else ""
    text = f"{step.name}{who}{days}"
    return text.replace('"', "'")


def mermaid(definition: ProcedureDefinition, highlight: set[str] | None = None) -> str:
    """A Mermaid flowchart: solid arrows for `next`, dotted for `return`, branches as subgraphs."""
    lines = ["flowchart TD", "  start((start))", "  finish((end))"]
    highlight = highlight or set()

    def scope(steps: list[Step], indent: str, exit_to: str) -> None:
        for step in steps:
            left, right = _MERMAID_SHAPES[step.kind]
            lines.append(f'{indent}{step.id}{left}"{_label(step)}"{right}')
            if step.skip_when:
                lines.append(f'{indent}{step.id} -. "skip when {step.skip_when}" .-> {step.next or exit_to}')
            for branch in step.branches or []:
                condition = f" — when {branch.when}" if branch.when else ""
                title = f"{branch.name}{condition}".replace('"', "'")
                lines.append(f'{indent}subgraph {branch.id}["{title}"]')
                scope(branch.steps, indent + "  ", f"{step.id}_join")
                lines.append(f"{indent}end")
                lines.append(f"{indent}{step.id} --> {branch.steps[0].id}")
            if step.branches:
                lines.append(f"{indent}{step.id}_join(( ))")
                lines.append(f"{indent}{step.id}_join --> {step.next or exit_to}")
            else:
                lines.append(f"{indent}{step.id} --> {step.next or exit_to}")
            if step.return_to:
                lines.append(f'{indent}{step.id} -. "return" .-> {step.return_to}')

    lines.append(f"  start --> {definition.start_step}")
    scope(definition.steps, "  ", "finish")
    for step_id in sorted(highlight):
        lines.append(f"  style {step_id} stroke:#d9480f,stroke-width:4px")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------- SVG

BOX_W, BOX_H, GAP_Y, GAP_X = 230, 46, 34, 30
_FILL = {
    StepKind.reception: "#e7f5ff",
    StepKind.review: "#e7f5ff",
    StepKind.approval: "#fff3bf",
    StepKind.adapter: "#f1f3f5",
    StepKind.notification: "#f1f3f5",
    StepKind.fee: "#ffe8cc",
    StepKind.parallel: "#ebfbee",
    StepKind.child: "#f3f0ff",
    StepKind.result: "#d3f9d8",
}


@dataclass
class _Box:
    step: Step
    x: int
    y: int


def _ordered(steps: list[Step], start: str) -> list[Step]:
    by_id = {s.id: s for s in steps}
    ordered, seen, current = [], set(), start
    while current is not None and current not in seen:
        seen.add(current)
        ordered.append(by_id[current])
        current = by_id[current].next
    return ordered + [s for s in steps if s.id not in seen]


def _layout(steps: list[Step], start: str, x: int, y: int, boxes: list[_Box]) -> tuple[int, int]:
    """Lay steps out top to bottom; branches side by side. Returns (width, bottom)."""
    width = BOX_W
    for step in _ordered(steps, start):
        boxes.append(_Box(step, x, y))
        y += BOX_H + GAP_Y
        if step.branches:
            bx, bottom = x, y
            for branch in step.branches:
                w, b = _layout(branch.steps, branch.steps[0].id, bx, y, boxes)
                bx += w + GAP_X
                bottom = max(bottom, b)
            width = max(width, bx - x - GAP_X)
            y = bottom
    return width, y


def svg(definition: ProcedureDefinition, highlight: set[str] | None = None) -> str:
    highlight = highlight or set()
    boxes: list[_Box] = []
    width, height = _layout(definition.steps, definition.start_step, 40, 20, boxes)
    where = {b.step.id: b for b in boxes}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width + 80}" height="{height + 20}" '
        f'viewBox="0 0 {width + 80} {height + 20}" font-family="sans-serif" font-size="12" role="img" '
        f'aria-label="{escape(definition.name)}">',
        "<defs><marker id='arrow' viewBox='0 0 10 10' refX='10' refY='5' markerWidth='7' markerHeight='7' "
        "orient='auto-start-reverse'><path d='M 0 0 L 10 5 L 0 10 z' fill='#495057'/></marker></defs>",
    ]

    def centre_bottom(b: _Box) -> tuple[int, int]:
        return b.x + BOX_W // 2, b.y + BOX_H

    def centre_top(b: _Box) -> tuple[int, int]:
        return b.x + BOX_W // 2, b.y

    for b in boxes:
        targets = [b.step.next] if b.step.next else []
        targets += [br.steps[0].id for br in b.step.branches or []]
        for target in targets:
            (x1, y1), (x2, y2) = centre_bottom(b), centre_top(where[target])
            parts.append(
                f'<path d="M {x1} {y1} C {x1} {y1 + 18}, {x2} {y2 - 18}, {x2} {y2}" fill="none" '
                f'stroke="#495057" marker-end="url(#arrow)"/>'
            )
        if b.step.return_to:
            target = where[b.step.return_to]
            parts.append(
                f'<path d="M {b.x} {b.y + BOX_H // 2} C {b.x - 35} {b.y}, {target.x - 35} {target.y + BOX_H}, '
                f'{target.x} {target.y + BOX_H // 2}" fill="none" stroke="#d9480f" stroke-dasharray="4 3" '
                f'marker-end="url(#arrow)"><title>return</title></path>'
            )
    for b in boxes:
        step = b.step
        stroke = ' stroke="#d9480f" stroke-width="3"' if step.id in highlight else ' stroke="#868e96"'
        dashed = ' stroke-dasharray="5 3"' if step.skip_when else ""
        parts.append(
            f"<g><title>{escape(step.id)}{' — skip when ' + escape(step.skip_when) if step.skip_when else ''}</title>"
            f'<rect x="{b.x}" y="{b.y}" width="{BOX_W}" height="{BOX_H}" rx="8" fill="{_FILL[step.kind]}"{stroke}{dashed}/>'
            f'<text x="{b.x + 10}" y="{b.y + 19}" font-weight="bold">{escape(step.name[:34])}</text>'
            f'<text x="{b.x + 10}" y="{b.y + 36}" fill="#495057">{escape(_subtitle(step))}</text></g>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _subtitle(step: Step) -> str:
    bits = [step.kind.value]
    if step.role:
        bits.append(step.role.value)
    if step.system:
        bits.append(f"{step.system}.{step.operation}")
    if step.procedure:
        bits.append(f"dossier {step.procedure}")
    if step.budget_working_days:
        bits.append(f"{step.budget_working_days} working day(s)")
    return " · ".join(bits)[:40]
