"""Non-boundary reception: a reception officer at any unit receives a dossier for any procedure; it goes to
the unit competent for the applicant's address, and the result comes back to the counter that received it.
The receipt (form 01) prints, and the process-control slip (form 06) shows every hand-off."""

from __future__ import annotations

from tests.support import citizen, decide, deploy, officer, unique_codes, wait_for_status, wait_for_step

HCMC_WARD = "H29.50.05.13"  # Phường Sài Gòn, area 26734
HUE_WARD = "H15.50.05.13"  # Phường Thuận Hóa, area 19750
HUE_COUNTER = "H15.50.05.16"  # Phường Vỹ Dạ: does not receive this procedure
APPLICANT = {"full_name": "Đỗ Thị Xa Quê", "citizen_id": "079195000321"}


def _procedure(code: str) -> dict:
    return {
        "code": code,
        "name": "Xác nhận thông tin cư trú (thử nghiệm phi địa giới)",
        "sector": "residence",
        "level": "ward",
        "receiving_units": [HCMC_WARD, HUE_WARD],
        "time_limit_working_days": 3,
        "form": {
            "fields": [
                {"name": "residence", "label": "Nơi cư trú", "type": "address"},
                {"name": "purpose", "label": "Mục đích", "type": "text", "max_length": 200},
            ]
        },
        "steps": [
            {"id": "reception", "kind": "reception", "name": "Tiếp nhận", "role": "reception",
             "budget_working_days": 1, "next": "review"},
            {"id": "review", "kind": "review", "name": "Thẩm định", "role": "specialist",
             "budget_working_days": 1, "next": "approval"},
            {"id": "approval", "kind": "approval", "name": "Phê duyệt", "role": "leader",
             "budget_working_days": 1, "next": "result"},
            {"id": "result", "kind": "result", "name": "Trả kết quả"},
        ],
    }  # fmt: skip


def _receive_at_hue_counter(api, code: str, ward_code: str, **extra):
    return api.post(
        "/dossiers",
        json={
            "procedure_code": code,
            "applicant": APPLICANT,
            "form": {"residence": {"province_code": "79", "ward_code": ward_code, "detail": "7 Đồng Khởi"},
                     "purpose": "bổ sung hồ sơ việc làm"},
            **extra,
        },
        headers=officer("reception", HUE_COUNTER),
    )  # fmt: skip


