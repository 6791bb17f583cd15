"""What a dossier page shows, read through the API's own functions: the dossier view (GET /dossiers/{code}),
its results once returned, its form data and attachments, and its step graph with the current step marked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from markupsafe import Markup
from sqlmodel import Session

from api.dossier_service.definitions import definition_of
from api.dossier_service.my_dossiers import applicant_task
from api.dossier_service.results import returned_results
from api.dossier_service.views import dossier_view
from api.pages.i18n import language_of, translator
from domain import step_graph
from domain.definition import FieldType, FormField, ProcedureDefinition
from domain.dossier import STATUS_NAMES_VI, PortalStatus
from domain.wording import mark
from infrastructure.lookup_secret import LookupSecrets
from readmodel.tables import DossierRow

STATUS_NAMES = {int(status): name for status, name in STATUS_NAMES_VI.items()}
AWAITING = {
    "officer": mark("Chờ cán bộ"),
    "applicant": mark("Chờ người nộp"),
    "system": mark("Chờ hệ thống {system}"),
    "agency": mark("Chờ cơ quan liên quan xử lý"),
}


def dossier_context(
    request: Request, row: DossierRow, session: Session, secrets: LookupSecrets, *, applicant: bool
) -> dict[str, Any]:
    """`applicant`: the page is the applicant's, and shows the receipt's lookup secret (never an officer's)."""
    language = language_of(request)
    view = dossier_view(session.connection(), row, secrets, applicant=applicant, language=language)
    results = returned_results(session, row.code) if row.status == PortalStatus.result_returned else []
    definition = definition_of(session, row).definition
    return {
        "row": row,
        "view": view,
        "results": results,
        "status_names": STATUS_NAMES,
        "awaiting": AWAITING,
        "t": translator(language),
        "task": applicant_task(row),
        "definition": definition,  # the version the dossier runs on, read once for the whole page
        "progress": progress_line(definition, row, view.timeline),
        "child_link_base": "/citizen/dossiers",
    }


@dataclass(frozen=True)
class ProgressStep:
    name: str
    state: str  # done | current | pending


def progress_line(definition: ProcedureDefinition, row: DossierRow, timeline: list[Any]) -> list[ProgressStep]:
    """The procedure's top-level steps in the order its path takes them (declared order for those off the path),
    each done (the dossier has been there and left), current (it is there now) or pending."""
    by_id = {step.id: step for step in definition.steps}
    ordered: list[str] = []
    current_id: str | None = definition.steps[0].id if definition.steps else None
    while current_id is not None and current_id in by_id and current_id not in ordered:
        ordered.append(current_id)
        current_id = by_id[current_id].next
    ordered += [step.id for step in definition.steps if step.id not in ordered]
    active = {step["step_id"] for step in row.active_steps}
    visited = {entry.step_id for entry in timeline if entry.step_id}
    finished = row.completed_at is not None
    line = []
    for step_id in ordered:
        if step_id in active:
            state = "current"
        elif step_id in visited or (finished and row.outcome == "completed"):
            state = "done"
        else:
            state = "pending"
        line.append(ProgressStep(by_id[step_id].name, state))
    return line


def form_data(definition: ProcedureDefinition, values: dict[str, Any], language: str = "vi") -> list[dict[str, Any]]:
    """The dossier's form values with their labels, in the order of the eForm (group items nested); a choice's value
    as people read it."""

    def rows(fields: list[FormField], data: dict[str, Any]) -> list[dict[str, Any]]:
        shown = []
        for field in fields:
            if field.name not in data:
                continue
            value = data[field.name]
            if field.type == FieldType.choice and isinstance(value, str):
                value = field.option_label(value, language)
            elif field.type == FieldType.multi_choice and isinstance(value, list):
                value = [field.option_label(v, language) if isinstance(v, str) else v for v in value]
            entry: dict[str, Any] = {"label": field.label, "type": field.type.value, "value": value}
            if field.type == FieldType.group and isinstance(value, list):
                entry["group_items"] = [
                    rows(list(field.fields or []), item) for item in value if isinstance(item, dict)
                ]
            shown.append(entry)
        return shown

    return rows(list(definition.form.fields), values)


def step_graph_picture(definition: ProcedureDefinition, row: DossierRow, t: Any) -> Markup:
    """The procedure's step graph (the version the dossier runs on) with its active steps outlined; a sentence
    saying why when it cannot be drawn now (the rest of the page does not depend on it)."""
    active = {step["step_id"] for step in row.active_steps}
    try:
        return Markup(step_graph.svg(definition, highlight=active, t=t))
    except step_graph.DrawingUnavailable:
        return Markup('<p class="graph-unavailable">') + t("Không vẽ được sơ đồ quy trình lúc này.") + Markup("</p>")
