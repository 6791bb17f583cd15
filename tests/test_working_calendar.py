"""Appointment dates in working days: weekends, Tết, make-up working days and the 15:00 cut-off."""

from __future__ import annotations

from datetime import date, datetime

from domain.working_calendar import VIETNAM, WorkingCalendar, parse_cutoff

ICT = VIETNAM.zone


def at(y: int, m: int, d: int, hh: int = 9, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=ICT)


def test_counts_from_the_day_after_receipt_skipping_weekends():
    # Thursday 2026-11-19 + 3 working days: Fri 20, Mon 23, Tue 24 is Vietnam Cultural Day, so Wed 25.
    assert VIETNAM.appointment_date(at(2026, 11, 19), 3) == date(2026, 11, 25)
    assert VIETNAM.appointment_date(at(2026, 11, 16), 2) == date(2026, 11, 18)


def test_after_the_cutoff_counts_from_the_next_working_day():
    assert VIETNAM.appointment_date(at(2026, 11, 16, 15, 0), 0) == date(2026, 11, 16)
    assert VIETNAM.appointment_date(at(2026, 11, 16, 15, 1), 0) == date(2026, 11, 17)
    assert VIETNAM.appointment_date(at(2026, 11, 20, 16, 30), 1) == date(
        2026, 11, 25
    )  # Fri late → Mon, +1 → Wed (24 off)
    # The cut-off is local time: 08:30 UTC is 15:30 in Hanoi.
    assert VIETNAM.effective_receipt_day(datetime.fromisoformat("2026-11-16T08:30:00+00:00")) == date(2026, 11, 17)


def test_tet_and_year_end():
    # Received Friday 2026-02-13; Tết closes 16–20 February; the next working days are 23 and 24.
    assert VIETNAM.appointment_date(at(2026, 2, 13), 2) == date(2026, 2, 24)
    # Received on Wednesday 2025-12-31 after the cut-off; 1 January is a holiday.
    assert VIETNAM.appointment_date(at(2025, 12, 31, 16), 0) == date(2026, 1, 2)
    assert not VIETNAM.is_working_day(date(2026, 4, 27))  # Hùng Kings' day observed


def test_official_make_up_saturday_is_a_working_day():
    assert VIETNAM.is_working_day(date(2026, 8, 22))
    assert not VIETNAM.is_working_day(date(2026, 8, 31))
    assert VIETNAM.appointment_date(at(2026, 8, 21), 1) == date(2026, 8, 22)


def test_a_weekend_submission_counts_from_monday():
    assert VIETNAM.effective_receipt_day(at(2026, 11, 21, 8)) == date(2026, 11, 23)


def test_cutoff_is_configurable():
    late = WorkingCalendar(cutoff=parse_cutoff("16:30"))
    assert late.appointment_date(at(2026, 11, 16, 16, 0), 0) == date(2026, 11, 16)
