"""Service-quality indicators per agency, procedure and period, from the read model.

Rules follow the national service index (Decision 766/QD-TTg): a dossier is on time when its
processing ended no later than its appointment date (already moved by supplement time and lawful
extensions; an apology's new date does not count); a dossier asked for a supplement more than
once counts as late; processing time excludes the time spent waiting for the applicant.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time

from sqlmodel import Session, col, select

from domain.working_calendar import WorkingCalendar
from readmodel.tables import DossierRow

PROCESSED = ("completed", "stopped")


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

    def add(self, row: DossierRow, calendar: WorkingCalendar, today: date) -> None:
        self.received += 1
        self.online += row.channel == 2
        self.prefilled += row.prefilled
        if row.outcome is None:
            self.in_progress += 1
            self.overdue_in_progress += row.overdue or today > row.appointment_date
            return
        if row.outcome == "withdrawn":
            self.withdrawn += 1
            return
        if row.outcome == "refused":
            self.refused += 1
            return
        assert row.completed_at is not None
        ended = calendar.local_date(row.completed_at)
        if ended <= row.appointment_date and row.supplement_count <= 1:
            self.completed_on_time += 1
        else:
            self.completed_late += 1
        worked = calendar.working_hours_between(row.received_at, row.completed_at) - row.suspended_working_hours
        self._processing_days.append(max(worked, 0.0) / calendar.hours_per_day)
        if row.results:
            self.with_results += 1
            self.electronic_results += all(r.get("electronic") for r in row.results)


def dossiers_in_period(
    session: Session, *, start: date, end: date, agency: str | None, procedure: str | None, zone: WorkingCalendar
) -> Iterable[DossierRow]:
    first = datetime.combine(start, time(0), zone.zone)
    last = datetime.combine(end, time(23, 59, 59, 999999), zone.zone)
    query = select(DossierRow).where(col(DossierRow.received_at) >= first, col(DossierRow.received_at) <= last)
    if agency:
        query = query.where(DossierRow.receiving_unit == agency)
    if procedure:
        query = query.where(DossierRow.procedure_code == procedure)
    return session.exec(query.execution_options(yield_per=2000))


def indicators(
    rows: Iterable[DossierRow],
    calendar_of: Callable[[str], WorkingCalendar],
    today: date,
) -> tuple[Indicators, list[Indicators]]:
    """The total and one line per (agency, procedure)."""
    total = Indicators(agency=None, procedure=None)
    groups: dict[tuple[str, str], Indicators] = defaultdict(lambda: Indicators(agency=None, procedure=None))
    for row in rows:
        calendar = calendar_of(row.jurisdiction)
        total.add(row, calendar, today)
        group = groups[(row.receiving_unit, row.procedure_code)]
        group.agency, group.procedure = row.receiving_unit, row.procedure_code
        group.add(row, calendar, today)
    return total, [groups[key] for key in sorted(groups)]
