"""Working-day arithmetic for legal deadlines.

Public holidays, the lunar ones and official make-up working days included, come from the
maintained `holidays` library, never from a hand-kept list. The calendar is pure: the same
inputs give the same dates, so the workflow may use it.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays


class WorkingCalendar:
    def __init__(self, timezone: str = "Asia/Ho_Chi_Minh", cutoff: time = time(15, 0)) -> None:
        self.zone = ZoneInfo(timezone)
        self.cutoff = cutoff
        # Years are filled up front: filling one later would call gettext, which the workflow sandbox forbids.
        self._holidays = holidays.country_holidays("VN", years=range(2020, 2041))

    def is_working_day(self, day: date) -> bool:
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

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()


VIETNAM = WorkingCalendar()
"""The national calendar with the default 15:00 cut-off, built outside the workflow sandbox."""


def parse_cutoff(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))
