"""Interconnected birth registration (3.000722): civil status, then police and social insurance in parallel."""

from __future__ import annotations

from tests.support import active, attachment, decide, officer, wait_for_status, wait_for_step

WARD = "H29.50.05.13"
POLICE = "H29.CA"
SOCIAL_INSURANCE = "H29.BHXH"


def _submit(api, *, register_residence: bool = True) -> str:
    response = api.post(
        "/dossiers",
        json={
            "procedure_code": "3.000722",
            "receiving_unit": WARD,
            "applicant": {"full_name": "Lê Thị Mẹ", "citizen_id": "079190000001"},
            "form": {
                "child_name": "Lê Minh An",
                "child_date_of_birth": "2026-11-10",
                "child_place_of_birth": "Bệnh viện Từ Dũ, TP.HCM",
                "child_sex": "male",
                "child_ethnicity": "Kinh",
                "child_nationality": "Việt Nam",
                "mother_id": "079190000001",
                "mother_name": "Lê Thị Mẹ",
                "father_id": "079188000002",
                "father_name": "Lê Văn Cha",
                "residence_address": {"province_code": "79", "ward_code": "26734", "detail": "12 Lê Lợi"},
                "register_residence": register_residence,
                "insurance_facility": "79-024",
                "birth_certificate": attachment("giay-chung-sinh.pdf"),
            },
        },
    )
    assert response.status_code == 201, response.text
    return response.json()["dossier_code"]


def _registered_birth(api, dossier: str) -> None:
    decide(api, dossier, "reception", WARD)
    decide(api, dossier, "register_birth", WARD)


def test_birth_residence_and_insurance_run_in_parallel_and_return_together(api, simulator, shipped):
    dossier = _submit(api)
    _registered_birth(api, dossier)

    # Police and social insurance work at the same time, each in its own inbox.
    view = wait_for_step(api, dossier, "insurance_review")
    view = wait_for_step(api, dossier, "police_review")
    assert active(view) == {"police_review": "officer", "insurance_review": "officer"}
    police_inbox = api.get("/inbox", headers=officer("specialist", POLICE)).json()
    assert dossier in [item["dossier_code"] for item in police_inbox]
    assert dossier not in [i["dossier_code"] for i in api.get("/inbox", headers=officer("specialist", WARD)).json()]

    decide(api, dossier, "insurance_review", SOCIAL_INSURANCE)
    decide(api, dossier, "police_review", POLICE)
    view = wait_for_status(api, dossier, 10, finished=True)
    assert view["outcome"] == "completed" and not view["partial"]
    assert [r["id"] for r in view["results"]] == ["birth_extract", "residence_confirmation", "insurance_card"]

    systems = {c["system"] for c in simulator.get("/_sim/calls", params={"dossier_code": dossier}).json()}
    assert {"civil_status", "residence", "social_insurance", "notification", "portal"} <= systems
    notice = simulator.get("/_sim/calls", params={"dossier_code": dossier, "system": "notification"}).json()
    assert dossier in notice[0]["body"]["message"] and notice[0]["body"]["channel"] == "vneid"


def test_a_refused_branch_leaves_a_partial_result(api, shipped):
    dossier = _submit(api)
    _registered_birth(api, dossier)
    decide(api, dossier, "police_review", POLICE, "reject", reason="Chỗ ở không đủ điều kiện đăng ký thường trú")
    decide(api, dossier, "insurance_review", SOCIAL_INSURANCE)
    view = wait_for_status(api, dossier, 10, finished=True)
    assert view["outcome"] == "completed" and view["partial"]
    assert [r["id"] for r in view["results"]] == ["birth_extract", "insurance_card"]
    refused = [e for e in view["timeline"] if e["kind"] == "branch_finished" and "refused" in e["summary"]]
    assert len(refused) == 1


def test_residence_branch_runs_only_when_chosen(api, shipped):
    dossier = _submit(api, register_residence=False)
    _registered_birth(api, dossier)
    view = wait_for_step(api, dossier, "insurance_review")
    assert "police_review" not in active(view)
    decide(api, dossier, "insurance_review", SOCIAL_INSURANCE)
    view = wait_for_status(api, dossier, 10, finished=True)
    assert [r["id"] for r in view["results"]] == ["birth_extract", "insurance_card"]
    assert not any(e["step_id"] == "police_review" for e in view["timeline"])


def test_father_name_is_required_once_a_father_is_named(api, shipped):
    response = api.post(
        "/dossiers",
        json={
            "procedure_code": "3.000722",
            "applicant": {"full_name": "Lê Thị Mẹ"},
            "form": {
                "child_name": "Lê Minh An",
                "child_date_of_birth": "2026-11-10",
                "child_place_of_birth": "TP.HCM",
                "child_sex": "male",
                "child_ethnicity": "Kinh",
                "child_nationality": "Việt Nam",
                "mother_id": "079190000001",
                "mother_name": "Lê Thị Mẹ",
                "father_id": "079188000002",
                "residence_address": {"province_code": "79", "ward_code": "26734", "detail": "12 Lê Lợi"},
                "register_residence": True,
                "insurance_facility": "79-024",
                "birth_certificate": attachment("scan.gif", "image/gif"),
            },
        },
    )
    assert response.status_code == 422
    assert {tuple(e["loc"]) for e in response.json()["detail"]} == {
        ("body", "form", "birth_certificate"),
        ("body", "form", "father_name"),
    }
