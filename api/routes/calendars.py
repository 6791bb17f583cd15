"""Administrators manage working calendars: extra days off and make-up working days, per jurisdiction."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import holidays
from fastapi import APIRouter, HTTPException, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from api.deps import AdministratorActorDep, CalendarDep, ReaderLanguageDep, SessionDep
from api.errors import check_date_range
from domain.units import NATIONAL
from readmodel import calendars, organisation
from readmodel.db import utcnow

router = APIRouter(prefix="/calendars", tags=["calendars"])

Jurisdiction = Annotated[str, Path(pattern=r"^(VN|\d{2})$", description="VN (national) or a province code")]


class CalendarDayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["day_off", "working_day"]
    reason: Annotated[str, Field(min_length=1, max_length=300)]


class CalendarDayOut(BaseModel):
    day: date
    kind: str
    reason: str


class HolidayOut(BaseModel):
    day: date
    name: str


class CalendarOut(BaseModel):
    jurisdiction: str
    year: int
    holidays: list[HolidayOut]
    changes: list[CalendarDayOut]
    working_hours: list[tuple[str, str]]
    receipt_cutoff: str


class AppointmentOut(BaseModel):
    received_at: datetime
    effective_receipt_day: date
    working_days: int
    appointment_date: date


def _known(session: Session, jurisdiction: str) -> str:
    if jurisdiction != NATIONAL and jurisdiction not in organisation.directory(session).province_units:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no province {jurisdiction!r}")
    return jurisdiction


@router.get("/{jurisdiction}")
def get_calendar(
    jurisdiction: Jurisdiction,
    session: SessionDep,
    base: CalendarDep,
    language: ReaderLanguageDep,
    year: Annotated[int, Query(ge=2020, le=2040)] = 2026,
) -> CalendarOut:
    """Public holidays of the year (national), named in the language of `Accept-Language` (vi, the default, or en),
    and the changes administrators made."""
    _known(session, jurisdiction)
    national = holidays.country_holidays("VN", years=year, language="en_US" if language == "en" else "vi")
    changes = calendars.days(session, NATIONAL, year) + (
        calendars.days(session, jurisdiction, year) if jurisdiction != NATIONAL else []
    )
    return CalendarOut(
        jurisdiction=jurisdiction,
        year=year,
        holidays=[HolidayOut(day=day, name=name) for day, name in sorted(national.items())],
        changes=[CalendarDayOut(day=c.day, kind=c.kind, reason=c.reason) for c in changes],
        working_hours=[(s.strftime("%H:%M"), e.strftime("%H:%M")) for s, e in base.hours],
        receipt_cutoff=base.cutoff.strftime("%H:%M"),
    )


@router.put("/{jurisdiction}/days/{day}")
def put_calendar_day(
    jurisdiction: Jurisdiction, day: date, body: CalendarDayIn, session: SessionDep, actor: AdministratorActorDep
) -> CalendarDayOut:
    """Declare an extra day off or a make-up working day (dossiers' later deadlines follow it)."""
    _known(session, jurisdiction)
    if not 2020 <= day.year <= 2040:
        raise HTTPException(
            422, [{"loc": ["path", "day"], "msg": "a day between 2020 and 2040", "type": "value_error"}]
        )
    row = calendars.put_day(session, jurisdiction, day, body.kind, body.reason, actor)
    return CalendarDayOut(day=row.day, kind=row.kind, reason=row.reason)


@router.delete("/{jurisdiction}/days/{day}", status_code=status.HTTP_204_NO_CONTENT)
def delete_calendar_day(
    jurisdiction: Jurisdiction, day: date, session: SessionDep, actor: AdministratorActorDep
) -> Response:
    _known(session, jurisdiction)
    if not calendars.delete_day(session, jurisdiction, day, actor):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{day} has no change in {jurisdiction}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{jurisdiction}/appointment")
def compute_appointment(
    jurisdiction: Jurisdiction,
    session: SessionDep,
    base: CalendarDep,
    working_days: Annotated[int, Query(ge=0, le=365)],
    received_at: datetime | None = None,
) -> AppointmentOut:
    """The appointment date the calendar service gives for a receipt (the one computation every date uses)."""
    _known(session, jurisdiction)
    calendar = calendars.calendar_for(session, jurisdiction, base)
    moment = received_at or utcnow()
    if moment.tzinfo is None:
        raise HTTPException(422, [{"loc": ["query", "received_at"], "msg": "give a time zone", "type": "value_error"}])
    check_date_range(moment, ["query", "received_at"])
    return AppointmentOut(
        received_at=moment,
        effective_receipt_day=calendar.effective_receipt_day(moment),
        working_days=working_days,
        appointment_date=calendar.appointment_date(moment, working_days),
    )
