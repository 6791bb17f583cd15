"""Time limits as the law writes them ("≤ 5 working days, ≤ 10 where …"): computed at submission from the form and
the branches the applicant chose; the receipt's appointment, the steps' deadlines and the printed receipt follow it,
and the validator checks every case's budgets against its own limit."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from domain.working_calendar import VIETNAM
from tests.support import (
    admin,
    attachment,
    decide,
    deploy,
    officer,
    submit_land_renewal,
    three_step_procedure,
    unique_codes,
    wait_for_step,
)

COUNTER = "H29.50.05.13"
LAND_OFFICE = "H29.22"
HCMC = "79"


def _submit_land_renewal(api, reason: str) -> dict[str, Any]:
    return submit_land_renewal(api, reason, old_certificate=attachment("gcn-cu.pdf"))


def _appointment(api, received_at: str, working_days: int) -> str:
    """The appointment the server's own calendar gives for a limit (declared days off included)."""
    answer = api.get(
        f"/calendars/{HCMC}/appointment", params={"working_days": working_days, "received_at": received_at}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["appointment_date"]


def _records_check(api, dossier: str) -> dict[str, Any]:
    decide(api, dossier, "reception", COUNTER)
    view = wait_for_step(api, dossier, "records_check")
    return next(s for s in view["active_steps"] if s["step_id"] == "records_check")


def test_a_remeasured_parcel_is_promised_the_longer_limit_and_its_steps_get_their_budgets(api, shipped):
    usual = _submit_land_renewal(api, "damaged")
    remeasured = _submit_land_renewal(api, "remeasured")

    assert usual["appointment_date"] == _appointment(api, usual["received_at"], 5)
    assert remeasured["appointment_date"] == _appointment(api, remeasured["received_at"], 10)
    assert remeasured["appointment_date"] > usual["appointment_date"]

    # The records check has 3 working days in the re-measured case, 2 otherwise.
    for receipt, days in ((usual, 2), (remeasured, 3)):
        step = _records_check(api, receipt["dossier_code"])
        started = datetime.fromisoformat(step["started_at"])
        assert datetime.fromisoformat(step["due_at"]) == VIETNAM.step_deadline(started, days), (receipt, step)

    # The printed receipt (form 01) states the limit this dossier is held to.
    page = api.get(f"/dossiers/{remeasured['dossier_code']}/receipt.html", headers=officer("reception", COUNTER))
    assert page.status_code == 200, page.text
    assert "10 ngày làm việc" in page.text and "5 ngày làm việc" not in page.text

    # The special case's limit already reaches the extended one: no extension on top of it. The usual case extends
    # by the difference, to 10 working days in all.
    extend = {"reason": "Cần xác minh thêm"}
    leader = officer("leader", LAND_OFFICE)
    refused = api.post(f"/dossiers/{remeasured['dossier_code']}/extensions", json=extend, headers=leader)
    assert refused.status_code == 409 and "already reaches" in refused.text, refused.text
    extended = api.post(f"/dossiers/{usual['dossier_code']}/extensions", json=extend, headers=leader)
    assert extended.status_code == 200, extended.text
    view = api.get(f"/dossiers/{usual['dossier_code']}").json()
    assert view["appointment_date"] == _appointment(api, usual["received_at"], 10)


def test_the_procedure_page_says_the_limit_depends_on_the_case(api, shipped):
    page = api.get("/citizen/procedures/1.012783?lang=vi")
    assert page.status_code == 200, page.text
    assert "5 ngày làm việc" in page.text and "tùy trường hợp: 10 ngày làm việc" in page.text


def _branching_procedure(code: str, unit: str) -> dict[str, Any]:
    """Reception, then optional parallel branches the applicant ticks; the time limit follows the branches chosen."""
    definition = three_step_procedure(code, unit)
    definition["form"]["fields"] += [
        {"name": "want_copy", "label": "Cấp thêm bản sao", "type": "boolean", "required": False},
        {"name": "want_translation", "label": "Dịch thuật", "type": "boolean", "required": False},
    ]
    definition["time_limit_working_days"] = 3
    definition["time_limit_when"] = [
        {"when": "'translation' in branches", "working_days": 6, "budgets": {"reception": 2}},
    ]
    definition["steps"] = [
        {"id": "reception", "kind": "reception", "name": "Tiếp nhận", "role": "reception",
         "budget_working_days": 1, "next": "extras"},
        {"id": "extras", "kind": "parallel", "name": "Các việc kèm theo", "next": "approval",
         "branches": [
             {"id": "copy", "name": "Bản sao", "when": "want_copy",
              "steps": [{"id": "copy_review", "kind": "review", "name": "Chứng thực bản sao", "role": "specialist",
                         "budget_working_days": 1}]},
             {"id": "translation", "name": "Dịch thuật", "when": "want_translation",
              "steps": [{"id": "translation_review", "kind": "review", "name": "Chứng thực bản dịch",
                         "role": "specialist", "budget_working_days": 3}]},
         ]},
        {"id": "approval", "kind": "approval", "name": "Lãnh đạo ký", "role": "leader", "budget_working_days": 1},
    ]  # fmt: skip
    return definition


def _submit(api, code: str, unit: str, **choices: bool) -> dict[str, Any]:
    response = api.post(
        "/dossiers",
        json={"procedure_code": code, "receiving_unit": unit, "applicant": {"full_name": "Lê Thị Hạnh"},
              "form": {"requester_id": "001090000001", "subject_name": "Lê Thị Hạnh", "event_type": "birth",
                       "copies": 1, **choices}},
        headers=officer("reception", unit),
    )  # fmt: skip
    assert response.status_code == 201, response.text
    return response.json()


def test_the_appointment_follows_the_branches_the_applicant_chose(api):
    code, unit = unique_codes()
    deploy(api, _branching_procedure(code, unit))
    plain = _submit(api, code, unit, want_copy=True)
    translated = _submit(api, code, unit, want_copy=True, want_translation=True)
    for receipt, days in ((plain, 3), (translated, 6)):
        expected = api.get("/calendars/VN/appointment",
                           params={"working_days": days, "received_at": receipt["received_at"]}).json()  # fmt: skip
        assert receipt["appointment_date"] == expected["appointment_date"], (receipt, days)
    step = next(s for s in wait_for_step(api, translated["dossier_code"], "reception")["active_steps"])
    started = datetime.fromisoformat(step["started_at"])
    assert datetime.fromisoformat(step["due_at"]) == VIETNAM.step_deadline(started, 2)


def _errors(response) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    return response.json()["detail"]


def test_the_validator_checks_every_case_against_its_own_limit(api):
    code, unit = unique_codes()
    good = _branching_procedure(code, unit)
    deploy_check = api.post("/procedures/validate", json=good, headers=admin())
    assert deploy_check.status_code == 200, deploy_check.text

    # With the translation branch, the case's budgets make 2 + 3 + 1 = 6 days, which a case of 4 days cannot hold.
    tight = copy.deepcopy(good)
    tight["time_limit_when"][0]["working_days"] = 4
    errors = _errors(api.post("/procedures/validate", json=tight, headers=admin()))
    (error,) = [e for e in errors if e["loc"] == ["body", "time_limit_when", 0, "working_days"]]
    assert error["type"] == "budget" and "6" in error["msg"] and "4" in error["msg"], error

    misspelt = copy.deepcopy(good)
    misspelt["time_limit_when"] = [
        {"when": "'translaton' in branches and want_copi", "working_days": 6, "budgets": {"receptio": 2}}
    ]
    errors = _errors(api.post("/procedures/validate", json=misspelt, headers=admin()))
    by_loc = {tuple(e["loc"]): e for e in errors}
    when = [e for e in errors if e["loc"] == ["body", "time_limit_when", 0, "when"]]
    assert {e["suggestion"] for e in when} == {"translation", "want_copy"}, errors
    assert by_loc[("body", "time_limit_when", 0, "budgets", "receptio")]["suggestion"] == "reception"

    # A branch chosen by an agency's answer is not known at submission: no time limit can follow it.
    later = copy.deepcopy(good)
    later["steps"][1]["branches"][1]["when"] = "lookup.found"
    later["steps"].insert(1, {"id": "lookup", "kind": "adapter", "name": "Tra cứu", "system": "civil_status",
                              "operation": "lookup_record", "next": "extras"})  # fmt: skip
    later["steps"][0]["next"] = "lookup"
    errors = _errors(api.post("/procedures/validate", json=later, headers=admin()))
    assert any(e["loc"] == ["body", "time_limit_when", 0, "when"] and "translation" in e["msg"] for e in errors), errors

    # A branch chosen by an agency's answer that no case tests does not matter to the time limit.
    untested = copy.deepcopy(later)
    untested["steps"][2]["branches"][1]["when"] = "want_translation"
    untested["steps"][2]["branches"][0]["when"] = "lookup.found"
    assert api.post("/procedures/validate", json=untested, headers=admin()).status_code == 200

    # What validate refuses, deploy refuses.
    assert api.post("/procedures", json=tight, headers=admin()).status_code == 422
