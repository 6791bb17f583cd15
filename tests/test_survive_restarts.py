"""Dossiers survive a killed worker and a restarted Temporal server: nothing lost, nothing twice."""

from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor

import httpx

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
