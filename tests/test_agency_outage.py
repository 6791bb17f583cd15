"""Agency systems fail: a dossier waits and resumes by itself; a business refusal stops it with the reason."""

from __future__ import annotations

import time

from tests.support import (
    active,
    decide,
    deploy,
    portal_statuses,
    submit,
    three_step_procedure,
    unique_codes,
    wait_for_status,
    wait_for_step,
    wait_until,
)


def test_dossier_waits_while_a_system_is_down_and_resumes_when_it_recovers(api, simulator):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    simulator.put("/_sim/faults/civil_status", json={"down_for_seconds": 3}).raise_for_status()
    dossier = submit(api, code)["dossier_code"]
    decide(api, dossier, "reception", unit)

    waiting = wait_until(
        lambda: active(v := api.get(f"/dossiers/{dossier}").json()) == {"lookup": "system"} and v,
        what="the dossier to wait on the civil-status system",
    )
    assert waiting["outcome"] is None and waiting["status"] == 4

    wait_for_step(api, dossier, "approval", timeout=60)
    calls = simulator.get("/_sim/calls", params={"dossier_code": dossier, "system": "civil_status"}).json()
    outcomes = [c["outcome"] for c in calls]
    assert outcomes[-1] == "applied" and outcomes.count("applied") == 1 and "down" in outcomes
    assert len({c["idempotency_key"] for c in calls}) == 1  # every retry carried the same key


def test_business_refusal_stops_the_dossier_with_the_reason(api, simulator):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    simulator.put("/_sim/faults/civil_status", json={"refuse": True}).raise_for_status()
    dossier = submit(api, code)["dossier_code"]
    decide(api, dossier, "reception", unit)
    view = wait_for_status(api, dossier, 8, finished=True)
    assert view["outcome"] == "stopped" and "civil_status refused" in view["outcome_reason"]


def test_portal_hears_every_status_once_and_in_order_through_failures(api, simulator):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    simulator.put("/_sim/faults/portal", json={"error_rate": 0.3}).raise_for_status()
    dossier = submit(api, code)["dossier_code"]
    decide(api, dossier, "reception", unit)
    decide(api, dossier, "approval", unit)
    wait_for_status(api, dossier, 10, finished=True)
    wait_until(
        lambda: simulator.get(f"/portal/dossiers/{dossier}").json().get("current") == 10,
        timeout=90,
        what="the portal to hear status 10",
    )
    statuses = [s["status"] for s in simulator.get(f"/portal/dossiers/{dossier}").json()["statuses"]]
    assert statuses == [1, 2, 4, 9, 10]
    failed = [
        c
        for c in simulator.get("/_sim/calls", params={"dossier_code": dossier, "system": "portal"}).json()
        if c["outcome"] == "failed"
    ]
    assert failed, "the injected faults did happen"


def test_operators_see_dossiers_blocked_on_a_system(api, simulator):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    simulator.put("/_sim/faults/civil_status", json={"down_for_seconds": 4}).raise_for_status()
    dossier = submit(api, code)["dossier_code"]
    decide(api, dossier, "reception", unit)

    def blocked() -> list[dict]:
        systems = api.get("/operations/blocked", params={"waiting_longer_than_seconds": 0}).json()
        return [
            d for s in systems if s["system"] == "civil_status" for d in s["dossiers"] if d["dossier_code"] == dossier
        ]

    entry = wait_until(blocked, what="the dossier listed as blocked on civil_status")[0]
    assert entry["step_id"] == "lookup" and entry["summary"].startswith("waiting for civil_status since")
    view = api.get(f"/dossiers/{dossier}").json()
    assert [(s["step_id"], s["system"]) for s in view["active_steps"]] == [("lookup", "civil_status")]
    # It resumes by itself once the system is back, and leaves the list.
    wait_for_step(api, dossier, "approval", timeout=60)
    assert blocked() == []
    assert api.get("/operations/blocked", params={"waiting_longer_than_seconds": -1}).status_code == 422


def test_portal_reconciliation_reports_what_the_portal_has_not_heard(api, simulator):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    simulator.put("/_sim/faults/portal", json={"down_for_seconds": 5}).raise_for_status()
    dossier = submit(api, code)["dossier_code"]
    decide(api, dossier, "reception", unit)

    def mine(report: dict) -> list[dict]:
        return [d for d in report["differences"] if d["dossier_code"] == dossier]

    lagging = mine(api.get("/operations/portal-reconciliation").json())
    assert lagging and lagging[0]["ours"] in (2, 4) and lagging[0]["portal"] in (None, 1, 2)
    # Once the portal is back the pushes catch up, in order, and the difference disappears.
    portal_statuses(simulator, dossier, 4, timeout=60)
    assert mine(api.get("/operations/portal-reconciliation").json()) == []


def test_a_slow_portal_never_holds_a_decision(api, simulator):
    """Portal pushes ride along with the read-model writes only while the portal answers at once: a portal taking
    3 s a call is left to the portal lane, the officer's decision is answered (and shown) without waiting for it,
    and the portal still hears every status once and in order."""
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    dossier = submit(api, code)["dossier_code"]
    wait_for_step(api, dossier, "reception")
    simulator.put("/_sim/faults/portal", json={"latency_ms": 3000}).raise_for_status()
    started = time.monotonic()
    decide(api, dossier, "reception", unit)
    answered_in = time.monotonic() - started
    assert answered_in < 2.5, f"the decision waited {answered_in:.1f} s on the portal"
    kinds = [e["kind"] for e in api.get(f"/dossiers/{dossier}").json()["timeline"]]
    assert "decision" in kinds  # the read model shows it; the portal trails
    decide(api, dossier, "approval", unit)
    wait_for_status(api, dossier, 10, finished=True)
    assert portal_statuses(simulator, dossier, 10, timeout=90) == [1, 2, 4, 9, 10]
    calls = simulator.get("/_sim/calls", params={"dossier_code": dossier, "system": "portal"}).json()
    applied = [c["idempotency_key"] for c in calls if c["outcome"] == "applied"]
    assert len(applied) == len(set(applied)) == 5
