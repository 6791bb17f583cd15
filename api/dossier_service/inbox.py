"""The officers' inbox: the steps waiting for a role an officer holds at a unit, most urgent first."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
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
    applicant_name: str | None = None


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
            applicant_name=(row.applicant or {}).get("full_name"),
        )
        for row in rows
    ]


@dataclass(frozen=True)
class InboxFilter:
    """What an officer narrows their inbox to: a dossier code or an applicant's name (`text`, any part, without
    regard to case or Vietnamese diacritics), a procedure, a step, an urgency."""

    text: str = ""
    procedure_code: str = ""
    step_id: str = ""
    urgency: str = ""

    def keeps(self, item: InboxItem) -> bool:
        wanted = folded(self.text)
        return (
            (not wanted or wanted in folded(item.dossier_code) or wanted in folded(item.applicant_name or ""))
            and (not self.procedure_code or item.procedure_code == self.procedure_code)
            and (not self.step_id or item.step_id == self.step_id)
            and (not self.urgency or item.urgency == self.urgency)
        )


def folded(text: str) -> str:
    """Lower case without diacritics (đ as d), so that "nguyen van a" finds "Nguyễn Văn A"."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()
