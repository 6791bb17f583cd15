"""The officers' inbox: the steps waiting for a role an officer holds at a unit, most urgent first."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel
from sqlmodel import Session

from readmodel import dossiers
from readmodel.db import as_utc
from readmodel.organisation import OfficerProfile


class InboxItem(BaseModel):
    dossier_code: str
    procedure_code: str
    procedure_name: str
    step_id: str
    step_name: str
    role: str | None
    unit_code: str | None
    step_due_date: date | None
    step_due_at: datetime | None
    urgency: str  # normal | warning (early warning reached) | overdue
    appointment_date: date
    received_at: datetime
    status: int
    parent_code: str | None = None  # an interconnected child dossier: the dossier that started it


def officer_inbox(officer: OfficerProfile, session: Session, *, limit: int, offset: int) -> list[InboxItem]:
    """Steps awaiting a role the officer holds at a unit (their own, or one they act for by delegation)."""
    capacities = sorted({(c.role, c.unit_code) for c in officer.capacities})
    rows = dossiers.inbox(session, capacities=capacities, limit=limit, offset=offset)
    return [
        InboxItem(
            dossier_code=row.dossier_code,
            procedure_code=row.procedure_code,
            procedure_name=row.procedure_name,
            step_id=row.step_id,
            step_name=row.step_name,
            role=row.role,
            unit_code=row.unit_code,
            step_due_date=row.due_date,
            step_due_at=row.due_at and as_utc(row.due_at),
            urgency="overdue" if row.overdue else "warning" if row.warning else "normal",
            appointment_date=row.appointment_date,
            received_at=as_utc(row.received_at),
            status=row.status,
            parent_code=row.parent_code,
        )
        for row in rows
    ]
