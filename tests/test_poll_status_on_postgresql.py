"""A citizen polling a dossier's status on PostgreSQL reads the row and its timeline in one statement (the timeline
aggregated as JSON): what it reads is exactly what the row's and the timeline's own reads give, value for value."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from readmodel.db import engine_for, reader_for
from readmodel.dossiers import read_only, read_with_timeline, timeline
from readmodel.schema import init_db
from readmodel.tables import DossierEventRow, DossierRow

DOSSIER = "H29.50.05.13-250714-0007"
UNIT = "H29.50.05.13"
HANOI = timezone(timedelta(hours=7))


@pytest.fixture
def database(postgres) -> Iterator[str]:
    """A fresh database migrated to head."""
    name = f"poll_{uuid.uuid4().hex[:12]}"
    postgres.create_database(name)
    url = postgres.url(name)
    init_db(engine_for(url))
    yield url
    engine_for(url).dispose()
    reader_for(url).dispose()
    postgres.drop_database(name)


def dossier_row() -> dict:
    received = datetime(2025, 7, 14, 2, 15, 7, 250_000, tzinfo=UTC)
    return {
        "code": DOSSIER, "procedure_code": "2.000635", "procedure_version": 2,
        "procedure_name": "Cấp bản sao trích lục hộ tịch", "receiving_unit": UNIT, "channel": 2,
        "applicant": {"full_name": "Nguyễn Văn An"}, "form": {"copies": 2}, "step_units": {"approve": UNIT},
        "received_at": received, "appointment_date": date(2025, 7, 17), "idempotency_key": None,
        "request_hash": "c5" * 32, "workflow_started": True, "parent_code": None, "owner_citizen_id": "079123456789",
        "submitted_by": None, "handling_unit": None, "status": 4,
        "active_steps": [{"step_id": "approve", "role": "leader"}], "supplement_request": None,
        "fee_request": {"amount_vnd": 16000}, "fees_paid_vnd": 16000, "outcome": None, "outcome_reason": None,
        "partial": False, "results": [], "completed_at": None, "original_appointment_date": date(2025, 7, 17),
        "jurisdiction": "79", "supplement_count": 1, "suspended_working_hours": 3.5, "extended": False,
        "apology": None, "overdue": False, "overdue_without_apology": False, "prefilled": True, "last_seq": 12,
        "updated_at": received + timedelta(days=1),
    }  # fmt: skip


def event(seq: int, at: datetime, summary: str, **values: object) -> dict:
    return {
        "dossier_code": DOSSIER, "seq": seq, "kind": "decision", "at": at, "step_id": None, "actor": None,
        "summary": summary, "status": None, "detail": {"seq": seq}, "actor_kind": None, "actor_id": None,
        "on_behalf_of": None, "unit_code": None, "channel": None, **values,
    }  # fmt: skip


# Inserted out of seq's order (10 and 12 sort after 2 as numbers, before it as text), with times to the second and
# to the microsecond (trailing zeros that JSON drops), one given in another offset, fields left empty or all filled,
# and summaries JSON must escape.
EVENTS = [
    event(3, datetime(2025, 7, 14, 9, 30, tzinfo=HANOI), "Tiếp nhận hồ sơ — “đủ điều kiện”", kind="received",
          step_id="receive", actor=f"reception@{UNIT}", status=2, actor_kind="officer",
          actor_id=f"reception@{UNIT}", unit_code=UNIT, channel="in_person"),
    event(1, datetime(2025, 7, 14, 2, 15, 7, 250_000, tzinfo=UTC), "Hồ sơ được nộp trực tuyến 📄", kind="submitted",
          status=1, actor_kind="citizen", actor_id="079123456789", channel="online"),
    event(12, datetime(2025, 7, 15, 3, 0, 0, 1, tzinfo=UTC), 'Trả kết quả: "bản sao" \\ số 2\nký số\tđã xong',
          kind="completed", status=10, actor_kind="system", channel="system"),
    event(2, datetime(2025, 7, 14, 2, 15, 8, tzinfo=UTC), "Thanh toán phí 16.000 ₫", kind="fee_paid",
          actor_kind="portal", on_behalf_of="079123456789", channel="portal"),
    event(10, datetime(2025, 7, 15, 1, 59, 59, 999_999, tzinfo=UTC), "Lãnh đạo phê duyệt (thay mặt)",
          step_id="approve", actor=f"deputy@{UNIT}", status=4, actor_kind="officer", actor_id=f"deputy@{UNIT}",
          on_behalf_of=f"leader@{UNIT}", unit_code=UNIT, channel="api"),
    event(4, datetime(2025, 7, 14, 10, 0, 0, 120_000, tzinfo=UTC), "", kind="note"),
]  # fmt: skip


def insert(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(sa.insert(DossierRow.__table__), [dossier_row()])
        for values in EVENTS:  # one statement each, in this order
            connection.execute(sa.insert(DossierEventRow.__table__), [values])


def test_a_status_poll_reads_in_one_statement_what_the_row_and_timeline_reads_give(database):
    insert(engine_for(database))
    with reader_for(database).connect() as connection:
        assert connection.dialect.name == "postgresql"
        row, events = read_with_timeline(connection, DOSSIER)
        expected_events = timeline(connection, DOSSIER)
        expected_row = read_only(connection, DOSSIER)

    assert [event["seq"] for event in expected_events] == [1, 2, 3, 4, 10, 12]
    assert events == expected_events  # the same dicts (keys and values), in the same order
    for got, expected in zip(events, expected_events, strict=True):
        assert got["at"].tzinfo == UTC and expected["at"].tzinfo == UTC
        assert got["at"] == expected["at"]
    by_seq = {values["seq"]: values for values in EVENTS}
    assert [event["at"] for event in events] == [by_seq[event["seq"]]["at"] for event in events]  # to the µs
    assert [event["summary"] for event in events] == [by_seq[event["seq"]]["summary"] for event in events]

    assert row is not None and expected_row is not None
    assert vars(row) == vars(expected_row)
    assert vars(row)["code"] == DOSSIER and "timeline" not in vars(row)


def test_a_status_poll_of_a_dossier_without_events_reads_an_empty_timeline(database):
    with engine_for(database).begin() as connection:
        connection.execute(sa.insert(DossierRow.__table__), [dossier_row()])
    with reader_for(database).connect() as connection:
        row, events = read_with_timeline(connection, DOSSIER)
        assert events == [] == timeline(connection, DOSSIER)
        assert row is not None and vars(row) == vars(read_only(connection, DOSSIER))


def test_a_status_poll_of_an_unknown_dossier_reads_nothing(database):
    insert(engine_for(database))
    with reader_for(database).connect() as connection:
        assert read_with_timeline(connection, "H29.50.05.13-250714-9999") == (None, None)
        assert read_only(connection, "H29.50.05.13-250714-9999") is None
