"""Interconnected birth registration (3.000722), end to end: the ward registers the birth; the police
(permanent residence, 1.004222) and social insurance (health-insurance card, 1.001779) then work in
parallel, each on a dossier of its own started by the birth dossier; the results return together."""

from __future__ import annotations

import re

import pytest

from tests.support import (
    APPLICANT,
    BIRTH_WARD,
    active,
    attachment,
    child_dossiers,
    citizen,
    decide,
    officer,
    portal_statuses,
    submit_birth,
    wait_for_status,
    wait_until,
)

# Also runs in the cluster suite, on Temporal's separate services and the read model on PostgreSQL.
pytestmark = pytest.mark.cluster


WARD = BIRTH_WARD
POLICE = "H29.CA"
SOCIAL_INSURANCE = "H29.BHXH"
RESIDENCE = "1.004222"
INSURANCE = "1.001779"
# The mother applies for her child; child dossiers belong to the applicant, who follows them signed in.
MOTHER = APPLICANT["citizen_id"]


def _registered_birth(api, *, register_residence: bool = True) -> str:
    """A birth dossier the ward has received and registered: the branches start next."""
    dossier = submit_birth(api, register_residence=register_residence)
    decide(api, dossier, "reception", WARD)
    decide(api, dossier, "register_birth", WARD)
    return dossier


def _inbox(role: str, unit: str, api) -> dict[str, dict]:
    return {
        item["dossier_code"]: item
        for item in api.get("/inbox", params={"limit": 500}, headers=officer(role, unit)).json()
    }


def test_police_and_social_insurance_run_child_dossiers_of_their_own_and_results_return_together(
    api, simulator, shipped
):
    assert {RESIDENCE, INSURANCE, "3.000722"} <= set(shipped)
    dossier = _registered_birth(api)

    # Each agency's branch started a dossier of its own, with a code from that agency's counter.
    children = child_dossiers(api, dossier, 2)
    police, insurance = children[RESIDENCE], children[INSURANCE]
    assert re.fullmatch(r"H29\.CA-\d{6}-\d{4}", police) and re.fullmatch(r"H29\.BHXH-\d{6}-\d{4}", insurance)
    # The parent shows each branch's progress: the step waiting on the child dossier, and the child's status.
    parent = api.get(f"/dossiers/{dossier}").json()
    assert {(c["step_id"], c["dossier_code"], c["receiving_unit"]) for c in parent["children"]} == {
        ("residence_registration", police, POLICE),
        ("insurance_card_issuance", insurance, SOCIAL_INSURANCE),
    }
    assert all(c["status"] in (1, 4) and c["outcome"] is None for c in parent["children"])
    assert active(parent) == {"residence_registration": "system", "insurance_card_issuance": "system"}
    assert {s["step_id"]: s["child_dossier_code"] for s in parent["active_steps"]} == {
        "residence_registration": police,
        "insurance_card_issuance": insurance,
    }
    for child, procedure, unit in ((police, RESIDENCE, POLICE), (insurance, INSURANCE, SOCIAL_INSURANCE)):
        view = api.get(f"/dossiers/{child}").json()
        assert (view["parent_code"], view["procedure_code"], view["receiving_unit"]) == (dossier, procedure, unit)
    # The child dossiers are the applicant's to follow, and nobody else's.
    assert api.get(f"/dossiers/{police}", headers=citizen(MOTHER)).status_code == 200
    assert api.get(f"/dossiers/{police}", headers=citizen("079100000099")).status_code == 404

    # Each one waits in its own agency's inbox, for the role its step needs; nothing waits at the ward.
    wait_until(lambda: police in _inbox("specialist", POLICE, api), what="the police specialist's inbox")
    police_inbox = _inbox("specialist", POLICE, api)
    assert (police_inbox[police]["step_id"], police_inbox[police]["parent_code"]) == ("police_review", dossier)
    assert insurance not in police_inbox and dossier not in police_inbox
    assert police not in _inbox("leader", POLICE, api)
    wait_until(lambda: insurance in _inbox("specialist", SOCIAL_INSURANCE, api), what="the social insurance inbox")
    assert police not in _inbox("specialist", SOCIAL_INSURANCE, api)
    ward_inbox = _inbox("specialist", WARD, api)
    assert not {dossier, police, insurance} & set(ward_inbox)
    # Another agency's officer cannot decide there.
    wrong = api.post(
        f"/dossiers/{police}/decisions",
        json={"step_id": "police_review", "decision": "approve"},
        headers=officer("specialist", SOCIAL_INSURANCE),
    )
    assert wrong.status_code == 404

    decide(api, insurance, "insurance_review", SOCIAL_INSURANCE)
    done_insurance = wait_for_status(api, insurance, 10, finished=True)
    assert api.get(f"/dossiers/{dossier}").json()["status"] == 4  # the police are still at work
    decide(api, police, "police_review", POLICE)
    wait_until(lambda: police in _inbox("leader", POLICE, api), what="the police leader's inbox")
    decide(api, police, "police_approval", POLICE)
    done_police = wait_for_status(api, police, 10, finished=True)

    # Each child returned its own result, signed by its own agency, and reached the portal under its own code.
    assert [(r["id"], r["unit_code"]) for r in done_police["results"]] == [("residence_confirmation", POLICE)]
    assert [(r["id"], r["unit_code"]) for r in done_insurance["results"]] == [("insurance_card", SOCIAL_INSURANCE)]
    assert portal_statuses(simulator, police, 10) == [1, 4, 9, 10]
    assert portal_statuses(simulator, insurance, 10) == [1, 4, 9, 10]

    # The birth dossier returns the birth extract with the children's results.
    view = wait_for_status(api, dossier, 10, finished=True)
    assert view["outcome"] == "completed" and not view["partial"]
    assert [(r["id"], r.get("from_dossier")) for r in view["results"]] == [
        ("residence_confirmation", police),
        ("insurance_card", insurance),
        ("birth_extract", None),
    ]
    assert {(c["dossier_code"], c["status"], c["outcome"]) for c in view["children"]} == {
        (police, 10, "completed"),
        (insurance, 10, "completed"),
    }
    assert portal_statuses(simulator, dossier, 10)[-1] == 10

    # The child's personal ID number, given at birth registration, reached the police and social insurance.
    live = api.get(f"/dossiers/{dossier}/live", headers=officer("specialist", WARD)).json()
    personal_id = live["agency_results"]["issue_birth_extract"]["data"]["personal_id"]
    for child, system in ((police, "residence"), (insurance, "social_insurance")):
        calls = simulator.get("/_sim/calls", params={"dossier_code": child, "system": system}).json()
        assert calls and calls[0]["body"]["form"]["personal_id"] == personal_id
    notice = simulator.get("/_sim/calls", params={"dossier_code": dossier, "system": "notification"}).json()
    assert dossier in notice[0]["body"]["message"] and notice[0]["body"]["channel"] == "vneid"


