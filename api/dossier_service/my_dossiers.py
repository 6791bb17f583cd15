"""A signed-in citizen's own dossiers, newest first, each with what they must do now and by when."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Depends, HTTPException, status
from sqlalchemy.engine import Connection

from api.deps import PrincipalDep
from api.dossier_service.schemas import ApplicantTask, MyDossier, MyDossiers
from domain.dossier import FINAL_STATUSES, STATUS_NAMES_VI, PortalStatus
from domain.wording import mark
from readmodel import dossiers
from readmodel.db import as_utc

TASK_LABELS = {
    "supplement": mark("Bổ sung hồ sơ"),
    "pay": mark("Nộp phí, lệ phí"),
    "wait": mark("Chờ cơ quan xử lý"),
    "collect": mark("Nhận kết quả"),
    "done": mark("Đã kết thúc"),
}


async def signed_in_citizen(principal: PrincipalDep) -> str:
    """The signed-in citizen's ID: 401 for nobody, 403 for officers and clients (this is a citizen's own list)."""
    if principal.kind == "anonymous":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "sign in as a citizen", headers={"WWW-Authenticate": "Bearer"}
        )
    if principal.kind != "citizen" or principal.citizen_id is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this is for citizens: their own dossiers")
    return principal.citizen_id


CitizenIdDep = Annotated[str, Depends(signed_in_citizen)]


def my_dossiers(connection: Connection, citizen_id: str, *, limit: int, offset: int) -> MyDossiers:
    """The citizen's dossiers (those they read as their own: `owner_citizen_id`), newest first, one page."""
    rows = dossiers.owned_by(connection, citizen_id, limit=limit + 1, offset=offset)
    more = len(rows) > limit
    return MyDossiers(
        items=[_line(row) for row in rows[:limit]],
        limit=limit,
        offset=offset,
        next_offset=offset + limit if more else None,
    )


def _line(row: Any) -> MyDossier:
    status = PortalStatus(row.status)
    return MyDossier(
        dossier_code=row.code,
        procedure_code=row.procedure_code,
        procedure_name=row.procedure_name,
        status=status,
        status_name=status.name,
        status_label=STATUS_NAMES_VI[status],
        receiving_unit=row.receiving_unit,
        received_at=as_utc(row.received_at),
        appointment_date=row.appointment_date,
        completed_at=as_utc(row.completed_at) if row.completed_at else None,
        todo=applicant_task(row),
    )


def _applicant_due(row: Any, step_id: str | None) -> date | None:
    """The deadline of the step waiting for the applicant (the one named, else any)."""
    waiting = [s for s in row.active_steps or [] if s.get("awaiting") == "applicant"]
    step = next((s for s in waiting if s.get("step_id") == step_id), waiting[0] if waiting else None)
    due = step.get("due_date") if step else None
    return date.fromisoformat(due) if isinstance(due, str) else due


def applicant_task(row: Any) -> ApplicantTask:
    """What the applicant of this dossier must do now, from its state in the read model."""
    status = PortalStatus(row.status)
    if status in FINAL_STATUSES or status == PortalStatus.completed:
        returned = status == PortalStatus.result_returned
        kind = "collect" if status == PortalStatus.completed else "done"
        return ApplicantTask(
            kind=kind,
            label=TASK_LABELS[kind],
            outcome=row.outcome,
            outcome_reason=row.outcome_reason,
            due_date=row.appointment_date if kind == "collect" else None,
            results_url=f"/dossiers/{row.code}/results" if returned else None,
        )
    if row.supplement_request:
        asked = row.supplement_request
        return ApplicantTask(
            kind="supplement",
            label=TASK_LABELS["supplement"],
            step_id=asked.get("step_id"),
            due_date=_applicant_due(row, asked.get("step_id")),
            requested_at=asked.get("requested_at"),
            missing=list(asked.get("missing") or []),
            reason=asked.get("reason"),
        )
    if row.fee_request:
        fee = row.fee_request
        return ApplicantTask(
            kind="pay",
            label=TASK_LABELS["pay"],
            step_id=fee.get("step_id"),
            due_date=_applicant_due(row, fee.get("step_id")),
            requested_at=fee.get("requested_at"),
            amount_vnd=fee.get("amount_vnd"),
            pay_url=fee.get("pay_url"),
            reason=fee.get("description"),
        )
    return ApplicantTask(kind="wait", label=TASK_LABELS["wait"], due_date=row.appointment_date)
