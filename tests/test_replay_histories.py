"""Replaying recorded histories makes any non-deterministic change to the workflow fail the suite.

`tests/histories/*.json` were recorded from real runs. Record again (after an intended, versioned
change) with `MOTCUA_RECORD_HISTORIES=1 make test`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory, WorkflowUpdateFailedError
from temporalio.common import RawValue
from temporalio.worker import Replayer

from domain.working_calendar import VIETNAM
from infrastructure.temporal import data_converter
from tests.support import (
    BIRTH_WARD,
    approved_dossier,
    child_dossiers,
    decide,
    deploy,
    officer,
    pay,
    submit,
    submit_birth,
    three_step_procedure,
    unique_codes,
    wait_for_status,
    wait_for_step,
    wait_until,
    with_temporal,
)
from workflows.dossier import REVISION, REVISION_PATCH, DossierWorkflow

HISTORIES = Path(__file__).parent / "histories"


def _replayer() -> Replayer:
    return Replayer(workflows=[DossierWorkflow], data_converter=data_converter)


def _run_recordable_dossiers(api) -> dict[str, str]:
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    supplemented = submit(api, code)["dossier_code"]
    decide(api, supplemented, "reception", unit)
    decide(api, supplemented, "approval", unit, "request_supplement", missing=["bản sao CCCD"])
    api.post(f"/dossiers/{supplemented}/supplements", json={"form": {"copies": 4}}).raise_for_status()
    decide(api, supplemented, "approval", unit)
    refused = submit(api, code)["dossier_code"]
    decide(api, refused, "reception", unit, "reject", reason="Hồ sơ không hợp lệ")
    wait_for_status(api, supplemented, 10, finished=True)
    wait_for_status(api, refused, 3, finished=True)
    return {"approved-after-supplement": supplemented, "refused-at-reception": refused}


def _run_dossier_paid_then_refused(api) -> dict[str, str]:
    """Revision 5: a fee paid through the payment platform; two supplement requests, each with its letter (form 02),
    the second confirmed as counting the dossier late; the leader's apology letter (form 04); a refusal (form 03) and
    the refund of the fee."""
    code, unit = unique_codes()
    definition = three_step_procedure(code, unit)
    definition["steps"][0]["next"] = "payment"
    definition["steps"].insert(1, {"id": "payment", "kind": "fee", "name": "Nộp lệ phí", "next": "lookup",
                                   "fee": {"amount_vnd": 8000, "pay_within_hours": 72}})  # fmt: skip
    deploy(api, definition)
    receipt = submit(api, code)
    dossier = receipt["dossier_code"]
    decide(api, dossier, "reception", unit)
    pay(api, dossier, "payment")
    for cycle, confirm in ((1, {}), (2, {"confirm_late": True})):
        decide(api, dossier, "approval", unit, "request_supplement", missing=[f"bản sao CCCD ({cycle})"], **confirm)
        api.post(f"/dossiers/{dossier}/supplements", json={"form": {"copies": 2 + cycle}}).raise_for_status()
    appointment = date.fromisoformat(api.get(f"/dossiers/{dossier}").json()["appointment_date"])
    apology = {"reason": "Chờ xác minh", "new_appointment_date": VIETNAM.add_working_days(appointment, 1).isoformat()}
    api.post(f"/dossiers/{dossier}/apologies", json=apology, headers=officer("leader", unit)).raise_for_status()
    decide(api, dossier, "approval", unit, "reject", reason="Hồ sơ không hợp lệ", confirm_late=True)
    wait_until(
        lambda: any(e["kind"] == "fee_refunded" for e in api.get(f"/dossiers/{dossier}").json()["timeline"]),
        what="the refund of the fee",
    )
    wait_for_status(api, dossier, 8, finished=True)
    return {"paid-then-refused": dossier}


def _run_interconnected_dossiers(api) -> dict[str, str]:
    """The birth registration with its police and social-insurance child dossiers, completed; and one
    withdrawn while its child dossiers were under way (they stop with it)."""
    completed = submit_birth(api)
    withdrawn = submit_birth(api)
    for dossier in (completed, withdrawn):
        decide(api, dossier, "reception", BIRTH_WARD)
        decide(api, dossier, "register_birth", BIRTH_WARD)
    children = child_dossiers(api, completed, 2)
    stopping = child_dossiers(api, withdrawn, 2)
    decide(api, stopping["1.004222"], "police_review", "H29.CA")  # the police leader has it when it stops
    api.post(f"/dossiers/{withdrawn}/withdrawal", json={"reason": "Gia đình chuyển nơi cư trú"}).raise_for_status()
    decide(api, children["1.004222"], "police_review", "H29.CA")
    decide(api, children["1.004222"], "police_approval", "H29.CA")
    decide(api, children["1.001779"], "insurance_review", "H29.BHXH")
    wait_for_status(api, completed, 10, finished=True)
    wait_for_status(api, withdrawn, 7, finished=True)
    return {
        "interconnected-birth-completed": completed,
        "interconnected-residence-completed": children["1.004222"],
        "interconnected-birth-withdrawn": withdrawn,
        "interconnected-residence-stopped-with-parent": stopping["1.004222"],
    }


def _run_dossier_decided_by_signals(api, stack) -> dict[str, str]:
    """Reception decided straight through Temporal: a Signal that does not decode, one naming an officer the registry
    does not know, a Signal of a name no dossier takes and an Update from an unknown officer are refused on the
    timeline; the registered officer's decision Signal applies."""
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    dossier = submit(api, code)["dossier_code"]
    wait_for_step(api, dossier, "reception")
    officer("reception", unit, f"clerk@{unit}")

    def reception(officer_id: str) -> dict[str, object]:
        return {"step_id": "reception", "decision": "approve",
                "officer": {"officer_id": officer_id, "role": "reception", "unit_code": unit}}  # fmt: skip

    async def send(client: Client) -> None:
        handle = client.get_workflow_handle(dossier)
        await handle.signal("decide", RawValue(Payload(metadata={"encoding": b"json/plain"}, data=b"{not json")))
        await handle.signal("decide", reception(f"ghost@{unit}"))
        await handle.signal("approve-everything", {"step_id": "reception"})
        with contextlib.suppress(WorkflowUpdateFailedError):
            await handle.execute_update("decide", reception(f"phantom@{unit}"))

    with_temporal(stack, send)
    wait_until(
        lambda: (
            len([e for e in api.get(f"/dossiers/{dossier}").json()["timeline"] if e["kind"] == "message_refused"]) == 4
        ),
        what="the four refusals on the timeline",
    )
    with_temporal(
        stack, lambda client: client.get_workflow_handle(dossier).signal("decide", reception(f"clerk@{unit}"))
    )
    wait_for_step(api, dossier, "approval")
    decide(api, dossier, "approval", unit, "reject", reason="Hồ sơ không hợp lệ")
    wait_for_status(api, dossier, 8, finished=True)
    return {"decided-by-signals": dossier}


