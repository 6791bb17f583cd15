"""Officers list the steps waiting for their role and unit, oldest deadline first."""

from __future__ import annotations

import pytest

from tests.support import deploy, officer, submit, three_step_procedure, unique_codes, wait_for_step

# Also runs in the cluster suite, on Temporal's separate services and the read model on PostgreSQL.
pytestmark = pytest.mark.cluster


def test_inbox_lists_my_steps_oldest_deadline_first(api):
    code, unit = unique_codes()
    slow_procedure = three_step_procedure(code, unit)
    slow_procedure["steps"][0]["budget_working_days"] = 2
    deploy(api, slow_procedure)
    quick_code, _ = unique_codes()
    # A reception budget of 0 working days (the same day) falls due before one of 2 working days.
    quick = three_step_procedure(quick_code, unit)
    quick["steps"][0]["budget_working_days"] = 0
    deploy(api, quick)

    slow = [submit(api, code)["dossier_code"] for _ in range(3)]
    urgent = submit(api, quick_code)["dossier_code"]
    for dossier in [*slow, urgent]:
        wait_for_step(api, dossier, "reception")

    listed = api.get("/inbox", headers=officer("reception", unit)).json()
    assert [item["dossier_code"] for item in listed] == [urgent, *slow]
    assert listed[0]["step_due_date"] < listed[1]["step_due_date"]
    assert all(item["step_id"] == "reception" for item in listed)

    # Other roles and other units see none of them.
    assert api.get("/inbox", headers=officer("leader", unit)).json() == []
    assert api.get("/inbox", headers=officer("reception", "T0000.00.00")).json() == []

    # A decided step leaves the inbox.
    api.post(
        f"/dossiers/{urgent}/decisions",
        json={"step_id": "reception", "decision": "approve"},
        headers=officer("reception", unit),
    ).raise_for_status()
    assert [i["dossier_code"] for i in api.get("/inbox", headers=officer("reception", unit)).json()] == slow
    wait_for_step(api, urgent, "approval")
    assert [i["dossier_code"] for i in api.get("/inbox", headers=officer("leader", unit)).json()] == [urgent]

    assert api.get("/inbox", params={"limit": 0}, headers=officer("reception", unit)).status_code == 422
    assert api.get("/inbox").status_code == 401
