"""Dossiers survive a killed worker and a restarted Temporal server: nothing lost, nothing twice."""

from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from tests.support import (
    deploy,
    officer,
    portal_statuses,
    submit,
    three_step_procedure,
    unique_codes,
    wait_for_status,
    wait_for_step,
    wait_until,
    with_temporal,
)


def _approve(api_url: str, dossier: str, step: str, role: str, unit: str) -> int:
    response = httpx.post(
        f"{api_url}/dossiers/{dossier}/decisions",
        json={"step_id": step, "decision": "approve"},
        headers=officer(role, unit),
        timeout=60,
    )
    return response.status_code


def test_decisions_sent_while_the_worker_is_dead_apply_once_it_is_back(api, simulator, stack):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    dossiers = [submit(api, code)["dossier_code"] for _ in range(5)]
    for dossier in dossiers:
        wait_for_step(api, dossier, "reception")

    stack.kill("worker", signal.SIGKILL)
    with ThreadPoolExecutor(max_workers=5) as pool:
        pending = [pool.submit(_approve, stack.config.api_url, d, "reception", "reception", unit) for d in dossiers]
        # The Updates wait in Temporal for a worker; none is lost.
        stack.start_worker()
        assert [f.result() for f in pending] == [200] * 5

    for dossier in dossiers:
        wait_for_step(api, dossier, "approval")
        assert _approve(stack.config.api_url, dossier, "approval", "leader", unit) == 200
    for dossier in dossiers:
        view = wait_for_status(api, dossier, 10, finished=True)
        assert [e["seq"] for e in view["timeline"]] == list(range(1, len(view["timeline"]) + 1))
        assert portal_statuses(simulator, dossier, 10) == [1, 2, 4, 9, 10]
        applied = [
            c
            for c in simulator.get("/_sim/calls", params={"dossier_code": dossier, "system": "civil_status"}).json()
            if c["outcome"] == "applied"
        ]
        assert len(applied) == 1


def test_a_decision_on_a_step_shown_by_a_task_the_dead_worker_never_finished_is_applied(api, simulator, stack):
    """The read model hears a workflow task's transitions before the task completes. A worker killed in between
    leaves the reception step shown as awaiting while the workflow has not reached it; the decision sent then
    waits for the redone task and is applied (the workflow's first refusal is not the officer's answer)."""
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    # A slow portal holds the publishing local activity (after its read-model write) for the ride-along second.
    simulator.put("/_sim/faults/portal", json={"latency_ms": 3000}).raise_for_status()
    dossier = submit(api, code)["dossier_code"]
    wait_for_step(api, dossier, "reception")
    stack.kill("worker", signal.SIGKILL)

    async def completed_workflow_tasks(client: Client) -> int:
        history = await client.get_workflow_handle(dossier).fetch_history()
        return sum(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED for e in history.events)

    assert with_temporal(stack, completed_workflow_tasks) == 0  # shown, but never reached as far as Temporal knows
    simulator.delete("/_sim/faults").raise_for_status()
    stack.start_worker()
    assert _approve(stack.config.api_url, dossier, "reception", "reception", unit) == 200
    wait_for_step(api, dossier, "approval")
    assert _approve(stack.config.api_url, dossier, "approval", "leader", unit) == 200
    view = wait_for_status(api, dossier, 10, finished=True)
    assert [e["kind"] for e in view["timeline"]].count("decision") == 2
    assert portal_statuses(simulator, dossier, 10) == [1, 2, 4, 9, 10]


def test_dossier_survives_a_temporal_server_restart(api, simulator, stack):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    dossier = submit(api, code)["dossier_code"]
    wait_for_step(api, dossier, "reception")
    assert _approve(stack.config.api_url, dossier, "reception", "reception", unit) == 200
    wait_for_step(api, dossier, "approval")

    stack.kill("temporal", signal.SIGTERM)
    stack.start_temporal()  # same SQLite file

    # Clients reconnect by themselves; the dossier is where it was.
    assert wait_until(
        lambda: _approve(stack.config.api_url, dossier, "approval", "leader", unit) == 200,
        timeout=60,
        what="the leader's approval after the restart",
    )
    view = wait_for_status(api, dossier, 10, finished=True, timeout=60)
    assert view["outcome"] == "completed"
    assert portal_statuses(simulator, dossier, 10) == [1, 2, 4, 9, 10]


def test_reconciliation_reports_a_workflow_that_cannot_answer_and_the_rest(api, stack):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    answering = submit(api, code)["dossier_code"]
    wait_for_step(api, answering, "reception")

    def reconcile(settle: float) -> httpx.Response:
        return api.get(
            "/operations/workflow-reconciliation",
            params={"updated_within_hours": 1, "procedure_code": code, "settle_seconds": settle},
            timeout=120,
        )

    stack.kill("worker", signal.SIGKILL)
    try:
        # Received while no worker runs: its workflow has not taken its first step, and nobody answers a query.
        waiting = submit(api, code)["dossier_code"]
        report = reconcile(0)
    finally:
        stack.start_worker()
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["checked"] == 2
    unanswered = {d["dossier_code"]: d for d in body["differences"]}
    assert waiting in unanswered
    assert unanswered[waiting]["field"] == "workflow" and unanswered[waiting]["workflow"].startswith("unanswered")
    assert unanswered[waiting]["read_model"] == 1  # registered

    wait_for_step(api, waiting, "reception")

    def in_sync() -> dict | None:
        body = reconcile(3).json()
        return body if body["in_sync"] == 2 else None

    assert wait_until(in_sync, timeout=60, what="both in sync") == {"checked": 2, "in_sync": 2, "differences": []}
