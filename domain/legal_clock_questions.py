"""What the workflow asks the legal clock's activities, and what they answer: calendar arithmetic kept out of the
workflow (calendars change; replays must not recompute them)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel


class StepClockPlan(BaseModel):
    start: datetime
    budget_working_days: int
    warning_share: float
    jurisdiction: str


class StepClock(BaseModel):
    due_at: datetime
    warn_at: datetime


class ClockShift(BaseModel):
    """Supplement time stops the clock: move the appointment and the step deadlines by it."""

    jurisdiction: str
    paused_at: datetime
    resumed_at: datetime
    appointment_date: date
    steps: dict[str, StepClock]


class ShiftedClock(BaseModel):
    working_hours: float
    appointment_date: date
    steps: dict[str, StepClock]


class AppointmentDeadline(BaseModel):
    jurisdiction: str
    appointment_date: date
