"""Business household registration (1.001612): fee, name check, specialist review, leader approval, tax."""

from __future__ import annotations

from tests.support import decide, pay, wait_for_status

WARD = "H15.50.05.13"


def _submit(api, name: str) -> str:
    response = api.post(
        "/dossiers",
        json={
            "procedure_code": "1.001612",
            "receiving_unit": WARD,
            "applicant": {"full_name": "Hoàng Văn Chủ", "citizen_id": "046085000777"},
            "form": {
                "head_citizen_id": "046085000777",
                "business_name": name,
                "address": "18 Lê Lợi, phường Thuận Hóa, Huế",
                "business_lines": ["5610", "5630"],
                "capital_vnd": 150_000_000,
                "employees": 4,
                "members": [{"full_name": "Hoàng Thị Vợ", "citizen_id": "046087000778"}],
            },
        },
    )
    assert response.status_code == 201, response.text
    return response.json()["dossier_code"]


def test_household_business_is_registered_and_sent_to_the_tax_authority(api, simulator, shipped):
    dossier = _submit(api, "Quán Cơm Hoàng Gia")
    decide(api, dossier, "reception", WARD)
    assert pay(api, dossier, "payment") == 100_000
    decide(api, dossier, "specialist_review", WARD)
    decide(api, dossier, "leader_approval", WARD)
    view = wait_for_status(api, dossier, 10, finished=True)
    assert [r["id"] for r in view["results"]] == ["certificate"]
    calls = simulator.get("/_sim/calls", params={"dossier_code": dossier}).json()
    # The fee was collected by the payment platform, which confirmed it once; the dossier asked the platform whether
    # it was paid before taking the confirmation (and, the payment taking more than a few seconds, now and then).
    platform = [c["operation"] for c in calls if c["system"] == "payment_platform"]
    assert platform[0] == "request" and platform[-1] == "confirm" and platform.count("confirm") == 1, platform
    assert set(platform[1:-1]) == {"status"}, platform
    assert [(c["system"], c["operation"]) for c in calls if c["system"] not in ("portal", "payment_platform")] == [
        ("business_registration", "check_name_unique"),
        ("tax", "register_household"),
        ("result_store", "deposit"),
    ]


def test_a_name_already_taken_stops_the_dossier(api, simulator, shipped):
    simulator.put("/_sim/faults/business_registration", json={"refuse": True}).raise_for_status()
    dossier = _submit(api, "Quán Cơm Trùng Tên")
    decide(api, dossier, "reception", WARD)
    pay(api, dossier, "payment")
    view = wait_for_status(api, dossier, 8, finished=True)
    assert view["outcome"] == "stopped" and "business_registration refused" in view["outcome_reason"]
