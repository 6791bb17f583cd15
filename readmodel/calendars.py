"""Administrator-managed calendar days, and the working calendar of a jurisdiction built from them."""

from __future__ import annotations

from datetime import date

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from domain.dossier import ActorRef
from domain.units import NATIONAL
from domain.working_calendar import WorkingCalendar
from readmodel.db import utcnow
from readmodel.organisation import audit
from readmodel.tables import CalendarDayRow


def days(session: Session, jurisdiction: str, year: int | None = None) -> list[CalendarDayRow]:
    query = select(CalendarDayRow).where(CalendarDayRow.jurisdiction == jurisdiction)
    if year is not None:
        query = query.where(col(CalendarDayRow.day) >= date(year, 1, 1), col(CalendarDayRow.day) <= date(year, 12, 31))
    return list(session.exec(query.order_by(col(CalendarDayRow.day))))


def put_day(session: Session, jurisdiction: str, day: date, kind: str, reason: str, actor: ActorRef) -> CalendarDayRow:
    row = session.get(CalendarDayRow, (jurisdiction, day))
    if row is None:
        row = CalendarDayRow(jurisdiction=jurisdiction, day=day, kind=kind, reason=reason, changed_at=utcnow())
    else:
        row.kind, row.reason, row.changed_at = kind, reason, utcnow()
    session.add(row)
    audit(session, actor, "calendar_day_set", f"{jurisdiction}/{day.isoformat()}", {"kind": kind, "reason": reason})
    session.commit()
    session.refresh(row)
    return row


def delete_day(session: Session, jurisdiction: str, day: date, actor: ActorRef) -> bool:
    row = session.get(CalendarDayRow, (jurisdiction, day))
    if row is None:
        return False
    session.delete(row)
    audit(session, actor, "calendar_day_removed", f"{jurisdiction}/{day.isoformat()}", {"kind": row.kind})
    session.commit()
    return True


_DAY = CalendarDayRow.__table__.c  # type: ignore[attr-defined]
_CHANGED_DAYS = select(_DAY.day, _DAY.kind).where(_DAY.jurisdiction.in_(bindparam("jurisdictions", expanding=True)))


def calendar_for(session: Session, jurisdiction: str, base: WorkingCalendar) -> WorkingCalendar:
    """The national calendar with the national and the jurisdiction's own changes.

    Asked for every receipt and every step's deadline, so one plain statement rather than the ORM's objects."""
    rows = session.connection().execute(_CHANGED_DAYS, {"jurisdictions": sorted({NATIONAL, jurisdiction})}).all()
    return base.with_overrides(
        days_off=[day for day, kind in rows if kind == "day_off"],
        working_days=[day for day, kind in rows if kind == "working_day"],
    )