def _run_dossier_answered_later(api, simulator) -> dict[str, str]:
    """An agency that answers later (revision 4): acknowledged, its answer held back, then sent through motcua's
    agencies' endpoint; the dossier goes on to its result."""
    code, unit = unique_codes()
    definition = three_step_procedure(code, unit)
    next(step for step in definition["steps"] if step["id"] == "lookup").update(
        answer="callback", answer_within_hours=1
    )
    deploy(api, definition)
    simulator.put("/_sim/later-answers", json={"hold": True}).raise_for_status()
    try:
        dossier = submit(api, code)["dossier_code"]
        decide(api, dossier, "reception", unit)
        wait_until(
            lambda: any(e["kind"] == "agency_called" for e in api.get(f"/dossiers/{dossier}").json()["timeline"]),
            what="the agency's acknowledgement",
        )
    finally:
        simulator.put("/_sim/later-answers", json={}).raise_for_status()
        simulator.post("/_sim/later-answers/release").raise_for_status()
    decide(api, dossier, "approval", unit)
    wait_for_status(api, dossier, 10, finished=True)
    return {"agency-answered-later": dossier}


def test_fresh_histories_replay_on_the_current_workflow(api, stack, simulator, shipped):
    dossiers = {
        **_run_recordable_dossiers(api),
        **_run_interconnected_dossiers(api),
        **_run_dossier_decided_by_signals(api, stack),
        **_run_dossier_answered_later(api, simulator),
        **_run_dossier_paid_then_refused(api),
    }

    async def replay(client: Client) -> dict[str, WorkflowHistory]:
        histories = {}
        for name, dossier in dossiers.items():
            handle = client.get_workflow_handle(dossier)
            await handle.result()
            history = await handle.fetch_history()
            await _replayer().replay_workflow(history)
            histories[name] = history
        return histories

    histories = with_temporal(stack, replay)
    if os.environ.get("MOTCUA_RECORD_HISTORIES"):
        HISTORIES.mkdir(exist_ok=True)
        for name, history in histories.items():
            (HISTORIES / f"{name}.json").write_text(history.to_json())


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda p: p.stem)
def test_recorded_histories_still_replay(path: Path):
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    asyncio.run(_replayer().replay_workflow(history))


