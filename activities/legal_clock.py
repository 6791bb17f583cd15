"""The legal clock's arithmetic, as activities: every date comes from the one calendar service.

Deadlines depend on calendars that administrators change (a province declares a day off), so the
workflow asks here and keeps the answer in its history; replays never recompute them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio import activity

from domain.legal_clock_questions import AppointmentDeadline, ClockShift, ShiftedClock, StepClock, StepClockPlan
from domain.working_calendar import WorkingCalendar
from readmodel import calendars


class LegalClockActivities:
    def __init__(self, engine: Engine, base: WorkingCalendar) -> None:
        self._engine = engine
        self._base = base

    def calendar(self, jurisdiction: str) -> WorkingCalendar:
        with Session(self._engine) as session:
            return calendars.calendar_for(session, jurisdiction, self._base)

    @activity.defn
    def plan_step(self, plan: StepClockPlan) -> StepClock:
        calendar = self.calendar(plan.jurisdiction)
        due = calendar.step_deadline(plan.start, plan.budget_working_days)
        budget_hours = calendar.working_hours_between(plan.start, due)
        warn = calendar.add_working_hours(plan.start, budget_hours * plan.warning_share) if budget_hours else due
        return StepClock(due_at=due, warn_at=min(warn, due))

    @activity.defn
    def shift_for_suspension(self, shift: ClockShift) -> ShiftedClock:
        """Working time spent waiting for the applicant is given back to the dossier and to its steps."""
        calendar = self.calendar(shift.jurisdiction)
        hours = calendar.working_hours_between(shift.paused_at, shift.resumed_at)

        def later(moment: datetime) -> datetime:
            return calendar.add_working_hours(moment, hours) if hours else moment

        # The appointment is kept until the end of its working day; move that moment.
        appointment_end = calendar.end_of_day(shift.appointment_date) - timedelta(seconds=1)
        return ShiftedClock(
            working_hours=hours,
            appointment_date=calendar.local_date(later(appointment_end)),
            steps={
                step: StepClock(due_at=later(c.due_at), warn_at=later(c.warn_at)) for step, c in shift.steps.items()
            },
        )

    @activity.defn
    def appointment_deadline(self, appointment: AppointmentDeadline) -> datetime:
        return self.calendar(appointment.jurisdiction).end_of_day(appointment.appointment_date)
