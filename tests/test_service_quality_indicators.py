"""Service-quality indicators proved on a hand-computed data set (Decision 766/QD-TTg rules)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pytest
from sqlmodel import Session

from domain.working_calendar import VIETNAM
from readmodel import statistics
from readmodel.db import engine_for
from readmodel.schema import init_db
from readmodel.tables import DossierRow
from tests.support import deploy, officer, submit, three_step_procedure, unique_codes

A, B, P = "H29.50.05.13", "H15.50.05.13", "2.000635"
# Also runs in the cluster suite, on Temporal's separate services and the read model on PostgreSQL.
pytestmark = pytest.mark.cluster


ELECTRONIC = [{"id": "extract", "electronic": True}]
PAPER = [{"id": "extract", "electronic": False}]


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=VIETNAM.zone)


MONDAY_9AM = at(16, 9)


def dossier(code: str, *, channel: int = 2, unit: str = A, received: datetime = MONDAY_9AM, **state) -> DossierRow:
    return DossierRow(
        code=code, procedure_code=P, procedure_version=1, procedure_name="x", receiving_unit=unit, channel=channel,
        applicant={}, form={}, received_at=received, appointment_date=state.pop("appointment", date(2026, 11, 19)),
        request_hash=code, status=state.pop("status", 4), updated_at=received, **state,
    )  # fmt: skip


# Received Monday 16 November 2026 at 09:00, appointment Thursday 19 unless said otherwise; "today" is 21 November.
def data() -> list[DossierRow]:
    return [
        # on time: ended Wed 10:00; 6.5 + 8 + 2.5 = 17 working hours = 2.125 days; electronic; prefilled
        dossier("D1", outcome="completed", completed_at=at(18, 10), results=ELECTRONIC, prefilled=True, status=10),
        # late: ended Fri 16:00 after the appointment; 6.5 + 8 + 8 + 8 + 7 = 37.5 h = 4.6875 days; paper result
        dossier("D2", channel=1, outcome="completed", completed_at=at(20, 16), results=PAPER, status=10),
        # late: two supplement requests, though it ended before the appointment; 17 h - 8 h suspended = 1.125 days
        dossier(
            "D3",
            outcome="completed",
            completed_at=at(18, 10),
            results=ELECTRONIC,
            supplement_count=2,
            suspended_working_hours=8.0,
            status=10,
        ),  # fmt: skip
        dossier("D4", outcome="refused", completed_at=at(16, 10), status=3),
        dossier("D5", channel=1, outcome="withdrawn", completed_at=at(17, 9), status=7),
        # in progress, past its appointment
        dossier("D6", status=4),
        # in progress, appointment still ahead
        dossier("D7", channel=1, appointment=date(2026, 11, 27), prefilled=True, status=4),
        # processing stopped (a refusal after acceptance), before the appointment: a refusal, never "on time"
        dossier("D8", channel=1, unit=B, outcome="stopped", completed_at=at(17, 17), status=8),
        # outside the period
        dossier("D9", received=at(1, 9, month=10), outcome="completed", completed_at=at(2, 9, month=10), status=10),
    ]


@pytest.fixture
def session(tmp_path):
    engine = engine_for(f"sqlite:///{tmp_path / 'indicators.sqlite3'}")
    init_db(engine)
    with Session(engine) as session:
        session.add_all(data())
        session.commit()
        yield session


def compute(session, agency=None, procedure=None, by="receiving"):
    return statistics.indicators(
        session, start=date(2026, 11, 1), end=date(2026, 11, 30), agency=agency, procedure=procedure, zone=VIETNAM,
        calendar_of=lambda _: VIETNAM, today=date(2026, 11, 21), by=by,
    )  # fmt: skip


def test_indicators_match_the_hand_computed_figures(session):
    total, groups = compute(session)
    assert total.as_dict() == {
        "agency": None,
        "procedure": None,
        "received": 8,
        "in_progress": 2,
        "overdue_in_progress": 1,
        "completed_on_time": 1,
        "completed_late": 2,
        "withdrawn": 1,
        "refused": 2,
        "online": 4,
        "prefilled": 2,
        "electronic_results": 2,
        "with_results": 3,
        "completed_partial": 0,
        "on_time_rate": 0.3333,
        "average_processing_working_days": 2.65,  # of those completed: (2.125 + 4.6875 + 1.125) / 3 = 2.6458
        "online_rate": 0.5,
        "prefill_rate": 0.25,
        "electronic_result_rate": 0.6667,
    }
    # One line per (agency, procedure), in code order: H15… before H29….
    assert [(g.agency, g.received, g.completed_on_time, g.refused) for g in groups] == [(B, 1, 0, 1), (A, 7, 1, 1)]


def test_filters_by_agency(session):
    total, groups = compute(session, agency=B, procedure=P)
    assert (total.received, total.refused, total.completed_on_time, total.average_processing_working_days) == (
        1, 1, 0, None,
    )  # fmt: skip


def test_statistics_over_http_as_json_and_csv(api):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    submit(api, code)
    submit(api, code, channel=1, headers=officer("reception", unit))  # in person at the counter
    today = VIETNAM.local_date(datetime.now(VIETNAM.zone))
    params = {"start": today.isoformat(), "end": today.isoformat()}
    mine = api.get("/statistics", params={**params, "agency": unit}).json()["total"]
    assert (mine["received"], mine["in_progress"], mine["online_rate"]) == (2, 2, 0.5)
    body = api.get("/statistics", params=params).json()
    text = api.get("/statistics.csv", params=params)
    assert text.headers["content-type"].startswith("text/csv")
    rows = list(
        csv.DictReader(io.StringIO(text.content.decode("utf-8-sig"), newline=""))
    )  # tests/test_read_the_statistics.py
    assert rows[-1]["Tên đơn vị"] == "Tổng cộng" and int(rows[-1]["Tiếp nhận"]) == body["total"]["received"]
    assert sum(int(r["Tiếp nhận"]) for r in rows[:-1]) == body["total"]["received"]
    assert api.get("/statistics", params={"start": "2026-11-30", "end": "2026-11-01"}).status_code == 422