def test_a_hue_counter_receives_for_a_saigon_resident_and_hcmc_processes_it(api, simulator):
    code, _ = unique_codes()
    deploy(api, _procedure(code))

    response = _receive_at_hue_counter(api, code, "26734")
    assert response.status_code == 201, response.text
    receipt = response.json()
    dossier = receipt["dossier_code"]
    assert dossier.startswith(f"{HUE_COUNTER}-")  # numbered by the counter that received it
    assert (receipt["receiving_unit"], receipt["handling_unit"], receipt["channel"]) == (
        HUE_COUNTER,
        HCMC_WARD,
        "in_person",
    )

    # Reception happens at the counter; everything after at the competent unit.
    view = wait_for_step(api, dossier, "reception")
    assert view["active_steps"][0]["unit_code"] == HUE_COUNTER
    decide(api, dossier, "reception", HUE_COUNTER)
    view = wait_for_step(api, dossier, "review")
    assert view["active_steps"][0]["unit_code"] == HCMC_WARD
    assert dossier in [i["dossier_code"] for i in api.get("/inbox", headers=officer("specialist", HCMC_WARD)).json()]
    assert api.get("/inbox", headers=officer("specialist", HUE_WARD)).json() == []
    decide(api, dossier, "review", HCMC_WARD)
    decide(api, dossier, "approval", HCMC_WARD)
    done = wait_for_status(api, dossier, 10, finished=True)
    assert done["receiving_unit"] == HUE_COUNTER  # where the result is returned

    # Who received it, and through which channel, is in the dossier's audit trail.
    submitted = done["timeline"][0]
    assert (submitted["kind"], submitted["actor_kind"], submitted["actor_id"], submitted["unit_code"]) == (
        "submitted",
        "officer",
        f"reception@{HUE_COUNTER}",
        HUE_COUNTER,
    )
    assert submitted["channel"] == "in_person"

    # The applicant follows it with the receipt's secret, or signed in with VNeID; both see the same.
    mine = api.get(f"/dossiers/{dossier}", headers=citizen(APPLICANT["citizen_id"])).json()
    assert mine["status"] == 10 and mine["lookup_secret"] == receipt["lookup_secret"]

    # Form 01, printable.
    page = api.get(f"/dossiers/{dossier}/receipt.html")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for text in ["GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ", dossier, receipt["lookup_secret"], "Phường Vỹ Dạ",
                 "Phường Sài Gòn", APPLICANT["full_name"], "window.print()"]:  # fmt: skip
        assert text in page.text, text

    # Form 06: one hand-off per officer step, with its unit and whether it finished on time.
    slip = api.get(f"/dossiers/{dossier}/process-control").json()
    assert [(h["step_id"], h["unit_code"], h["role"]) for h in slip] == [
        ("reception", HUE_COUNTER, "reception"),
        ("review", HCMC_WARD, "specialist"),
        ("approval", HCMC_WARD, "leader"),
    ]
    assert all(h["finished_at"] and h["timeliness"] in ("early", "on_time") for h in slip)
    assert slip[0]["finished_by"].startswith(f"reception@{HUE_COUNTER} (reception, {HUE_COUNTER}")
    html = api.get(f"/dossiers/{dossier}/process-control.html").text
    assert "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ" in html and html.count("<tr>") == 4


def test_an_address_no_receiving_unit_is_competent_for_is_refused_with_its_field(api):
    code, _ = unique_codes()
    deploy(api, _procedure(code))
    # Phường Tân Định (26740) is in HCMC, whose receiving unit is Phường Sài Gòn: it goes there.
    assert _receive_at_hue_counter(api, code, "26740").json()["handling_unit"] == HCMC_WARD
    # A province with no receiving unit of this procedure: refused, naming the address field.
    response = api.post(
        "/dossiers",
        json={"procedure_code": code, "applicant": APPLICANT,
              "form": {"residence": {"province_code": "01", "ward_code": "00001", "detail": "x"}, "purpose": "x"}},
        headers=officer("reception", HUE_COUNTER),
    )  # fmt: skip
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "form", "residence"]


def test_only_reception_officers_receive_at_a_counter_and_citizens_submit_online(api):
    code, _ = unique_codes()
    deploy(api, _procedure(code))
    form = {"residence": {"province_code": "79", "ward_code": "26734", "detail": "1"}, "purpose": "x"}
    body = {"procedure_code": code, "applicant": APPLICANT, "form": form}
    assert api.post("/dossiers", json=body, headers=officer("leader", HUE_COUNTER)).status_code == 403
    # A reception officer receives only at their own unit.
    elsewhere = {**body, "receiving_unit": HCMC_WARD}
    assert api.post("/dossiers", json=elsewhere, headers=officer("reception", HUE_COUNTER)).status_code == 403
    # Online, the citizen picks a unit that receives the procedure; in person is for the counter.
    online = api.post("/dossiers", json={**body, "receiving_unit": HUE_COUNTER}, headers=citizen("079195000321"))
    assert online.status_code == 422 and online.json()["detail"][0]["loc"] == ["body", "receiving_unit"]
    in_person = api.post("/dossiers", json={**body, "channel": 1}, headers=citizen("079195000321"))
    assert in_person.status_code == 422 and in_person.json()["detail"][0]["loc"] == ["body", "channel"]
    mine = api.post("/dossiers", json=body, headers=citizen("079195000321"))
    assert mine.status_code == 201 and mine.json()["channel"] == "online"
