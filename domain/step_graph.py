"""Pictures of a procedure's step graph: Mermaid text, and an SVG laid out by Graphviz's `dot` (no JavaScript).

The SVG is drawn from a DOT description built here (deterministic: the same definition gives the same bytes) by the
`dot` program (Debian's `graphviz`, installed by `make setup`), run as a subprocess with a time limit. Every step
shows its whole name, wrapped between words; every transition is an edge: `next`, the start of each parallel branch
(labelled with its `when`), the end of each branch into the branches' join, and officers' `return` (dashed)."""

from __future__ import annotations

import functools
import re
import subprocess
import textwrap
from collections.abc import Callable
from html import escape

from domain.definition import ProcedureDefinition, Role, Step, StepKind
from domain.wording import mark

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


# ------------------------------------------------------------------------------------- SVG (Graphviz)

DOT_COMMAND = "dot"  # found on PATH
DOT_TIMEOUT_SECONDS = 10
NAME_WIDTH = 28  # characters on a line of a step's name before it wraps (between words, never inside one)
FONT = "DejaVu Sans,Arial,sans-serif"

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
KIND_NAMES = {
    StepKind.reception: mark("tiếp nhận"),
    StepKind.review: mark("thẩm định"),
    StepKind.approval: mark("phê duyệt"),
    StepKind.adapter: mark("gọi hệ thống"),
    StepKind.notification: mark("thông báo"),
    StepKind.fee: mark("thu phí, lệ phí"),
    StepKind.parallel: mark("song song"),
    StepKind.child: mark("hồ sơ liên thông"),
    StepKind.result: mark("trả kết quả"),
}
ROLE_NAMES = {
    Role.reception: mark("cán bộ tiếp nhận"),
    Role.specialist: mark("cán bộ chuyên môn"),
    Role.leader: mark("lãnh đạo"),
}


# Words inside the picture (marked here: the DOT text is built in f-strings, which extraction does not read).
_START, _END, _JOINED = mark("Bắt đầu"), mark("Kết thúc"), mark("Các nhánh đã xong")
_WHEN, _RETURN, _PICTURE_OF = mark("khi {condition}"), mark("trả lại"), mark("Sơ đồ quy trình của {name}")


class DrawingUnavailable(RuntimeError):
    """The picture cannot be drawn now: Graphviz's `dot` is missing, failed or took too long."""


_STEP_GROUP = re.compile(r'(<g id="step_[^"]*".*?</g>)', re.S)


_BOLD_TEXT = re.compile(r'<text (?=[^>]*font-weight="bold")')


def _names_in_their_language(picture: str) -> str:
    """Step names are the definition's words, in Vietnamese whatever the reader's language: their lines (the bold
    ones of a step's box) say so, as the picture's own words around them need not."""
    return _STEP_GROUP.sub(lambda m: _BOLD_TEXT.sub('<text lang="vi" ', m.group(1)), picture)


def _same(text: str, **values: object) -> str:
    return text.format(**values) if values else text


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _lines(text: str, width: int) -> list[str]:
    """Wrapped at spaces only: a word longer than the line stays whole on a line of its own."""
    return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False) or [text]


def _html_label(title: str, detail: str, *, title_width: int = NAME_WIDTH) -> str:
    """One table row a line (rows leave room for Vietnamese diacritics): the name in bold, then the detail."""
    rows = [f"<TR><TD><B>{escape(line)}</B></TD></TR>" for line in _lines(title, title_width)]
    rows += [
        f'<TR><TD><FONT POINT-SIZE="10" COLOR="#343a40">{escape(line)}</FONT></TD></TR>'
        for line in (_lines(detail, 40) if detail else [])
    ]
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{"".join(rows)}</TABLE>>'


def _detail(step: Step, t: Callable[..., str]) -> str:
    bits = [t(KIND_NAMES[step.kind])]
    if step.role:
        bits.append(t(ROLE_NAMES[step.role]))
    if step.system:
        bits.append(f"{step.system}.{step.operation}")
    if step.procedure:
        if step.unit.unit_code:
            bits.append(t("thủ tục {code} tại {unit}", code=step.procedure, unit=step.unit.unit_code))
        else:
            bits.append(t("thủ tục {code}", code=step.procedure))
    if step.budget_working_days:
        bits.append(t("{days} ngày làm việc", days=step.budget_working_days))
    if step.skip_when:
        bits.append(t("bỏ qua khi {condition}", condition=step.skip_when))
    return " · ".join(bits)


