"""What a dossier page shows, read through the API's own functions: the dossier view (GET /dossiers/{code}),
its results once returned, its form data and attachments, and its step graph with the current step marked."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from markupsafe import Markup
from sqlmodel import Session

from api.dossier_service.definitions import definition_of
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
AWAITING = {"officer": mark("Chờ cán bộ"), "applicant": mark("Chờ người nộp"), "system": mark("Chờ hệ thống {system}")}


def dossier_context(
    request: Request, row: DossierRow, session: Session, secrets: LookupSecrets, *, applicant: bool
) -> dict[str, Any]:
    """`applicant`: the page is the applicant's, and shows the receipt's lookup secret (never an officer's)."""
    language = language_of(request)
    view = dossier_view(session.connection(), row, secrets, applicant=applicant, language=language)
    results = returned_results(session, row.code) if row.status == PortalStatus.result_returned else []
    return {
        "row": row,
        "view": view,
        "results": results,
        "status_names": STATUS_NAMES,
        "awaiting": AWAITING,
        "t": translator(language),
    }


def form_data(definition: ProcedureDefinition, values: dict[str, Any]) -> list[dict[str, Any]]:
    """The dossier's form values with their labels, in the order of the eForm (group items nested)."""

    def rows(fields: list[FormField], data: dict[str, Any]) -> list[dict[str, Any]]:
        shown = []
        for field in fields:
            if field.name not in data:
                continue
            value = data[field.name]
            entry: dict[str, Any] = {"label": field.label, "type": field.type.value, "value": value}
            if field.type == FieldType.group and isinstance(value, list):
                entry["group_items"] = [
                    rows(list(field.fields or []), item) for item in value if isinstance(item, dict)
                ]
            shown.append(entry)
        return shown

    return rows(list(definition.form.fields), values)


def step_graph_picture(row: DossierRow, session: Session) -> Markup:
    """The procedure's step graph (the version the dossier runs on) with its active steps outlined."""
    definition = definition_of(session, row).definition
    active = {step["step_id"] for step in row.active_steps}
    return Markup(step_graph.svg(definition, highlight=active))
