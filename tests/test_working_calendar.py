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


def test_working_hours_skip_breaks_nights_weekends_and_holidays():
    # From Friday 20 November 15:00: two hours that afternoon, then Monday 23; Tuesday 24 is a holiday.
    start = at(2026, 11, 20, 15, 0)
    assert VIETNAM.add_working_hours(start, 2) == at(2026, 11, 20, 17, 0)
    assert VIETNAM.add_working_hours(start, 3) == at(2026, 11, 23, 8, 30)
    assert VIETNAM.add_working_hours(at(2026, 11, 23, 11, 0), 1) == at(2026, 11, 23, 13, 30)  # lunch is not worked
    assert VIETNAM.add_working_hours(at(2026, 11, 23, 16, 0), 2) == at(2026, 11, 25, 8, 30)  # the 24th is a day off
    assert VIETNAM.working_hours_between(start, at(2026, 11, 25, 8, 30)) == 2 + 8 + 1


def test_step_deadlines():
    assert VIETNAM.step_deadline(at(2026, 11, 16, 9, 0), 1) == at(2026, 11, 17, 9, 0)
    assert VIETNAM.step_deadline(at(2026, 11, 16, 9, 0), 0) == at(2026, 11, 16, 17, 0)
    assert VIETNAM.step_deadline(at(2026, 11, 16, 18, 0), 0) == at(2026, 11, 17, 17, 0)  # after hours: the next day
    assert VIETNAM.step_deadline(at(2026, 11, 21, 9, 0), 1) == at(2026, 11, 23, 17, 0)  # Saturday: all of Monday


def test_province_days_off_and_make_up_days():
    province = VIETNAM.with_overrides(days_off=[date(2026, 11, 25)], working_days=[date(2026, 11, 28)])
    assert not province.is_working_day(date(2026, 11, 25)) and province.is_working_day(date(2026, 11, 28))
    # Monday 23 + 2: Tuesday 24 is a national holiday and Wednesday 25 the province's day off.
    assert province.appointment_date(at(2026, 11, 23), 2) == date(2026, 11, 27)
    assert province.appointment_date(at(2026, 11, 26), 1) == date(2026, 11, 27)
    assert province.appointment_date(at(2026, 11, 26), 2) == date(2026, 11, 28)  # the make-up Saturday counts
    assert VIETNAM.is_working_day(date(2026, 11, 25))  # the national calendar is untouched