def dot_source(
    definition: ProcedureDefinition, highlight: set[str] | None = None, t: Callable[..., str] = _same
) -> str:
    """The graph in Graphviz's DOT language, top to bottom, parallel branches side by side in frames."""
    highlight = highlight or set()
    lines = [
        f"digraph {_quoted(definition.name)} {{",
        f'  graph [rankdir=TB, nodesep=0.35, ranksep=0.45, pad=0.15, fontname="{FONT}", fontsize=12, '
        'bgcolor="white", labeljust=l];',
        f'  node [shape=box, style=filled, color="#868e96", fontname="{FONT}", fontsize=13, margin="0.18,0.08"];',
        f'  edge [color="#495057", fontcolor="#343a40", fontname="{FONT}", fontsize=11, arrowsize=0.8];',
        f'  "__start" [id="start", shape=oval, fillcolor="#ffffff", label={_html_label(t(_START), "")}];',
        f'  "__end" [id="end", shape=oval, fillcolor="#ffffff", label={_html_label(t(_END), "")}];',
    ]
    edges = [f'  "__start" -> "{definition.start_step}";']

    def scope(steps: list[Step], indent: str, exit_to: str) -> None:
        for step in steps:
            marked = ', color="#d9480f", penwidth=3' if step.id in highlight else ""
            dashed = ', style="filled,dashed"' if step.skip_when else ""
            lines.append(
                f'{indent}"{step.id}" [id="step_{step.id}", '
                f'fillcolor="{_FILL[step.kind]}", label={_html_label(step.name, _detail(step, t))}{marked}{dashed}];'
            )
            after = step.next or exit_to
            if step.branches:
                join = f"{step.id}__join"
                lines.append(
                    f'{indent}"{join}" [id="join_{step.id}", shape=box, style="rounded,filled", '
                    f'fillcolor="{_FILL[StepKind.parallel]}", label={_html_label(t(_JOINED), "", title_width=20)}];'
                )
                for branch in step.branches:
                    lines.append(f'{indent}subgraph "cluster_{step.id}__{branch.id}" {{')
                    lines.append(
                        f'{indent}  id="branch_{branch.id}"; style="rounded,dashed"; color="#2b8a3e"; '
                        f"label={_html_label(branch.name, '', title_width=34)};"
                    )
                    scope(branch.steps, indent + "  ", join)
                    lines.append(f"{indent}}}")
                    when = f", label={_quoted(t(_WHEN, condition=branch.when))}" if branch.when else ""
                    edges.append(f'  "{step.id}" -> "{branch.steps[0].id}" [id="edge_{step.id}_{branch.id}"{when}];')
                edges.append(f'  "{join}" -> "{after}";')
            else:
                edges.append(f'  "{step.id}" -> "{after}";')
            if step.return_to:
                edges.append(
                    f'  "{step.id}" -> "{step.return_to}" [id="return_{step.id}", style=dashed, '
                    f'color="#c92a2a", fontcolor="#c92a2a", constraint=false, label={_quoted(t(_RETURN))}];'
                )

    scope(definition.steps, "  ", "__end")
    lines += [*edges, "}"]
    return "\n".join(lines) + "\n"


@functools.lru_cache(maxsize=256)
def _drawn(source: str) -> str:
    try:
        done = subprocess.run(
            [DOT_COMMAND, "-Tsvg"], input=source.encode(), capture_output=True, timeout=DOT_TIMEOUT_SECONDS, check=False
        )
    except FileNotFoundError as exc:
        raise DrawingUnavailable("Graphviz's `dot` is not installed (Debian package graphviz; `make setup`)") from exc
    except subprocess.TimeoutExpired as exc:
        raise DrawingUnavailable(f"Graphviz's `dot` took longer than {DOT_TIMEOUT_SECONDS} s") from exc
    if done.returncode != 0:
        raise DrawingUnavailable(f"Graphviz's `dot` failed: {done.stderr.decode(errors='replace')[:300]}")
    picture = done.stdout.decode()
    return picture[picture.index("<svg") :]  # no XML prolog: the same text serves as a document and inline in pages


def svg(definition: ProcedureDefinition, highlight: set[str] | None = None, t: Callable[..., str] = _same) -> str:
    """The step graph as SVG; `highlight`: the steps under way, outlined. Raises DrawingUnavailable."""
    picture = _names_in_their_language(_drawn(dot_source(definition, highlight, t)))
    label = f' role="img" aria-label="{escape(t(_PICTURE_OF, name=definition.name))}"'
    return picture.replace("<svg", "<svg" + label, 1)
