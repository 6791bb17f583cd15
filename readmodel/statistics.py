"""Service-quality indicators per unit, procedure and period, from the read model.

Rules follow the national service index (Decision 766/QD-TTg): a dossier is on time when its
processing ended no later than its appointment date (already moved by supplement time and lawful
extensions; an apology's new date does not count); a dossier asked for a supplement more than
once counts as late; processing time excludes the time spent waiting for the applicant.

A dossier is counted under one of three groupings (`by`):

- `receiving`: the counter that received it, once;
- `handling`: every unit that handled it, once per unit: the counter that received it, every unit that held one of
  its steps (the `unit_code` of its `step_started` events), every unit that rejected a step of it (its `decision`
  events), and the receiving unit of each of its interconnected child dossiers;
- `level`: the administrative level of those units (the registry's `kind`; a department counts at its parent's
  level: a provincial police department is province level, a ministry's department ministry level), once per level.

Refused is refused wherever it happens: a dossier refused or stopped (`outcome` refused or stopped) counts as refused,
never as completed; and under a unit that refused its part (rejected a branch's step, or a child dossier of it ended
refused or stopped) a dossier that went on with a partial result counts as refused too. The total counts each dossier
once, by its own outcome (a partial result is completed, and counted in `completed_partial`).

Everything but the on-time rule and the processing time is counted by the database (GROUP BY, the same statements on
SQLite and PostgreSQL); those two follow each jurisdiction's working calendar, so they are worked out here, once per
completed dossier, from its dates alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, literal_column, or_, select, union_all
from sqlmodel import Session

from domain.working_calendar import WorkingCalendar
from readmodel.tables import DossierEventRow, DossierRow, UnitRow

REFUSED = ("refused", "stopped")  # not accepted at the counter, or processing stopped: both a refusal
DIMENSIONS = ("receiving", "handling", "level")
# The levels of administration, top down, as the unit registry's kinds name them (a department takes its parent's).
LEVELS = ("national", "ministry", "province", "ward")
UNKNOWN_LEVEL = "unknown"  # a unit code the registry does not know
LEVEL_NAMES = {
    "national": "Trung ương",
    "ministry": "Cấp bộ",
    "province": "Cấp tỉnh",
    "ward": "Cấp xã",
    UNKNOWN_LEVEL: "Không rõ cấp",
}

_DOSSIER = DossierRow.__table__  # type: ignore[attr-defined]
_EVENT = DossierEventRow.__table__  # type: ignore[attr-defined]
_UNIT = UnitRow.__table__  # type: ignore[attr-defined]


@dataclass
class Indicators:
    agency: str | None
    procedure: str | None
    received: int = 0
    in_progress: int = 0
    overdue_in_progress: int = 0
    completed_on_time: int = 0
    completed_late: int = 0
    withdrawn: int = 0
    refused: int = 0
    online: int = 0
    prefilled: int = 0
    electronic_results: int = 0
    with_results: int = 0
    completed_partial: int = 0  # completed with a partial result (a branch refused); also on time or late
    _processing_days: list[float] = field(default_factory=list, repr=False)

    @property
    def on_time_rate(self) -> float | None:
        done = self.completed_on_time + self.completed_late
        return round(self.completed_on_time / done, 4) if done else None

    @property
    def average_processing_working_days(self) -> float | None:
        days = self._processing_days
        return round(sum(days) / len(days), 2) if days else None

    @property
    def online_rate(self) -> float | None:
        return round(self.online / self.received, 4) if self.received else None

    @property
    def prefill_rate(self) -> float | None:
        return round(self.prefilled / self.received, 4) if self.received else None

    @property
    def electronic_result_rate(self) -> float | None:
        return round(self.electronic_results / self.with_results, 4) if self.with_results else None

    def as_dict(self) -> dict[str, object]:
        data = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        data.update(
            on_time_rate=self.on_time_rate,
            average_processing_working_days=self.average_processing_working_days,
            online_rate=self.online_rate,
            prefill_rate=self.prefill_rate,
            electronic_result_rate=self.electronic_result_rate,
        )
        return data

    def add_completed(self, done: _Completed) -> None:
        self.completed_on_time += done.on_time
        self.completed_late += not done.on_time
        self._processing_days.append(done.working_days)
        self.with_results += done.with_results
        self.electronic_results += done.electronic


@dataclass(frozen=True)
class _Completed:
    """What the working calendar says of one completed dossier."""

    on_time: bool
    working_days: float
    with_results: bool
    electronic: bool


def _completed(row: Any, calendar: WorkingCalendar) -> _Completed:
    ended = calendar.local_date(row.completed_at)
    worked = calendar.working_hours_between(row.received_at, row.completed_at) - row.suspended_working_hours
    results = row.results or []
    return _Completed(
        on_time=ended <= row.appointment_date and row.supplement_count <= 1,
        working_days=max(worked, 0.0) / calendar.hours_per_day,
        with_results=bool(results),
        electronic=bool(results) and all(r.get("electronic") for r in results),
    )


def _in_period(
    dossier: Any, *, start: date, end: date, procedure: str | None, zone: WorkingCalendar
) -> ColumnElement[bool]:
    first = datetime.combine(start, time(0), zone.zone)
    last = datetime.combine(end, time(23, 59, 59, 999999), zone.zone)
    conditions = [dossier.c.received_at >= first, dossier.c.received_at <= last]
    if procedure:
        conditions.append(dossier.c.procedure_code == procedure)
    return and_(*conditions)


def _units_of_dossiers(dimension: str, in_period: Callable[[Any], ColumnElement[bool]], agency: str | None) -> Any:
    """(code, unit, refused_here): each dossier of the period once per unit (or level) it is counted under, and
    whether that unit (level) refused its part of it; with `agency`, only that unit's (at its level)."""
    d = _DOSSIER.alias("d")
    if dimension == "receiving":
        query = select(d.c.code, d.c.receiving_unit.label("unit"), literal_column("0").label("refused_here"))
        return query.where(in_period(d), *([d.c.receiving_unit == agency] if agency else [])).subquery("counted")
    event, child = _EVENT.alias("e"), _DOSSIER.alias("child")
    step_unit = event.c.detail["unit_code"].as_string()
    handled = union_all(
        select(d.c.code, d.c.receiving_unit.label("unit"), literal_column("0").label("refused_here")).where(
            in_period(d)
        ),
        select(d.c.code, step_unit, literal_column("0"))
        .join(event, event.c.dossier_code == d.c.code)
        .where(in_period(d), event.c.kind == "step_started", step_unit.is_not(None)),
        select(d.c.code, event.c.unit_code, literal_column("1"))
        .join(event, event.c.dossier_code == d.c.code)
        .where(
            in_period(d),
            event.c.kind == "decision",
            event.c.detail["decision"].as_string() == "reject",
            event.c.unit_code.is_not(None),
        ),
        select(d.c.code, child.c.receiving_unit, case((child.c.outcome.in_(REFUSED), 1), else_=0))
        .join(child, child.c.parent_code == d.c.code)
        .where(in_period(d)),
    ).subquery("handled")
    mine = [handled.c.unit == agency] if agency else []
    if dimension == "handling":
        return (
            select(handled.c.code, handled.c.unit, func.max(handled.c.refused_here).label("refused_here"))
            .where(*mine)
            .group_by(handled.c.code, handled.c.unit)
            .subquery("counted")
        )
    unit, parent = _UNIT.alias("u"), _UNIT.alias("p")
    level = case(
        (unit.c.kind == "department", func.coalesce(parent.c.kind, "department")),
        else_=func.coalesce(unit.c.kind, UNKNOWN_LEVEL),
    )
    return (
        select(handled.c.code, level.label("unit"), func.max(handled.c.refused_here).label("refused_here"))
        .select_from(handled)
        .outerjoin(unit, unit.c.code == handled.c.unit)
        .outerjoin(parent, parent.c.code == unit.c.parent_code)
        .where(*mine)
        .group_by(handled.c.code, level)
        .subquery("counted")
    )


