"""Interconnected dossiers: a child step starts another agency's procedure as a dossier of its own."""

from __future__ import annotations

import pytest

from tests.support import (
    APPLICANT,
    citizen,
    decide,
    deploy,
    portal_statuses,
    register_units_of,
    submit,
    three_step_procedure,
    unique_codes,
    wait_for_status,
    wait_until,
)

# Also runs in the cluster suite, on Temporal's separate services and the read model on PostgreSQL.
pytestmark = pytest.mark.cluster


OTHER_AGENCY = "H29.CA"


def _child_procedure(code: str) -> dict:
    return {
        "code": code,
        "name": "Đăng ký thường trú (liên thông)",
        "sector": "residence",
        "level": "province",
        "receiving_units": [OTHER_AGENCY],
        "time_limit_working_days": 2,
        "results": [{"id": "residence_confirmation", "name": "Xác nhận thường trú"}],
        "form": {
            "fields": [
                {"name": "citizen_id", "label": "Số định danh", "type": "citizen_id"},
                {"name": "full_name", "label": "Họ tên", "type": "text"},
            ]
        },
        "steps": [
            {
                "id": "police_review",
                "kind": "review",
                "name": "Công an xét duyệt",
                "role": "specialist",
                "budget_working_days": 2,
                "next": "record",
            },
            {
                "id": "record",
                "kind": "adapter",
                "name": "Cập nhật CSDL cư trú",
                "system": "residence",
                "operation": "register",
                "next": "result",
            },
            {"id": "result", "kind": "result", "name": "Trả kết quả"},
        ],
    }


def _parent_procedure(code: str, unit: str, child_code: str) -> dict:
    parent = three_step_procedure(code, unit, time_limit_working_days=5)
    parent["steps"][1] = {
        "id": "lookup",
        "kind": "child",
        "name": "Liên thông đăng ký thường trú",
        "procedure": child_code,
        "unit": {"select": "fixed_unit", "unit_code": OTHER_AGENCY},
        "inputs": {"citizen_id": "requester_id", "full_name": "subject_name"},
        "next": "approval",
    }
    return parent


def test_child_dossier_runs_in_the_other_agency_and_its_result_returns_with_the_parent(api, simulator):
    code, unit = unique_codes()
    child_code, _ = unique_codes()
    register_units_of(_parent_procedure(code, unit, child_code))  # its units are known: the child is not deployed
    refused = api.post("/procedures", json=_parent_procedure(code, unit, child_code))
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "steps", 1, "procedure"]

    deploy(api, _child_procedure(child_code))
    deploy(api, _parent_procedure(code, unit, child_code))
    receipt = submit(api, code, headers=citizen(APPLICANT["citizen_id"]))  # her account: the child's too
    parent = receipt["dossier_code"]
    decide(api, parent, "reception", unit)

    view = wait_until(
        lambda: [s for s in api.get(f"/dossiers/{parent}").json()["active_steps"] if s.get("child_dossier_code")],
        what="the child dossier to start",
    )
    child = view[0]["child_dossier_code"]
    assert child.startswith(f"{OTHER_AGENCY}-")
    child_view = api.get(f"/dossiers/{child}").json()
    assert child_view["parent_code"] == parent and child_view["procedure_code"] == child_code
    # The parent's receipt opens the child too; nobody else's account does.
    assert api.get(f"/dossiers/{child}", headers={"X-Lookup-Secret": receipt["lookup_secret"]}).status_code == 200
    assert api.get(f"/dossiers/{child}", headers=citizen("079100000099")).status_code == 404

    decide(api, child, "police_review", OTHER_AGENCY)
    wait_for_status(api, child, 10, finished=True)
    decide(api, parent, "approval", unit)
    done = wait_for_status(api, parent, 10, finished=True)
    assert [(r["id"], r.get("from_dossier")) for r in done["results"]] == [
        ("residence_confirmation", child),
        ("extract_copy", None),
    ]
    # The child's own statuses reached the portal under its own code.
    assert portal_statuses(simulator, child, 10)[-1] == 10


def test_refused_child_stops_the_parent(api):
    code, unit = unique_codes()
    child_code, _ = unique_codes()
    deploy(api, _child_procedure(child_code))
    deploy(api, _parent_procedure(code, unit, child_code))
    parent = submit(api, code, headers=citizen(APPLICANT["citizen_id"]))["dossier_code"]  # her account: the child too
    decide(api, parent, "reception", unit)
    child = wait_until(
        lambda: next(
            (
                s["child_dossier_code"]
                for s in api.get(f"/dossiers/{parent}").json()["active_steps"]
                if s.get("child_dossier_code")
            ),
            None,
        ),
        what="the child dossier",
    )
    decide(api, child, "police_review", OTHER_AGENCY, "reject", reason="Chỗ ở không hợp pháp")
    view = wait_for_status(api, parent, 8, finished=True)
    assert view["outcome"] == "stopped" and "Chỗ ở không hợp pháp" in view["outcome_reason"]


def test_child_inputs_must_fill_the_child_procedures_form(api):
    code, unit = unique_codes()
    child_code, _ = unique_codes()
    deploy(api, _child_procedure(child_code))
    parent = _parent_procedure(code, unit, child_code)
    parent["steps"][1]["inputs"] = {"citizen_id": "requester_id", "nickname": "subject_name"}
    refused = api.post("/procedures", json=parent)
    assert refused.status_code == 422
    assert {(tuple(e["loc"]), e["type"]) for e in refused.json()["detail"]} == {
        (("body", "steps", 1, "inputs", "nickname"), "child_procedure"),
        (("body", "steps", 1, "inputs"), "child_procedure"),
    }
    assert "full_name" in next(e["msg"] for e in refused.json()["detail"] if e["loc"][-1] == "inputs")
