"""Service-quality indicators (Decision 766/QD-TTg) per agency, procedure and period, as JSON or CSV."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel

from api.deps import CalendarDep, SessionDep
from api.errors import check_date_range
from readmodel import calendars, statistics
from readmodel.db import utcnow

router = APIRouter(prefix="/statistics", tags=["statistics"])

COLUMNS = [
    "agency", "procedure", "received", "in_progress", "overdue_in_progress", "completed_on_time", "completed_late",
    "withdrawn", "refused", "on_time_rate", "average_processing_working_days", "online_rate",
    "electronic_result_rate", "prefill_rate",
]  # fmt: skip


class StatisticsOut(BaseModel):
    start: date
    end: date
    total: dict[str, Any]
    groups: list[dict[str, Any]]


def _compute(
    session: SessionDep, base: CalendarDep, start: date, end: date, agency: str | None, procedure: str | None
) -> StatisticsOut:
    check_date_range(start, ["query", "start"])
    check_date_range(end, ["query", "end"])
    if end < start:
        raise HTTPException(422, [{"loc": ["query", "end"], "msg": "end is before start", "type": "value_error"}])
    cache: dict[str, Any] = {}

    def calendar_of(jurisdiction: str):  # noqa: ANN202
        if jurisdiction not in cache:
            cache[jurisdiction] = calendars.calendar_for(session, jurisdiction, base)
        return cache[jurisdiction]

    rows = statistics.dossiers_in_period(session, start=start, end=end, agency=agency, procedure=procedure, zone=base)
    total, groups = statistics.indicators(rows, calendar_of, base.local_date(utcnow()))
    return StatisticsOut(start=start, end=end, total=total.as_dict(), groups=[g.as_dict() for g in groups])


Start = Annotated[date, Query(description="first day of the period (receipt date)")]
End = Annotated[date, Query(description="last day of the period")]
Agency = Annotated[str | None, Query(max_length=80)]
Procedure = Annotated[str | None, Query(max_length=40)]


@router.get("")
def get_statistics(
    session: SessionDep, base: CalendarDep, start: Start, end: End, agency: Agency = None, procedure: Procedure = None
) -> StatisticsOut:
    return _compute(session, base, start, end, agency, procedure)


@router.get(".csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def get_statistics_csv(
    session: SessionDep, base: CalendarDep, start: Start, end: End, agency: Agency = None, procedure: Procedure = None
) -> Response:
    result = _compute(session, base, start, end, agency, procedure)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for group in result.groups:
        writer.writerow(group)
    writer.writerow({**result.total, "agency": "TOTAL", "procedure": ""})
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="indicators-{start}-{end}.csv"'},
    )
