"""Administrators change a province's calendar; officers apologise or extend within the law; citizens withdraw."""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.working_calendar import VIETNAM
from tests.support import APPLICANT, attachment, decide, deploy, officer, submit, three_step_procedure, unique_codes

HCMC = "79"
HCMC_WARD = "H29.50.05.13"


def test_a_province_day_off_moves_its_appointments(api, shipped):
    now = datetime.now(VIETNAM.zone)
    before = api.get(
        f"/calendars/{HCMC}/appointment", params={"working_days": 3, "received_at": now.isoformat()}
    ).json()
    day_off = VIETNAM.next_working_day(VIETNAM.effective_receipt_day(now))
    put = api.put(f"/calendars/{HCMC}/days/{day_off}", json={"kind": "day_off", "reason": "Nghỉ bù sáp nhập"})
    assert put.status_code == 200, put.text
    try:
        after = api.get(
            f"/calendars/{HCMC}/appointment", params={"working_days": 3, "received_at": now.isoformat()}
        ).json()
        assert (
            after["appointment_date"]
            == VIETNAM.next_working_day(datetime.fromisoformat(before["appointment_date"]).date()).isoformat()
        )
        # A dossier received in the province follows its calendar; the national one does not change.
        national = api.get(
            "/calendars/VN/appointment", params={"working_days": 3, "received_at": now.isoformat()}
        ).json()
        assert national["appointment_date"] == before["appointment_date"]
        receipt = api.post(
            "/dossiers",
            json={
                "procedure_code": "1.001612",
                "receiving_unit": HCMC_WARD,
                "applicant": APPLICANT,
                "form": {
                    "head_citizen_id": "079123456789", "business_name": "Tiệm Bánh Mì Hẹn", "address": "1 Lê Lợi",
                    "business_lines": ["5610"], "capital_vnd": 20_000_000, "employees": 1,
                },
            },
        ).json()  # fmt: skip
        received = datetime.fromisoformat(receipt["received_at"])
        assert (
            receipt["appointment_date"]
            == api.get(
                f"/calendars/{HCMC}/appointment", params={"working_days": 3, "received_at": received.isoformat()}
            ).json()["appointment_date"]
        )
        listed = api.get(f"/calendars/{HCMC}", params={"year": day_off.year}).json()
        assert {"day": day_off.isoformat(), "kind": "day_off", "reason": "Nghỉ bù sáp nhập"} in listed["changes"]
        # Holidays are named in the reader's language, dates as Vietnamese write them.
        names = {h["day"]: h["name"] for h in api.get("/calendars/VN", params={"year": 2026}).json()["holidays"]}
        assert names["2026-02-17"] == "Tết Nguyên Đán" and names["2026-08-31"] == "Ngày nghỉ (thay cho ngày 22/08/2026)"
        english = api.get("/calendars/VN", params={"year": 2027}, headers={"Accept-Language": "en"}).json()
        assert any(h["name"] == "Lunar New Year" for h in english["holidays"])
    finally:
        assert api.delete(f"/calendars/{HCMC}/days/{day_off}").status_code == 204
    assert api.delete(f"/calendars/{HCMC}/days/{day_off}").status_code == 404
    assert api.put("/calendars/99/days/2026-12-01", json={"kind": "day_off", "reason": "x"}).status_code == 404
    assert api.put(f"/calendars/{HCMC}/days/2026-12-01", json={"kind": "holiday", "reason": "x"}).status_code == 422
    assert (
        api.get(
            f"/calendars/{HCMC}/appointment", params={"working_days": 1, "received_at": "2026-11-16T09:00:00"}
        ).status_code
        == 422
    )


def test_apology_extension_and_withdrawal_over_http(api):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit, time_limit_working_days=3))
    receipt = submit(api, code)
    dossier = receipt["dossier_code"]
    decide(api, dossier, "reception", unit)
    appointment = datetime.fromisoformat(receipt["appointment_date"]).date()
    later = VIETNAM.add_working_days(appointment, 2)
    saturday = later + timedelta(days=(5 - later.weekday()) % 7)

    def apologise(new_date, who=None):
        who = who or officer("leader", unit)  # the leader apologises, unless the definition says otherwise
        return api.post(
            f"/dossiers/{dossier}/apologies",
            json={"reason": "Chờ ý kiến liên ngành", "new_appointment_date": str(new_date)},
            headers=who,
        )

    assert apologise(saturday).status_code == 422
    assert apologise(appointment).status_code == 422  # not after the appointment
    # An officer of a unit with no part in the dossier does not learn it exists.
    assert apologise(later, officer("reception", "T0000.00.00")).status_code == 404
    assert apologise(later).status_code == 200
    view = api.get(f"/dossiers/{dossier}").json()
    assert view["apology"]["new_appointment_date"] == later.isoformat()
    assert view["appointment_date"] == appointment.isoformat()  # the legal date stays: the apology does not excuse
    assert any(e["kind"] == "apology" for e in view["timeline"])

    # This procedure has no extended limit in law.
    no_extension = api.post(f"/dossiers/{dossier}/extensions", json={"reason": "x"}, headers=officer("leader", unit))
    assert no_extension.status_code == 409

    withdrawn = api.post(f"/dossiers/{dossier}/withdrawal", json={"reason": "Không còn nhu cầu"})
    assert withdrawn.status_code == 200, withdrawn.text
    view = api.get(f"/dossiers/{dossier}").json()
    assert view["status"] == 7 and view["outcome"] == "withdrawn" and view["active_steps"] == []
    assert api.post(f"/dossiers/{dossier}/withdrawal", json={"reason": "again"}).status_code == 409


def test_extension_where_the_law_allows_it(api, shipped):
    # The land certificate has an extended limit (10 working days) for special cases.
    response = api.post(
        "/dossiers",
        json={
            "procedure_code": "1.012783",
            "applicant": APPLICANT,
            "form": {
                "applicant_id": "079080000123", "applicant_name": "Phạm Văn Đất", "certificate_number": "CS 123456",
                "parcel_number": "152", "map_sheet": "18", "reason": "lost", "loss_report": "CA-1",
                "parcel_address": {"province_code": "79", "ward_code": "26740", "detail": "45 Hai Bà Trưng"},
                "application_form": attachment("a.pdf"),
            },
        },
    )  # fmt: skip
    assert response.status_code == 201, response.text
    dossier, appointment = response.json()["dossier_code"], response.json()["appointment_date"]
    decide(api, dossier, "reception", "H29.22")
    answer = api.post(
        f"/dossiers/{dossier}/extensions",
        json={"reason": "Xác minh nguồn gốc đất"},
        headers=officer("leader", "H29.22"),  # the definition's extension_role
    )
    assert answer.status_code == 200, answer.text
    view = api.get(f"/dossiers/{dossier}").json()
    start = datetime.fromisoformat(appointment).date()
    assert view["extended"] and view["appointment_date"] == VIETNAM.add_working_days(start, 5).isoformat()
    again = api.post(f"/dossiers/{dossier}/extensions", json={"reason": "lần hai"}, headers=officer("leader", "H29.22"))
    assert again.status_code == 409
