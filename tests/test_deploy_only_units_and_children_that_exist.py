"""Validating and deploying a definition: every unit it names must be in the unit registry (a dossier sent to an unknown
unit would wait in an inbox nobody sees), and validation refuses whatever deploying refuses — a child procedure that
is not deployed included. Interconnection-only procedures exist only inside another dossier: nobody submits them on
their own, and their parents still start them."""

from __future__ import annotations

from typing import Any

from tests.support import (
    APPLICANT,
    citizen,
    decide,
    deploy,
    officer,
    register_units_of,
    submit,
    three_step_procedure,
    unique_codes,
    wait_for_status,
    wait_until,
)
from tests.test_interconnected_child_dossier import OTHER_AGENCY, _child_procedure, _parent_procedure


def _errors(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    return response.json()["detail"]


def test_unknown_unit_codes_are_refused_at_validate_and_deploy_with_a_suggestion(api):
    code, _ = unique_codes()
    definition = three_step_procedure(code, "H29.50.05.97")  # a ward code the registry does not have
    definition["steps"][2]["unit"] = {"select": "fixed_unit", "unit_code": "H29.BHX"}  # a near miss of H29.BHXH
    definition["steps"][0]["unit"] = {
        "select": "receiving_unit",
        "level_when": [{"when": "copies > 5", "unit_code": "H29.CAA"}],  # a near miss of H29.CA
    }
    for path in ("/procedures/validate", "/procedures"):
        errors = _errors(api.post(path, json=definition, headers={"Accept-Language": "en"}))
        by_loc = {tuple(e["loc"]): e for e in errors}
        assert set(by_loc) == {
            ("body", "receiving_units", 0),
            ("body", "steps", 0, "unit", "level_when", 0, "unit_code"),
            ("body", "steps", 2, "unit", "unit_code"),
        }, errors
        assert all(e["type"] == "unknown_unit" for e in errors)
        assert by_loc[("body", "steps", 2, "unit", "unit_code")]["suggestion"] == "H29.BHXH"
        assert by_loc[("body", "steps", 0, "unit", "level_when", 0, "unit_code")]["suggestion"] == "H29.CA"
        assert by_loc[("body", "receiving_units", 0)]["suggestion"] is not None
        said = by_loc[("body", "steps", 2, "unit", "unit_code")]
        assert "H29.BHX" in said["msg"] and "registry" in said["msg"] and "H29.BHXH" in said["message"]
        assert said["line"] is not None
    # In Vietnamese (the default) the same error says so in Vietnamese.
    vietnamese = _errors(api.post("/procedures/validate", json=definition))
    assert any("danh mục đơn vị" in e["message"] for e in vietnamese)

    registered = three_step_procedure(code, "H29.50.05.13")
    assert api.post("/procedures/validate", json=registered).status_code == 200


def test_validate_refuses_a_parent_whose_child_procedure_is_not_deployed_as_deploy_does(api):
    code, unit = unique_codes()
    child_code, _ = unique_codes()
    parent = _parent_procedure(code, unit, child_code)
    register_units_of(parent)
    validated = _errors(api.post("/procedures/validate", json=parent))
    deployed = _errors(api.post("/procedures", json=parent))
    assert validated == deployed
    assert validated[0]["loc"] == ["body", "steps", 1, "procedure"] and validated[0]["type"] == "child_procedure"

    deploy(api, _child_procedure(child_code))
    assert api.post("/procedures/validate", json=parent).status_code == 200


def test_an_interconnection_only_procedure_is_refused_on_its_own_but_runs_as_a_child(api, simulator, stack):
    code, unit = unique_codes()
    child_code, _ = unique_codes()
    deploy(api, {**_child_procedure(child_code), "interconnection_only": True})
    deploy(api, _parent_procedure(code, unit, child_code))
    form = {"citizen_id": APPLICANT["citizen_id"], "full_name": APPLICANT["full_name"]}

    # Online, at the counter and pushed by the national portal: refused, saying why.
    online = api.post("/dossiers", json={"procedure_code": child_code, "applicant": APPLICANT, "form": form})
    counter = api.post(
        "/dossiers",
        json={"procedure_code": child_code, "receiving_unit": OTHER_AGENCY, "applicant": APPLICANT, "form": form},
        headers=officer("reception", OTHER_AGENCY),
    )
    for refused in (online, counter):
        assert refused.status_code == 409, refused.text
        assert "interconnection-only" in refused.json()["detail"]
    pushed = simulator.post(
        "/_sim/portal/push",
        json={"target_url": f"{stack.config.api_url}/portal/dossiers", "portal_reference": f"G22.99-DVCQG-{child_code}",
              "procedure_code": child_code, "applicant": APPLICANT, "form": form},
    ).json()  # fmt: skip
    assert pushed["status_code"] == 409 and "interconnection-only" in pushed["answer"]["detail"], pushed

    # Started by its parent, it runs in the other agency and its result returns.
    parent = submit(api, code, headers=citizen(APPLICANT["citizen_id"]))["dossier_code"]
    decide(api, parent, "reception", unit)
    child = wait_until(
        lambda: next(
            (s["child_dossier_code"] for s in api.get(f"/dossiers/{parent}").json()["active_steps"]
             if s.get("child_dossier_code")),
            None,
        ),
        what="the child dossier",
    )  # fmt: skip
    decide(api, child, "police_review", OTHER_AGENCY)
    wait_for_status(api, child, 10, finished=True)
    decide(api, parent, "approval", unit)
    assert wait_for_status(api, parent, 10, finished=True)["outcome"] == "completed"
