"""The service-quality dashboard: the indicators of GET /statistics per unit, procedure and period, as
server-drawn bar charts with the table beside them; per receiving counter, per handling unit or per level."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from markupsafe import Markup

from api.deps import CalendarDep, OfficerDep, PrincipalDep, SessionDep
from api.pages.charts import Bar, bar_chart
from api.pages.errors import csrf_protected, messages
from api.pages.i18n import language_of, translator
from api.pages.rendering import render
from api.routes.statistics import get_statistics
from readmodel.db import utcnow
from readmodel.statistics import DIMENSIONS

router = APIRouter(prefix="/admin", include_in_schema=False, dependencies=[Depends(csrf_protected)])
Text = Annotated[str, Query(max_length=80)]


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f} %"


def _day(text: str, default: date, field: str, errors: dict[str, list[str]]) -> date:
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors[field] = ["Input should be a valid date in the format YYYY-MM-DD"]
        return default


def _groupings(t: Callable[..., str]) -> dict[str, str]:
    """Whose lines the page shows, as the switch offers them."""
    return {"receiving": t("Theo đơn vị tiếp nhận"), "handling": t("Theo đơn vị giải quyết"),
            "level": t("Theo cấp hành chính")}  # fmt: skip


def _levels(t: Callable[..., str]) -> dict[str, str]:
    """The levels' names in the page's language (the API gives them in Vietnamese: readmodel.statistics.LEVEL_NAMES)."""
    return {"national": t("Trung ương"), "ministry": t("Cấp bộ"), "province": t("Cấp tỉnh"), "ward": t("Cấp xã"),
            "unknown": t("Không rõ cấp")}  # fmt: skip


def _titles(by: str, t: Callable[..., str]) -> tuple[str, str]:
    if by == "handling":
        return (t("Hồ sơ theo đơn vị giải quyết và thủ tục"),
                t("Tỷ lệ giải quyết đúng hạn theo đơn vị giải quyết và thủ tục (%)"))  # fmt: skip
    if by == "level":
        return t("Hồ sơ theo cấp hành chính và thủ tục"), t(
            "Tỷ lệ giải quyết đúng hạn theo cấp hành chính và thủ tục (%)"
        )
    return t("Hồ sơ tiếp nhận theo đơn vị và thủ tục"), t("Tỷ lệ giải quyết đúng hạn theo đơn vị và thủ tục (%)")


def _charts(groups: list[dict[str, Any]], t: Callable[..., str], by: str = "receiving") -> list[Markup]:
    """Dossiers counted and the on-time rate, a bar for each unit (or level) and procedure, named (the codes
    beneath)."""
    levels = _levels(t)

    def bar(group: dict[str, Any], value: float | None, shown: str) -> Bar:
        # A level's name is the catalog's to translate; a unit's is the registry's.
        unit = levels.get(group["agency"], group["agency_name"]) if by == "level" else group["agency_name"]
        label = f"{unit} · {group['procedure_name']}"
        return Bar(label, value, shown, detail=t("Mã: {agency} · {procedure}", agency=group["agency"],
                                                  procedure=group["procedure"]))  # fmt: skip

    received = [bar(g, g["received"], str(g["received"])) for g in groups]
    on_time = [
        bar(g, None if g["on_time_rate"] is None else g["on_time_rate"] * 100, _percent(g["on_time_rate"]))
        for g in groups
    ]
    received_title, on_time_title = _titles(by, t)
    return [
        Markup(bar_chart(received_title, received, chart_id="chart-received")),
        Markup(bar_chart(on_time_title, on_time, maximum=100, chart_id="chart-on-time")),
    ]


@router.get("/statistics")
def statistics_dashboard(
    request: Request,
    session: SessionDep,
    base: CalendarDep,
    officer: OfficerDep,
    principal: PrincipalDep,
    start: Text = "",
    end: Text = "",
    agency: Text = "",
    procedure: Text = "",
    by: Text = "",
) -> Response:
    """For officers: the indicators of the period (this month by default) per unit and procedure; per receiving counter
    (by default), per handling unit or per level (`by`)."""
    t = translator(language_of(request))
    today = base.local_date(utcnow())
    errors: dict[str, list[str]] = {}
    grouping = by if by in DIMENSIONS else "receiving"
    first, last = _day(start, today.replace(day=1), "start", errors), _day(end, today, "end", errors)
    result, general = None, []
    if not errors:
        try:
            result = get_statistics(
                session,
                base,
                first,
                last,
                agency.strip() or None,
                procedure.strip() or None,
                grouping,  # type: ignore[arg-type]
            )
        except HTTPException as exc:
            general = messages(exc.detail)
    charts: list[Markup] = []
    if result is not None and result.groups:
        charts = _charts(result.groups, t, grouping)
    query = urlencode({"start": first.isoformat(), "end": last.isoformat(),
                       **({"agency": agency} if agency else {}), **({"procedure": procedure} if procedure else {}),
                       **({"by": grouping} if grouping != "receiving" else {})})  # fmt: skip
    return render(
        request,
        "statistics.html",
        {"result": result, "charts": charts, "errors": errors, "general": general, "percent": _percent,
         "values": {"start": first.isoformat(), "end": last.isoformat(), "agency": agency, "procedure": procedure,
                    "by": grouping},
         "groupings": _groupings(t), "by": grouping, "levels": _levels(t),
         "csv_url": f"/statistics.csv?{query}"},
        principal=principal,
        status_code=422 if errors or general else status.HTTP_200_OK,
    )  # fmt: skip
