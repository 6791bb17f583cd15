"""A dossier's printable papers: the receipt (form 01) and the process-control slip (form 06)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel
from sqlmodel import Session

from api import browser_session
from api.access import ReadableDossier, is_applicant
from api.deps import LookupSecretDep, LookupSecretsDep, PrincipalDep, SessionDep, SettingsDep
from api.dossier_service.definitions import definition_of, dossier_time_limit
from api.dossier_service.views import receipt
from forms.printable import (
    HandOff,
    SupplementCycle,
    Timeliness,
    hand_offs,
    render_process_control_slip,
    render_receipt,
    supplement_cycles,
)
from readmodel import dossiers, organisation
from readmodel.db import utcnow
from readmodel.tables import DossierRow

router = APIRouter(prefix="/dossiers", tags=["dossiers"])


class HandOffOut(BaseModel):
    step_id: str
    step_name: str
    unit_code: str | None
    role: str | None
    handed_over_at: datetime
    due_at: datetime | None
    finished_at: datetime | None
    finished_by: str | None
    outcome: str | None
    timeliness: Timeliness


@router.get("/{code}/receipt.html", response_class=HTMLResponse)
def receipt_page(
    request: Request,
    row: ReadableDossier,
    session: SessionDep,
    secrets: LookupSecretsDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    secret: LookupSecretDep,
) -> HTMLResponse:
    """Form 01, printable: the receipt with the dossier code and the appointment; with the lookup secret for the
    applicant, and once for the counter officer who has just received the dossier (to hand it over). Officers'
    later reprints do not show it."""
    received = browser_session.receipt_secret(request, row.code)
    with_secret = is_applicant(row, principal, secrets, secret) or (
        received is not None and secrets.matches(row.code, received)
    )
    definition = definition_of(session, row).definition
    directory = organisation.directory(session)
    received_by = (
        (row.submitted_by or {}).get("actor_id") if (row.submitted_by or {}).get("kind") == "officer" else None
    )
    page = HTMLResponse(render_receipt(
        receipt(row, secrets, with_secret=with_secret),
        row.applicant,
        unit_names={code: unit.name for code, unit in directory.units.items()},
        time_limit_working_days=dossier_time_limit(row, definition),
        received_by=received_by,
        zone=ZoneInfo(settings.timezone),
    ))  # fmt: skip
    if received is not None:
        browser_session.forget_receipt_secret(page, settings, row.code)
    return page


def _hand_offs(row: DossierRow, session: Session) -> list[HandOff]:
    definition = definition_of(session, row).definition
    names = {step.id: step.name for _, step in definition.all_steps()}
    return hand_offs(dossiers.events(session, row.code), names)


@router.get("/{code}/process-control")
def process_control(row: ReadableDossier, session: SessionDep, settings: SettingsDep) -> list[HandOffOut]:
    """Form 06 as data: each hand-off to a unit, its deadline, who finished it and whether on time."""
    now, zone = utcnow(), ZoneInfo(settings.timezone)
    return [HandOffOut(**vars(h), timeliness=h.timeliness(now, zone)) for h in _hand_offs(row, session)]


@router.get("/{code}/process-control.html", response_class=HTMLResponse)
def process_control_page(row: ReadableDossier, session: SessionDep, settings: SettingsDep) -> str:
    """Form 06, printable."""
    return render_process_control_slip(
        dossier_code=row.code,
        procedure_name=row.procedure_name,
        appointment_date=row.appointment_date,
        handoffs=_hand_offs(row, session),
        now=utcnow(),
        zone=ZoneInfo(settings.timezone),
        supplements=_supplement_cycles(row, session),
    )


def _supplement_cycles(row: DossierRow, session: Session) -> list[SupplementCycle]:
    definition = definition_of(session, row).definition
    names = {step.id: step.name for _, step in definition.all_steps()}
    return supplement_cycles(dossiers.events(session, row.code), names)


@router.get("/{code}/process-control/supplements")
def process_control_supplements(row: ReadableDossier, session: SessionDep) -> list[SupplementCycle]:
    """Form 06's supplement cycles as data: each request (when, by whom, at which step, what was missing) and when
    the applicant supplied it."""
    return _supplement_cycles(row, session)
