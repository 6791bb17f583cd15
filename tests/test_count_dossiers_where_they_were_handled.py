"""Statistics count a dossier where it was handled, not only at the counter that received it: under every unit that
held a step of it or a child dossier of it (once per unit), and per administrative level; and refused is refused
wherever it happens: a child dossier the police refuse counts as refused for the police, never as completed on time,
and so does the birth dossier's line at the police, which went on with a partial result elsewhere."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import insert
from sqlmodel import Session

from domain.working_calendar import VIETNAM
from readmodel import statistics
from readmodel.db import engine_for
from readmodel.schema import init_db
from readmodel.tables import DossierEventRow, DossierRow
from tests.browser import reload_until, screenshot, sign_in_as_officer
from tests.support import ADMINISTRATOR, BIRTH_WARD, child_dossiers, decide, submit_birth, wait_for_status, wait_until

WARD, POLICE, SOCIAL_INSURANCE = BIRTH_WARD, "H29.CA", "H29.BHXH"
BIRTH, RESIDENCE, INSURANCE = "3.000722", "1.004222", "1.001779"
COUNTED = ("received", "in_progress", "completed_on_time", "completed_late", "refused", "withdrawn",
           "completed_partial")  # fmt: skip


# A hand-made read model: the birth dossier B of the ward, its children at the police (refused) and social insurance
# (completed), and a dossier W the ward refused at its counter. Same figures on SQLite and PostgreSQL.
def at(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=VIETNAM.zone)


def row(code: str, procedure: str, unit: str, outcome: str | None, **more: Any) -> dict[str, Any]:
    return {
        "code": code, "procedure_code": procedure, "procedure_version": 1, "procedure_name": procedure,
        "receiving_unit": unit, "channel": 2, "applicant": {}, "form": {}, "step_units": {},
        "received_at": at(16, 9), "appointment_date": date(2026, 11, 19), "request_hash": code, "status": 10,
        "outcome": outcome, "completed_at": at(17, 10) if outcome else None, "results": [], "updated_at": at(16, 9),
        "partial": False, "parent_code": None, "active_steps": [], **more,
    }  # fmt: skip


def started(code: str, seq: int, step: str, unit: str | None) -> dict[str, Any]:
    return {"dossier_code": code, "seq": seq, "kind": "step_started", "at": at(16, 9), "step_id": step,
            "summary": step, "detail": {"unit_code": unit} if unit else {"child_dossier": "x"}}  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def read_model(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'handled.sqlite3'}"
    else:
        postgres = request.getfixturevalue("postgres")
        name = f"handled_{uuid.uuid4().hex[:12]}"
        postgres.create_database(name)
        url = postgres.url(name)
    engine = engine_for(url)
    init_db(engine)
    with engine.begin() as connection:
        connection.execute(insert(DossierRow.__table__), [  # type: ignore[attr-defined]
            row("B", BIRTH, WARD, "completed", partial=True),
            row("C1", RESIDENCE, POLICE, "stopped", parent_code="B"),
            row("C2", INSURANCE, SOCIAL_INSURANCE, "completed", parent_code="B"),
            row("W", BIRTH, WARD, "refused"),
        ])  # fmt: skip
        connection.execute(insert(DossierEventRow.__table__), [  # type: ignore[attr-defined]
            started("B", 1, "reception", WARD), started("B", 2, "register_birth", WARD),
            started("B", 3, "residence_registration", None), started("C1", 1, "police_review", POLICE),
            started("C2", 1, "insurance_review", SOCIAL_INSURANCE), started("W", 1, "reception", WARD),
        ])  # fmt: skip
    with Session(engine) as session:
        yield session
    engine.dispose()
    if request.param == "postgresql":
        request.getfixturevalue("postgres").drop_database(name)


def figures(session: Session, by: str, agency: str | None = None) -> tuple[dict, dict[tuple[str, str], dict]]:
    total, lines = statistics.indicators(
        session, start=date(2026, 11, 1), end=date(2026, 11, 30), agency=agency, procedure=None, zone=VIETNAM,
        calendar_of=lambda _: VIETNAM, today=date(2026, 11, 21), by=by,
    )  # fmt: skip
    pick = lambda i: {k: getattr(i, k) for k in COUNTED}  # noqa: E731
    return pick(total), {(i.agency, i.procedure): pick(i) for i in lines}


def counts(received=1, in_progress=0, on_time=0, late=0, refused=0, withdrawn=0, partial=0) -> dict[str, int]:
    return dict(zip(COUNTED, (received, in_progress, on_time, late, refused, withdrawn, partial), strict=True))


def test_every_handling_unit_and_level_counts_the_dossier_once_and_a_refusal_stays_a_refusal(read_model):
    # At the counters: the ward's birth dossier completed (partially) on time, its refusal, and each child once.
    total, lines = figures(read_model, "receiving")
    assert lines == {
        (WARD, BIRTH): counts(received=2, on_time=1, refused=1, partial=1),
        (POLICE, RESIDENCE): counts(refused=1),  # stopped: a refusal, not "completed on time"
        (SOCIAL_INSURANCE, INSURANCE): counts(on_time=1),
    }
    assert total == counts(received=4, on_time=2, refused=2, partial=1)

    # Where they were handled: the birth dossier also at the police (its branch refused there) and social insurance.
    total, lines = figures(read_model, "handling")
    assert lines == {
        (WARD, BIRTH): counts(received=2, on_time=1, refused=1, partial=1),
        (POLICE, BIRTH): counts(refused=1),
        (SOCIAL_INSURANCE, BIRTH): counts(on_time=1, partial=1),
        (POLICE, RESIDENCE): counts(refused=1),
        (SOCIAL_INSURANCE, INSURANCE): counts(on_time=1),
    }
    assert total == counts(received=4, on_time=2, refused=2, partial=1)  # each dossier once, by its own outcome
    _, police = figures(read_model, "handling", agency=POLICE)
    assert set(police) == {(POLICE, BIRTH), (POLICE, RESIDENCE)}

    # Per level: the police and social insurance are provincial departments: the birth dossier counts once there.
    total, lines = figures(read_model, "level")
    assert lines == {
        ("ward", BIRTH): counts(received=2, on_time=1, refused=1, partial=1),
        ("province", BIRTH): counts(refused=1),
        ("province", RESIDENCE): counts(refused=1),
        ("province", INSURANCE): counts(on_time=1),
    }
    assert total == counts(received=4, on_time=2, refused=2, partial=1)
    _, lines = figures(read_model, "level", agency=SOCIAL_INSURANCE)
    assert lines == {("province", BIRTH): counts(on_time=1, partial=1), ("province", INSURANCE): counts(on_time=1)}


# The real flow: the mother applies at the ward; the police refuse the residence, social insurance issues the card.
def line(api, by: str, agency: str, procedure: str) -> dict[str, int]:
    today = VIETNAM.local_date(datetime.now(VIETNAM.zone)).isoformat()
    body = api.get(
        "/statistics", params={"start": today, "end": today, "by": by, "agency": agency, "procedure": procedure}
    ).json()
    assert body["by"] == by
    return {k: sum(g[k] for g in body["groups"]) for k in COUNTED}  # that unit's (or its level's) line, if any


LINES = [
    ("receiving", WARD, BIRTH), ("receiving", POLICE, BIRTH), ("handling", WARD, BIRTH),
    ("handling", POLICE, BIRTH), ("handling", SOCIAL_INSURANCE, BIRTH), ("handling", POLICE, RESIDENCE),
    ("handling", SOCIAL_INSURANCE, INSURANCE), ("level", WARD, BIRTH), ("level", POLICE, BIRTH),
    ("level", POLICE, RESIDENCE),
]  # fmt: skip


def snapshot(api) -> dict[tuple[str, str, str], dict[str, int]]:
    return {key: line(api, *key) for key in LINES}


def test_the_ward_the_police_and_social_insurance_each_count_a_birth_dossier(api, shipped):
    before = snapshot(api)
    dossier = submit_birth(api)
    decide(api, dossier, "reception", WARD)
    decide(api, dossier, "register_birth", WARD)
    children = child_dossiers(api, dossier, 2)
    police, insurance = children[RESIDENCE], children[INSURANCE]
    decide(api, police, "police_review", POLICE, "reject", reason="Chỗ ở không đủ điều kiện đăng ký thường trú")
    assert wait_for_status(api, police, 8, finished=True)["outcome"] == "stopped"
    decide(api, insurance, "insurance_review", SOCIAL_INSURANCE)
    view = wait_for_status(api, dossier, 10, finished=True)
    assert view["outcome"] == "completed" and view["partial"]

    def changes() -> dict[tuple[str, str, str], dict[str, int]]:
        after = snapshot(api)
        return {key: {k: after[key][k] - before[key][k] for k in COUNTED} for key in LINES}

    expected = {
        ("receiving", WARD, BIRTH): counts(partial=1, on_time=1),
        ("receiving", POLICE, BIRTH): counts(received=0),  # the police received no birth dossier
        ("handling", WARD, BIRTH): counts(partial=1, on_time=1),
        # The police held the birth dossier's residence branch and refused it: refused there, not completed.
        ("handling", POLICE, BIRTH): counts(refused=1),
        ("handling", SOCIAL_INSURANCE, BIRTH): counts(partial=1, on_time=1),
        ("handling", POLICE, RESIDENCE): counts(refused=1),  # the child the police refused
        ("handling", SOCIAL_INSURANCE, INSURANCE): counts(on_time=1),
        ("level", WARD, BIRTH): counts(partial=1, on_time=1),
        ("level", POLICE, BIRTH): counts(refused=1),  # the provincial level, once for both departments
        ("level", POLICE, RESIDENCE): counts(refused=1),
    }
    got = wait_until(lambda: (c := changes()) == expected and c, what="the statistics to count the birth dossier")
    assert got == expected


def test_the_csv_groups_by_the_chosen_dimension(api, shipped):
    dossier = submit_birth(api)
    decide(api, dossier, "reception", WARD)
    decide(api, dossier, "register_birth", WARD)
    child_dossiers(api, dossier, 2)
    today = VIETNAM.local_date(datetime.now(VIETNAM.zone)).isoformat()

    def read(by: str) -> list[dict[str, str]]:
        answer = api.get("/statistics.csv", params={"start": today, "end": today, "by": by, "procedure": BIRTH})
        assert answer.status_code == 200 and answer.content.startswith(b"\xef\xbb\xbf")
        return list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"), newline="")))

    handling = read("handling")
    assert {r["Nhóm theo"] for r in handling} == {"Đơn vị giải quyết"}
    units = {r["Mã đơn vị"]: r for r in handling[:-1]}
    assert {WARD, POLICE, SOCIAL_INSURANCE} <= set(units)
    assert (units[POLICE]["Tên đơn vị"], units[POLICE]["Cấp"]) == ("Công an Thành phố Hồ Chí Minh", "Cấp tỉnh")
    assert units[WARD]["Cấp"] == "Cấp xã" and handling[-1]["Tên đơn vị"] == "Tổng cộng"
    # A dossier counts once per unit that handled it, and once in the total.
    assert int(handling[-1]["Tiếp nhận"]) < sum(int(r["Tiếp nhận"]) for r in handling[:-1])

    receiving = read("receiving")
    assert {r["Nhóm theo"] for r in receiving} == {"Đơn vị tiếp nhận"}
    assert POLICE not in {r["Mã đơn vị"] for r in receiving}
    assert receiving[-1]["Tiếp nhận"] == handling[-1]["Tiếp nhận"]

    levels = read("level")
    assert {r["Nhóm theo"] for r in levels} == {"Cấp hành chính"}
    assert {(r["Mã đơn vị"], r["Tên đơn vị"]) for r in levels[:-1]} >= {("ward", "Cấp xã"), ("province", "Cấp tỉnh")}
    assert api.get("/statistics", params={"start": today, "end": today, "by": "street"}).status_code == 422


def test_the_dashboard_switches_between_counter_handling_unit_and_level(api, shipped, new_page):
    dossier = submit_birth(api)
    decide(api, dossier, "reception", WARD)
    decide(api, dossier, "register_birth", WARD)
    child_dossiers(api, dossier, 2)

    page = new_page()
    sign_in_as_officer(page, ADMINISTRATOR)
    page.goto(f"/admin/statistics?procedure={BIRTH}")
    reload_until(page, "svg#chart-received", what="the chart of dossiers received")
    assert POLICE not in page.locator("#indicators tbody").inner_text()  # by the counter: the ward's only
    page.get_by_label("Nhóm theo").select_option(label="Theo đơn vị giải quyết")
    page.get_by_role("button", name="Xem").click()
    page.wait_for_url("**by=handling**")
    assert page.get_by_role("columnheader", name="Đơn vị giải quyết").count() == 1
    table = page.locator("#indicators tbody").inner_text()
    assert all(unit in table for unit in (WARD, POLICE, SOCIAL_INSURANCE)), table
    assert "by=handling" in page.get_by_role("link", name="Tải CSV").get_attribute("href")

    page.get_by_label("Nhóm theo").select_option(label="Theo cấp hành chính")
    page.get_by_role("button", name="Xem").click()
    page.wait_for_url("**by=level**")
    names = page.locator("#indicators tbody td.named").all_inner_texts()
    assert any("Cấp xã" in n for n in names) and any("Cấp tỉnh" in n for n in names), names
    screenshot(page, "administrator-statistics-by-level")
