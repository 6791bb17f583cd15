"""Officer decisions reach the workflow as validated Updates, or as Signals for integrations."""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from devstack.stack import find_temporal_cli
from tests.support import (
    active,
    dossier_awaiting_reception,
    officer,
    wait_for_step,
    wait_until,
)

# Also runs in the cluster suite, on Temporal's separate services and the read model on PostgreSQL.
pytestmark = pytest.mark.cluster


def test_decisions_on_a_step_not_awaiting_them_are_refused(api):
    dossier, unit = dossier_awaiting_reception(api)
    reception = officer("reception", unit)

    wrong_step = api.post(
        f"/dossiers/{dossier}/decisions", json={"step_id": "approval", "decision": "approve"}, headers=reception
    )
    assert wrong_step.status_code == 409 and "awaiting one: ['reception']" in wrong_step.json()["detail"]

    other_unit = api.post(
        f"/dossiers/{dossier}/decisions",
        json={"step_id": "reception", "decision": "approve"},
        headers=officer("reception", "T9999.50.05"),
    )
    assert other_unit.status_code == 404  # a unit with no part in the dossier does not learn it exists
    wrong_role = api.post(
        f"/dossiers/{dossier}/decisions",
        json={"step_id": "reception", "decision": "approve"},
        headers=officer("leader", unit),
    )
    assert wrong_role.status_code == 403

    no_reason = api.post(
        f"/dossiers/{dossier}/decisions", json={"step_id": "reception", "decision": "reject"}, headers=reception
    )
    assert no_reason.status_code == 422 and no_reason.json()["detail"][0]["loc"] == ["body"]
    no_list = api.post(
        f"/dossiers/{dossier}/decisions",
        json={"step_id": "reception", "decision": "request_supplement"},
        headers=reception,
    )
    assert no_list.status_code == 422
    unknown_kind = api.post(
        f"/dossiers/{dossier}/decisions", json={"step_id": "reception", "decision": "maybe"}, headers=reception
    )
    assert unknown_kind.status_code == 422 and unknown_kind.json()["detail"][0]["loc"] == ["body", "decision"]
    anonymous = api.post(f"/dossiers/{dossier}/decisions", json={"step_id": "reception", "decision": "approve"})
    assert anonymous.status_code == 401
    nobody = api.post(
        "/dossiers/NOPE-000000-0001/decisions", json={"step_id": "reception", "decision": "approve"}, headers=reception
    )
    assert nobody.status_code == 404

    supplement_unasked = api.post(f"/dossiers/{dossier}/supplements", json={"form": {"copies": 1}})
    assert supplement_unasked.status_code == 409

    # None of the refused messages changed the dossier.
    view = api.get(f"/dossiers/{dossier}").json()
    assert view["status"] == 1 and active(view) == {"reception": "officer"}
    assert [e["kind"] for e in view["timeline"]] == ["submitted", "step_started"]


def test_two_officers_deciding_at_once_get_one_success_and_one_conflict(api):
    dossier, unit = dossier_awaiting_reception(api)

    def approve(officer_id: str) -> int:
        return api.post(
            f"/dossiers/{dossier}/decisions",
            json={"step_id": "reception", "decision": "approve"},
            headers=officer("reception", unit, officer_id),
        ).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        codes = sorted(pool.map(approve, ["a", "b", "c", "d"]))
    assert codes == [200, 409, 409, 409]
    wait_for_step(api, dossier, "approval")
    decisions = [e for e in api.get(f"/dossiers/{dossier}").json()["timeline"] if e["kind"] == "decision"]
    assert len(decisions) == 1


def test_decision_after_the_dossier_ended_is_a_conflict(api):
    dossier, unit = dossier_awaiting_reception(api)
    api.post(
        f"/dossiers/{dossier}/decisions",
        json={"step_id": "reception", "decision": "reject", "reason": "Sai thẩm quyền"},
        headers=officer("reception", unit),
    ).raise_for_status()
    wait_until(lambda: api.get(f"/dossiers/{dossier}").json()["completed_at"], what="the end of processing")
    late = api.post(
        f"/dossiers/{dossier}/decisions",
        json={"step_id": "reception", "decision": "approve"},
        headers=officer("reception", unit),
    )
    assert late.status_code == 409


def _signal(stack, dossier: str, payload: dict) -> None:
    subprocess.run(
        [
            str(find_temporal_cli()), "workflow", "signal",
            "--address", stack.config.address,
            "--workflow-id", dossier,
            "--name", "decide",
            "--input", json.dumps(payload),
        ],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip


def test_decision_sent_as_a_signal_with_the_temporal_cli(api, stack):
    dossier, unit = dossier_awaiting_reception(api)
    officer("reception", unit, "lgsp-integration")  # the registry decides who may act, whatever the path
    signed_by = {"officer_id": "lgsp-integration", "role": "reception", "unit_code": unit}

    # A signal that cannot apply is not dropped: it is refused in the timeline and changes nothing.
    _signal(stack, dossier, {"step_id": "approval", "decision": "approve", "officer": signed_by})
    refused = wait_until(
        lambda: [e for e in api.get(f"/dossiers/{dossier}").json()["timeline"] if e["kind"] == "message_refused"],
        what="the refused signal in the timeline",
    )
    assert "not awaiting" in refused[0]["summary"]
    assert active(api.get(f"/dossiers/{dossier}").json()) == {"reception": "officer"}

    _signal(stack, dossier, {"step_id": "reception", "decision": "approve", "officer": signed_by})
    view = wait_for_step(api, dossier, "approval")
    decision = [e for e in view["timeline"] if e["kind"] == "decision"][0]
    assert decision["step_id"] == "reception" and "lgsp-integration" in decision["actor"]