def test_a_refused_child_dossier_leaves_a_partial_result(api, simulator, shipped):
    dossier = _registered_birth(api)
    children = child_dossiers(api, dossier, 2)
    police, insurance = children[RESIDENCE], children[INSURANCE]

    decide(api, police, "police_review", POLICE, "reject", reason="Chỗ ở không đủ điều kiện đăng ký thường trú")
    refused = wait_for_status(api, police, 8, finished=True)
    assert refused["outcome"] == "stopped" and not refused["results"]
    assert portal_statuses(simulator, police, 8)[-1] == 8
    decide(api, insurance, "insurance_review", SOCIAL_INSURANCE)

    # The definition lets the birth registration go on: its result and the card, without the residence.
    view = wait_for_status(api, dossier, 10, finished=True)
    assert view["outcome"] == "completed" and view["partial"]
    assert [(r["id"], r.get("from_dossier")) for r in view["results"]] == [
        ("insurance_card", insurance),
        ("birth_extract", None),
    ]
    refused_branch = [e for e in view["timeline"] if e["kind"] == "branch_finished" and "refused" in e["summary"]]
    assert len(refused_branch) == 1 and "Chỗ ở không đủ điều kiện" in refused_branch[0]["summary"]
    assert {(c["dossier_code"], c["status"]) for c in view["children"]} == {(police, 8), (insurance, 10)}


def test_no_residence_dossier_when_the_parents_did_not_ask_for_it(api, shipped):
    dossier = _registered_birth(api, register_residence=False)
    children = child_dossiers(api, dossier, 1)
    assert set(children) == {INSURANCE}
    insurance = children[INSURANCE]
    decide(api, insurance, "insurance_review", SOCIAL_INSURANCE)
    view = wait_for_status(api, dossier, 10, finished=True)
    assert [c["procedure_code"] for c in view["children"]] == [INSURANCE]
    assert [r["id"] for r in view["results"]] == ["insurance_card", "birth_extract"]
    assert not view["partial"]
    assert not any(e["step_id"] == "residence_registration" for e in view["timeline"])
    assert not [i for i in _inbox("specialist", POLICE, api).values() if i["parent_code"] == dossier]


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


def test_withdrawing_the_birth_dossier_stops_the_child_dossiers_under_way(api, simulator, shipped):
    dossier = _registered_birth(api)
    children = child_dossiers(api, dossier, 2)
    police, insurance = children[RESIDENCE], children[INSURANCE]
    wait_until(lambda: police in _inbox("specialist", POLICE, api), what="the police specialist's inbox")

    withdrawn = api.post(f"/dossiers/{dossier}/withdrawal", json={"reason": "Gia đình chuyển nơi cư trú"})
    assert withdrawn.status_code == 200, withdrawn.text
    view = wait_for_status(api, dossier, 7, finished=True)
    for child in (police, insurance):
        stopped = wait_for_status(api, child, 8, finished=True)
        assert stopped["outcome"] == "stopped" and not stopped["active_steps"]
        assert dossier in stopped["outcome_reason"]
        assert portal_statuses(simulator, child, 8)[-1] == 8
    assert police not in _inbox("specialist", POLICE, api)
    assert insurance not in _inbox("specialist", SOCIAL_INSURANCE, api)
    view = api.get(f"/dossiers/{dossier}").json()
    assert {(c["dossier_code"], c["status"]) for c in view["children"]} == {(police, 8), (insurance, 8)}
