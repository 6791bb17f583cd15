"""Service-quality indicators (Decision 766/QD-TTg) per unit, procedure and period, as JSON or CSV. Each line
names its unit and procedure (`agency_name`, `procedure_name`: the unit registry's name, the newest version's name;
the code when there is none). The CSV opens as it is in Excel: UTF-8 with a byte-order mark, Vietnamese headers.

`by` chooses whose lines they are: the counter that received each dossier (`receiving`, the default), every unit that
handled it (`handling`: a dossier counts once under each), or the administrative level of those units (`level`:
`agency` then holds the level, `national`, `ministry`, `province` or `ward`, and `agency_name` its name)."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from api.deps import CalendarDep, SessionDep
from api.errors import check_date_range
from readmodel import calendars, procedures, statistics
from readmodel.db import utcnow
from readmodel.tables import UnitRow

router = APIRouter(prefix="/statistics", tags=["statistics"])

# The CSV's columns: the indicator's key, and its header (Vietnamese, as the agencies' reports say it). Rates are
# fractions (0.5, not 50 %) and days decimals with a point, so that the file reads back as numbers anywhere.
CSV_COLUMNS = {
    "by": "Nhóm theo",
    "agency": "Mã đơn vị",
    "agency_name": "Tên đơn vị",
    "level_name": "Cấp",
    "procedure": "Mã thủ tục",
    "procedure_name": "Tên thủ tục",
    "received": "Tiếp nhận",
    "in_progress": "Đang giải quyết",
    "overdue_in_progress": "Quá hạn đang giải quyết",
    "completed_on_time": "Giải quyết đúng hạn",
    "completed_late": "Giải quyết trễ hạn",
    "withdrawn": "Rút hồ sơ",
    "refused": "Từ chối",
    "completed_partial": "Giải quyết một phần",
    "on_time_rate": "Tỷ lệ đúng hạn",
    "average_processing_working_days": "Số ngày làm việc xử lý trung bình",
    "online_rate": "Tỷ lệ trực tuyến",
    "electronic_result_rate": "Tỷ lệ kết quả điện tử",
    "prefill_rate": "Tỷ lệ tái sử dụng dữ liệu",
}
COLUMNS = list(CSV_COLUMNS)
CSV_TOTAL = "Tổng cộng"
# What the first column says of every line: whose lines they are.
GROUPINGS = {"receiving": "Đơn vị tiếp nhận", "handling": "Đơn vị giải quyết", "level": "Cấp hành chính"}
By = Literal["receiving", "handling", "level"]


def _names(session: Session, groups: list[dict[str, Any]], by: str) -> None:
    """Each group's unit (or level) and procedure names, beside their codes (the code stands in for a name unknown),
    and its level (`level`, `level_name`: a unit's kind, a department's parent's)."""
    agencies = {g["agency"] for g in groups}
    units: dict[str, str] = {}
    levels: dict[str, str] = {}
    if by != "level":
        parent = aliased(UnitRow)
        found = session.exec(
            select(UnitRow.code, UnitRow.name, UnitRow.kind, parent.kind)
            .outerjoin(parent, col(parent.code) == UnitRow.parent_code)
            .where(col(UnitRow.code).in_(agencies))
        ).all()
        for code, name, kind, parent_kind in found:
            units[code] = name
            levels[code] = (parent_kind or kind) if kind == "department" else kind
    titles: dict[str, str] = {}
    for code in sorted({g["procedure"] for g in groups}):
        row = procedures.latest(session, code)
        titles[code] = row.name if row is not None else code
    for group in groups:
        if by == "level":
            group["agency_name"] = statistics.LEVEL_NAMES.get(group["agency"], group["agency"])
            group["level"] = group["agency"]
        else:
            group["agency_name"] = units.get(group["agency"]) or group["agency"]
            group["level"] = levels.get(group["agency"], statistics.UNKNOWN_LEVEL)
        group["level_name"] = statistics.LEVEL_NAMES.get(group["level"], group["level"])
        group["procedure_name"] = titles[group["procedure"]]


class StatisticsOut(BaseModel):
    start: date
    end: date
    by: By = "receiving"
    total: dict[str, Any]
    groups: list[dict[str, Any]]


def _compute(
    session: SessionDep,
    base: CalendarDep,
    start: date,
    end: date,
    agency: str | None,
    procedure: str | None,
    by: str = "receiving",
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

    total, groups = statistics.indicators(
        session, start=start, end=end, agency=agency, procedure=procedure, zone=base, calendar_of=calendar_of,
        today=base.local_date(utcnow()), by=by,
    )  # fmt: skip
    lines = [g.as_dict() for g in groups]
    _names(session, lines, by)
    return StatisticsOut(start=start, end=end, by=by, total=total.as_dict(), groups=lines)


Start = Annotated[date, Query(description="first day of the period (receipt date)")]
End = Annotated[date, Query(description="last day of the period")]
Agency = Annotated[str | None, Query(max_length=80)]
Procedure = Annotated[str | None, Query(max_length=40)]
Grouping = Annotated[
    By,
    Query(
        description="whose lines: the receiving counter (default), every unit that handled the dossier (once each), "
        "or the administrative level of those units"
    ),
]


@router.get("")
def get_statistics(
    session: SessionDep,
    base: CalendarDep,
    start: Start,
    end: End,
    agency: Agency = None,
    procedure: Procedure = None,
    by: Grouping = "receiving",
) -> StatisticsOut:
    return _compute(session, base, start, end, agency, procedure, by)


@router.get(".csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def get_statistics_csv(
    session: SessionDep,
    base: CalendarDep,
    start: Start,
    end: End,
    agency: Agency = None,
    procedure: Procedure = None,
    by: Grouping = "receiving",
) -> Response:
    """The indicators as CSV: UTF-8 with a byte-order mark (Excel then reads the Vietnamese right), one header line in
    Vietnamese, one line per unit (or level) and procedure, and the total last (its unit's name: "Tổng cộng", no
    codes). The first column says whose lines they are ("Nhóm theo": receiving counter, handling unit or level)."""
    result = _compute(session, base, start, end, agency, procedure, by)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS.values())
    for group in [*result.groups, {**result.total, "agency": "", "agency_name": CSV_TOTAL, "procedure": ""}]:
        group = {**group, "by": GROUPINGS[by]}
        writer.writerow(["" if group.get(key) is None else group[key] for key in CSV_COLUMNS])
    name = f"Chỉ số chất lượng phục vụ {start} đến {end}.csv"
    disposition = (
        f"attachment; filename=\"chi-so-chat-luong-phuc-vu-{start}-{end}.csv\"; filename*=UTF-8''{quote(name)}"
    )
    return Response(
        ("\ufeff" + out.getvalue()).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": disposition},
    )