def _counts(columns: list[Any], counted: Any, refused_here: Any, today: date) -> Select[Any]:
    """The indicators the database counts, per `columns` (over the dossier table `_DOSSIER` joined to `counted`)."""
    d = _DOSSIER
    open_ = d.c.outcome.is_(None)
    refused = or_(d.c.outcome.in_(REFUSED), and_(refused_here == 1, d.c.outcome.is_not(None)))

    def number(condition: ColumnElement[bool]) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    return select(
        *columns,
        func.count().label("received"),
        number(open_).label("in_progress"),
        number(and_(open_, or_(d.c.overdue.is_(True), d.c.appointment_date < today))).label("overdue_in_progress"),
        number(d.c.outcome == "withdrawn").label("withdrawn"),
        number(refused).label("refused"),
        number(d.c.channel == 2).label("online"),
        number(d.c.prefilled.is_(True)).label("prefilled"),
        number(and_(d.c.outcome == "completed", ~refused, d.c.partial.is_(True))).label("completed_partial"),
    ).join_from(counted, d, d.c.code == counted.c.code)


_COUNTED = ("received", "in_progress", "overdue_in_progress", "withdrawn", "refused", "online", "prefilled",
            "completed_partial")  # fmt: skip


def indicators(
    session: Session,
    *,
    start: date,
    end: date,
    agency: str | None,
    procedure: str | None,
    zone: WorkingCalendar,
    calendar_of: Callable[[str], WorkingCalendar],
    today: date,
    by: str = "receiving",
) -> tuple[Indicators, list[Indicators]]:
    """The total (each dossier once) and one line per (unit or level, procedure), ordered by their codes. `agency`
    narrows to the dossiers counted under that unit: received there, handled there, or handled there (by level: one
    line, the unit's level)."""
    if by not in DIMENSIONS:
        raise ValueError(f"unknown grouping {by!r}")

    def in_period(dossier: Any) -> ColumnElement[bool]:
        return _in_period(dossier, start=start, end=end, procedure=procedure, zone=zone)

    counted = _units_of_dossiers(by, in_period, agency)
    d = _DOSSIER
    lines: dict[tuple[str, str], Indicators] = {}
    for row in session.connection().execute(
        _counts([counted.c.unit, d.c.procedure_code], counted, counted.c.refused_here, today).group_by(
            counted.c.unit, d.c.procedure_code
        )
    ):
        line = Indicators(agency=row.unit, procedure=row.procedure_code)
        for name in _COUNTED:
            setattr(line, name, int(getattr(row, name)))
        lines[(row.unit, row.procedure_code)] = line
    # The total: every dossier counted, once, by its own outcome.
    dossiers = select(counted.c.code).distinct().subquery("dossiers")
    total = Indicators(agency=None, procedure=None)
    row = session.connection().execute(_counts([], dossiers, literal_column("0"), today)).one()
    for name in _COUNTED:
        setattr(total, name, int(getattr(row, name)))

    # On time or late, and the working days it took: once per completed dossier, by its jurisdiction's calendar.
    completed = (
        select(counted.c.unit, counted.c.refused_here, d.c.code, d.c.procedure_code, d.c.jurisdiction,
               d.c.received_at, d.c.completed_at, d.c.appointment_date, d.c.supplement_count,
               d.c.suspended_working_hours, d.c.results)
        .join_from(counted, d, d.c.code == counted.c.code)
        .where(d.c.outcome == "completed")
    )  # fmt: skip
    seen: dict[str, _Completed] = {}
    for row in session.connection().execute(completed.execution_options(yield_per=2000)):
        done = seen.get(row.code)
        if done is None:
            done = seen[row.code] = _completed(row, calendar_of(row.jurisdiction))
            total.add_completed(done)
        if not row.refused_here:
            lines[(row.unit, row.procedure_code)].add_completed(done)
    return total, [lines[key] for key in sorted(lines)]
