"""A dossier from deployment to result, driven entirely over HTTP against the real stack."""

from __future__ import annotations

import re

import pytest
from temporalio.client import Client

from tests.support import (
    active,
    decide,
    deploy,
    officer,
    portal_statuses,
    submit,
    three_step_procedure,
    unique_codes,
    wait_for_status,
    wait_for_step,
    with_temporal,
)

# Also runs in the cluster suite, on Temporal's separate services and the read model on PostgreSQL.
pytestmark = pytest.mark.cluster


def test_dossier_approved_after_a_supplement_returns_its_result(api, simulator, stack):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    receipt = submit(api, code)
    dossier = receipt["dossier_code"]
    assert re.fullmatch(rf"{re.escape(unit)}-\d{{6}}-0001", dossier)
    assert receipt["status"] == 1

    wait_for_step(api, dossier, "reception")
    answer = api.post(
        f"/dossiers/{dossier}/decisions",
        json={"step_id": "reception", "decision": "approve"},
        headers=officer("reception", unit),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["step_id"] == "reception"
    decided = [e for e in api.get(f"/dossiers/{dossier}").json()["timeline"] if e["kind"] == "decision"]
    assert [(e["step_id"], e["status"]) for e in decided] == [("reception", 2)]  # accepted at the counter

    # The adapter step runs by itself; then the leader asks for one complete list of what is missing.
    wait_for_step(api, dossier, "approval")
    answer = api.post(
        f"/dossiers/{dossier}/decisions",
        json={"step_id": "approval", "decision": "request_supplement", "missing": ["registration number"]},
        headers=officer("leader", unit),
    )
    assert answer.status_code == 200, answer.text
    view = api.get(f"/dossiers/{dossier}").json()
    assert view["status"] == 5
    assert active(view) == {"approval": "applicant"}
    assert view["supplement_request"]["missing"] == ["registration number"]

    answer = api.post(f"/dossiers/{dossier}/supplements", json={"form": {"copies": 3}, "note": "thêm bản"})
    assert answer.status_code == 200, answer.text
    view = wait_for_step(api, dossier, "approval")
    assert view["status"] == 4 and view["supplement_request"] is None

    answer = api.post(
        f"/dossiers/{dossier}/decisions",
        json={"step_id": "approval", "decision": "approve"},
        headers=officer("leader", unit, "leader-7"),
    )
    assert answer.status_code == 200, answer.text

    view = wait_for_status(api, dossier, 10, finished=True)
    assert view["outcome"] == "completed"
    assert view["results"][0]["document"] == "Bản sao trích lục hộ tịch"
    kinds = [e["kind"] for e in view["timeline"]]
    assert kinds == [
        "submitted", "step_started", "decision",          # reception
        "step_started", "agency_called",                   # civil-status lookup
        "step_started", "supplement_requested", "letter_issued",  # leader: the request, signed (form 02)
        "supplemented", "decision",
        "step_started", "result_issued", "finished",      # result: signed, deposited in the result store
    ]  # fmt: skip
    assert [e["seq"] for e in view["timeline"]] == list(range(1, len(kinds) + 1))
    assert any("leader-7" in (e["actor"] or "") for e in view["timeline"])

    # The supplemented value reached the workflow and the read model.
    live = api.get(f"/dossiers/{dossier}/live", headers=officer("leader", unit))
    assert live.status_code == 200 and live.json()["form"]["copies"] == 3

    # The portal heard every status change once, in order.
    assert portal_statuses(simulator, dossier, 10) == [1, 2, 4, 5, 4, 9, 10]
    # The civil-status system was asked exactly once, with a stable idempotency key.
    calls = simulator.get("/_sim/calls", params={"system": "civil_status", "dossier_code": dossier}).json()
    assert [(c["idempotency_key"], c["outcome"]) for c in calls] == [(f"{dossier}:lookup:1", "applied")]

    # Temporal finds the dossier by its search attributes.
    async def find(client: Client) -> list[str]:
        query = f"ProcedureCode = '{code}' AND DossierStatus = 'result_returned'"
        return [w.id async for w in client.list_workflows(query)]

    assert with_temporal(stack, find) == [dossier]


def test_dossier_rejected_at_reception_is_not_accepted(api, simulator):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    dossier = submit(api, code)["dossier_code"]
    decide(api, dossier, "reception", unit, "reject", reason="Không thuộc thẩm quyền")
    view = wait_for_status(api, dossier, 3, finished=True)
    assert view["outcome"] == "refused" and view["outcome_reason"] == "Không thuộc thẩm quyền"
    assert view["active_steps"] == []
    assert portal_statuses(simulator, dossier, 3) == [1, 3]
    # Nothing was asked of the civil-status system.
    assert simulator.get("/_sim/calls", params={"dossier_code": dossier, "system": "civil_status"}).json() == []


def test_dossier_rejected_by_the_leader_stops_processing(api, simulator):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    dossier = submit(api, code)["dossier_code"]
    decide(api, dossier, "reception", unit)
    decide(api, dossier, "approval", unit, "reject", reason="Sổ gốc không còn lưu trữ")
    view = wait_for_status(api, dossier, 8, finished=True)
    assert view["outcome"] == "stopped" and view["results"] == []
    assert portal_statuses(simulator, dossier, 8) == [1, 2, 4, 8]
