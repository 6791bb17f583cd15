"""Temporal's own API is a door too: an integration may send an officer's decision, an apology letter or an extension
as an Update straight to Temporal, past motcua's API. The dossier then asks the unit registry who the officer is, as
it does for a Signal: an officer it does not know, or knows inactive, is refused, to the sender and on the timeline,
and nothing is applied; a registered officer acts in the capacities the registry gives, not those the message claims.
A Signal of a name no dossier takes is refused on the timeline with what was received, never passed over."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from temporalio.client import Client, WorkflowUpdateFailedError

from tests.support import (
    active,
    deploy,
    dossier_awaiting_reception,
    identities,
    officer,
    submit,
    three_step_procedure,
    unique_codes,
    wait_for_step,
    wait_until,
    with_temporal,
)

pytestmark = pytest.mark.cluster


def _update(stack, dossier: str, name: str, message: dict[str, Any]) -> None:
    async def send(client: Client) -> None:
        await client.get_workflow_handle(dossier).execute_update(name, message)

    with_temporal(stack, send)


def _refused(api, dossier: str, officer_id: str) -> dict[str, Any]:
    return wait_until(
        lambda: next(
            (
                e
                for e in api.get(f"/dossiers/{dossier}").json()["timeline"]
                if e["kind"] == "message_refused" and f"naming officer {officer_id!r}" in e["summary"]
            ),
            None,
        ),
        what=f"the refusal naming {officer_id} on {dossier}'s timeline",
    )


def _officer(officer_id: str, unit: str, role: str = "reception") -> dict[str, Any]:
    return {"officer_id": officer_id, "role": role, "unit_code": unit}


def test_a_decision_update_from_an_officer_the_registry_does_not_know_is_refused(api, stack):
    dossier, unit = dossier_awaiting_reception(api)
    ghost = f"ghost@{unit}"

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        _update(
            stack, dossier, "decide", {"step_id": "reception", "decision": "approve", "officer": _officer(ghost, unit)}
        )

    assert "is not in the unit registry" in str(refused.value.cause)
    entry = _refused(api, dossier, ghost)
    assert entry["summary"].startswith("Update 'decide'") and entry["actor_id"] is None
    view = api.get(f"/dossiers/{dossier}").json()
    assert active(view) == {"reception": "officer"}
    assert not [e for e in view["timeline"] if e["kind"] == "decision"]


def test_apology_and_extension_updates_from_an_inactive_officer_are_refused(api, stack):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit, extended_time_limit_working_days=6))
    dossier = submit(api, code)["dossier_code"]
    wait_for_step(api, dossier, "reception")
    retired = f"retired@{unit}"
    officer("leader", unit, retired)  # the role that apologises and extends (Decision 766), but retired
    identities().put(
        f"/officers/{retired}", {"full_name": "retired", "unit_code": unit, "roles": ["leader"], "active": False}
    )
    appointment = date.fromisoformat(api.get(f"/dossiers/{dossier}").json()["appointment_date"])
    later = (appointment + timedelta(days=3)).isoformat()

    for name, message in {
        "apologize": {
            "reason": "Chờ xác minh",
            "new_appointment_date": later,
            "officer": _officer(retired, unit, "leader"),
        },
        "extend": {
            "reason": "Xác minh thực địa",
            "new_appointment_date": later,
            "officer": _officer(retired, unit, "leader"),
        },
    }.items():
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            _update(stack, dossier, name, message)
        assert "is inactive in the unit registry" in str(refused.value.cause), name

    timeline = api.get(f"/dossiers/{dossier}").json()["timeline"]
    assert not [e for e in timeline if e["kind"] in ("apology", "extension")]
    summaries = [e["summary"] for e in timeline if e["kind"] == "message_refused"]
    assert any(s.startswith("Update 'apologize'") for s in summaries), summaries
    assert any(s.startswith("Update 'extend'") for s in summaries), summaries


def test_a_registered_officers_update_acts_in_the_capacity_the_registry_gives(api, stack):
    dossier, unit = dossier_awaiting_reception(api)
    clerk = f"clerk@{unit}"
    officer("reception", unit, clerk)

    # The message claims the clerk acts for their chief, by a delegation the registry does not know of: the decision
    # is recorded in the clerk's own capacity.
    claimed = {**_officer(clerk, unit), "on_behalf_of": f"chief@{unit}"}
    _update(stack, dossier, "decide", {"step_id": "reception", "decision": "approve", "officer": claimed})

    view = wait_for_step(api, dossier, "approval")
    decision = next(e for e in view["timeline"] if e["kind"] == "decision")
    assert (decision["actor_id"], decision["unit_code"]) == (clerk, unit)
    assert decision["actor"] == f"{clerk} (reception, {unit})"
    assert decision["on_behalf_of"] is None


def test_a_signal_of_a_name_no_dossier_takes_is_recorded_as_refused(api, stack):
    dossier, unit = dossier_awaiting_reception(api)

    async def send(client: Client) -> None:
        await client.get_workflow_handle(dossier).signal("approve-everything", {"step_id": "reception"})

    with_temporal(stack, send)

    entry = wait_until(
        lambda: next(
            (e for e in api.get(f"/dossiers/{dossier}").json()["timeline"] if e["kind"] == "message_refused"), None
        ),
        what="the refusal on the timeline",
    )
    assert entry["summary"].startswith("Signal 'approve-everything' refused: a dossier takes no Signal of this name")
    assert 'received 23 bytes (json/plain): {"step_id":"reception"}' in entry["summary"]
    assert active(api.get(f"/dossiers/{dossier}").json()) == {"reception": "officer"}
