"""Working-day and working-hour arithmetic for legal deadlines.

Public holidays, the lunar ones and official make-up working days included, come from the
maintained `holidays` library, never from a hand-kept list; a jurisdiction (a province) adds its
own days off and make-up working days. The calendar is pure: the same inputs give the same dates.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

DEFAULT_HOURS = ((time(7, 30), time(11, 30)), (time(13, 0), time(17, 0)))


class WorkingCalendar:
    def __init__(
        self,
        timezone: str = "Asia/Ho_Chi_Minh",
        cutoff: time = time(15, 0),
        *,
        hours: tuple[tuple[time, time], ...] = DEFAULT_HOURS,
        days_off: Iterable[date] = (),
        working_days: Iterable[date] = (),
    ) -> None:
        self.zone = ZoneInfo(timezone)
        self.cutoff = cutoff
        self.hours = hours
        self.days_off = frozenset(days_off)
        self.extra_working_days = frozenset(working_days)
        # Years are filled up front: filling one later would call gettext, which the workflow sandbox forbids.
        self._holidays = holidays.country_holidays("VN", years=range(2020, 2041))

    @property
    def hours_per_day(self) -> float:
        return sum(_hours_between(start, end) for start, end in self.hours)

    def with_overrides(self, days_off: Iterable[date], working_days: Iterable[date]) -> WorkingCalendar:
        calendar = WorkingCalendar.__new__(WorkingCalendar)
        calendar.__dict__.update(self.__dict__)
        calendar.days_off = self.days_off | frozenset(days_off)
        calendar.extra_working_days = self.extra_working_days | frozenset(working_days)
        return calendar

    # ----------------------------------------------------------------------------- days

    def is_working_day(self, day: date) -> bool:
        if day in self.extra_working_days:
            return True
        if day in self.days_off:
            return False
        return self._holidays.is_working_day(day)

    def next_working_day(self, day: date) -> date:
        day += timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def effective_receipt_day(self, received_at: datetime) -> date:
        """The working day a dossier counts as received: after the cut-off, or on a day off, the next one."""
        local = received_at.astimezone(self.zone)
        day = local.date()
        if not self.is_working_day(day) or local.time() > self.cutoff:
            day = self.next_working_day(day)
        return day

    def add_working_days(self, day: date, count: int) -> date:
        for _ in range(count):
            day = self.next_working_day(day)
        return day

    def appointment_date(self, received_at: datetime, time_limit_working_days: int) -> date:
        # The legal time limit counts from the day after the (effective) receipt day; a limit of
        # zero means the result is due the same working day.
        return self.add_working_days(self.effective_receipt_day(received_at), time_limit_working_days)

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end` (0 when end <= start)."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            if self.is_working_day(day):
                count += 1
        return count

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    # ---------------------------------------------------------------------------- hours

    def end_of_day(self, day: date) -> datetime:
        """When the working day ends (the appointment is kept until then)."""
        return datetime.combine(day, self.hours[-1][1], self.zone)

    def _intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        if not self.is_working_day(day):
            return []
        return [(datetime.combine(day, s, self.zone), datetime.combine(day, e, self.zone)) for s, e in self.hours]

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The moment `hours` of working time after `start` (weekends, holidays and breaks skipped)."""
        remaining = timedelta(hours=hours)
        moment = start.astimezone(self.zone)
        day = moment.date()
        for _ in range(3660):
            for begin, end in self._intervals(day):
                if end <= moment:
                    continue
                begin = max(begin, moment)
                if begin + remaining <= end:
                    return begin + remaining
                remaining -= end - begin
                moment = end
            day += timedelta(days=1)
            moment = max(moment, datetime.combine(day, time(0), self.zone))
        raise ValueError("a deadline more than ten years ahead")

    def working_hours_between(self, start: datetime, end: datetime) -> float:
        """Working time between two moments, in hours."""
        if end <= start:
            return 0.0
        total = timedelta()
        day = start.astimezone(self.zone).date()
        last = end.astimezone(self.zone).date()
        while day <= last:
            for begin, stop in self._intervals(day):
                overlap = min(stop, end) - max(begin, start)
                if overlap > timedelta():
                    total += overlap
            day += timedelta(days=1)
        return total.total_seconds() / 3600

    def step_deadline(self, start: datetime, budget_working_days: int) -> datetime:
        """A step's budget is working time: N days of working hours from its start; 0 days, the end of that day."""
        if budget_working_days == 0:
            local = start.astimezone(self.zone)
            day = local.date() if self.is_working_day(local.date()) and local < self.end_of_day(local.date()) else None
            return self.end_of_day(day or self.next_working_day(local.date()))
        return self.add_working_hours(start, budget_working_days * self.hours_per_day)


def _hours_between(start: time, end: time) -> float:
    return (datetime.combine(date.min, end) - datetime.combine(date.min, start)).total_seconds() / 3600


VIETNAM = WorkingCalendar()
"""The national calendar with the default 15:00 cut-off, built outside the workflow sandbox."""


def parse_cutoff(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))