def test_recorded_histories_are_present():
    assert len(list(HISTORIES.glob("*.json"))) >= 2, "record them with MOTCUA_RECORD_HISTORIES=1"


def _finished_history(stack, dossier: str) -> Sequence[HistoryEvent]:
    async def history(client: Client) -> WorkflowHistory:
        handle = client.get_workflow_handle(dossier)
        await handle.result()
        return await handle.fetch_history()

    return with_temporal(stack, history).events


def test_a_dossier_publishes_its_transitions_within_its_own_workflow_tasks(api, stack):
    """The read model and the portal hear a new dossier's transitions through local activities (patch
    publish-locally): its history holds their markers and no activity of their own, so a write costs no
    workflow task and no round trip through the server."""
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    dossier = submit(api, code)["dossier_code"]
    decide(api, dossier, "reception", unit, "reject", reason="Hồ sơ không hợp lệ")
    wait_for_status(api, dossier, 3, finished=True)
    events = _finished_history(stack, dossier)
    activities = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    markers = [e for e in events if e.HasField("marker_recorded_event_attributes")]
    assert not {"publish_transitions", "record_transitions", "push_portal_status"} & set(activities), activities
    # submitted, rejected and finished were each published (with the calendar's own local activities besides)
    assert len([m for m in markers if m.marker_recorded_event_attributes.marker_name == "core_local_activity"]) >= 3


def test_a_dossier_records_its_revision_once_and_indexes_only_what_changed(api, stack):
    """A new dossier carries one patch marker, its workflow's revision, whatever changes that revision holds; its
    status and units reach Temporal's index as it starts and then only when they change (the units stay while
    the civil-status system is asked, and clear when the dossier ends); and a step's calendar plan is written
    together with what led to it, so the first workflow task publishes once."""
    dossier, unit = approved_dossier(api)
    events = _finished_history(stack, dossier)

    def details(event) -> str:
        attributes = event.marker_recorded_event_attributes
        return " ".join(p.data.decode() for d in attributes.details.values() for p in d.payloads)

    patches = [details(e) for e in events if e.marker_recorded_event_attributes.marker_name == "core_patch"]
    assert len(patches) == 1 and f'"{REVISION_PATCH.format(REVISION)}"' in patches[0], patches

    started = events[0].workflow_execution_started_event_attributes.search_attributes.indexed_fields
    indexed = {name: json.loads(started[name].data) for name in ("DossierStatus", "AssignedUnit")}
    assert indexed == {"DossierStatus": "registered", "AssignedUnit": unit}  # the reception's unit holds it at once
    seen: list[dict[str, str]] = [dict(indexed)]
    versions: list[list[str]] = []
    for event in events:
        if not event.HasField("upsert_workflow_search_attributes_event_attributes"):
            continue
        fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
        change = {name: json.loads(payload.data) for name, payload in fields.items()}
        if "TemporalChangeVersion" in change:  # the SDK's, for the revision's patch marker
            versions.append(change.pop("TemporalChangeVersion"))
            if not change:
                continue
        assert all(indexed[name] != value for name, value in change.items()), (change, indexed)
        indexed.update(change)
        seen.append(dict(indexed))
    assert versions == [[REVISION_PATCH.format(REVISION)]]
    assert [state["AssignedUnit"] for state in seen[:-1]] == [unit] * (len(seen) - 1), seen
    assert seen[-1] == {"DossierStatus": "result_returned", "AssignedUnit": ""}

    first_task_ends = next(
        i for i, e in enumerate(events) if e.HasField("workflow_task_scheduled_event_attributes") and i > 2
    )
    first_task_markers = [
        details(e) for e in events[:first_task_ends] if e.HasField("marker_recorded_event_attributes")
    ]
    assert len([m for m in first_task_markers if '"publish_transitions"' in m]) == 1, first_task_markers
