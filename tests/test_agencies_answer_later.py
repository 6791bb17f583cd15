"""Agencies that answer later (tax, police): the call is acknowledged, the step waits for the agency's answer, which
arrives through an authenticated endpoint naming the call, and then goes on; past the hours the definition gives the
agency, the unit's leader is told while the wait goes on; a later refusal stops the dossier like any refusal. The
simulator plays the agency, calling motcua back."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from devstack.stack import Stack
from tests.support import (
    decide,
    deploy,
    identities,
    submit,
    three_step_procedure,
    unique_codes,
    wait_for_status,
    wait_for_step,
    wait_until,
)


def _answered_later(code: str, unit: str, within_hours: float = 1) -> dict[str, Any]:
    identities().register_unit(unit)  # a definition names only units the registry has
    definition = three_step_procedure(code, unit)
    lookup = next(step for step in definition["steps"] if step["id"] == "lookup")
    lookup.update(answer="callback", answer_within_hours=within_hours)
    return definition


@pytest.fixture
def later(simulator: httpx.Client):
    def set_to(**how: Any) -> None:
        assert simulator.put("/_sim/later-answers", json=how).status_code == 200

    yield set_to
    set_to()  # the agency answers promptly again
    simulator.post("/_sim/later-answers/release")


def _timeline(api: httpx.Client, dossier: str) -> list[dict[str, Any]]:
    return api.get(f"/dossiers/{dossier}").json()["timeline"]


def _acknowledged(api: httpx.Client, dossier: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        return next((e for e in _timeline(api, dossier) if e["kind"] == "agency_called"), None)

    return wait_until(probe, what="the agency's acknowledgement")


def _waiting_on_the_agency(api: httpx.Client, unit: str, later, within_hours: float = 1) -> str:
    later(hold=True)
    code, _ = unique_codes()
    deploy(api, _answered_later(code, unit, within_hours))
    dossier = submit(api, code)["dossier_code"]
    decide(api, dossier, "reception", unit)
    _acknowledged(api, dossier)
    return dossier


def test_the_step_waits_for_the_agency_and_goes_on_with_its_answer(api, simulator, later) -> None:
    _, unit = unique_codes()
    dossier = _waiting_on_the_agency(api, unit, later)
    view = api.get(f"/dossiers/{dossier}").json()
    lookup = next(step for step in view["active_steps"] if step["step_id"] == "lookup")
    assert lookup["awaiting"] == "system" and lookup["system"] == "civil_status"  # the agency's wait, not the office's
    assert "chờ cơ quan trả lời" in _acknowledged(api, dossier)["text"]

    assert simulator.post("/_sim/later-answers/release").json()["released"] == 1
    wait_for_step(api, dossier, "approval")
    calls = [e for e in _timeline(api, dossier) if e["kind"] == "agency_called"]
    assert len(calls) == 2 and calls[-1]["summary"].startswith("Tra cứu sổ hộ tịch: civil_status answered (reference")
    assert calls[-1]["text"] == "Tra cứu sổ hộ tịch: cơ quan liên quan đã trả lời."  # as the applicant reads it


def test_an_agency_late_to_answer_is_reported_to_the_leader_and_still_awaited(api, simulator, later) -> None:
    _, unit = unique_codes()
    dossier = _waiting_on_the_agency(api, unit, later, within_hours=0.004)  # about 14 seconds

    def escalated() -> dict[str, Any] | None:
        return next((e for e in _timeline(api, dossier) if e["kind"] == "escalated"), None)

    late = wait_until(escalated, timeout=60, what="the leader told that the agency is late")
    assert late["step_id"] == "lookup" and "chưa trả lời" in late["text"]
    told = [c for c in simulator.get("/_sim/calls").json() if c["operation"] == "notify_unit"
            and c["dossier_code"] == dossier]  # fmt: skip
    assert told and told[-1]["body"]["role"] == "leader" and told[-1]["body"]["reason"] == "agency_late"
    # The wait goes on: the answer, when it comes, still moves the dossier.
    assert simulator.post("/_sim/later-answers/release").json()["released"] == 1
    wait_for_step(api, dossier, "approval")


def test_a_later_refusal_stops_the_dossier(api, simulator, later) -> None:
    later(refuse=True)
    code, unit = unique_codes()
    deploy(api, _answered_later(code, unit))
    dossier = submit(api, code)["dossier_code"]
    decide(api, dossier, "reception", unit)
    view = wait_for_status(api, dossier, 8)
    assert view["outcome"] == "stopped" and "cannot settle" in (view["outcome_reason"] or "")


def test_only_an_agency_answers_and_only_the_call_awaited(api, simulator, stack: Stack, later) -> None:
    _, unit = unique_codes()
    dossier = _waiting_on_the_agency(api, unit, later)
    call_id = f"{dossier}:lookup:1"  # the call's Idempotency-Key: the dossier, the step, its first visit
    url = f"{stack.config.api_url}/dossiers/{dossier}/agency-answers"
    key = {"X-Agency-Key": stack.config.agency_callback_key}
    answer = {"step_id": "lookup", "call_id": call_id, "reference": "CS-1", "data": {"found": True}}
    with httpx.Client(timeout=30) as http:
        assert http.post(url, json=answer).status_code == 401  # no key, no token
        assert http.post(url, json=answer, headers={"X-Agency-Key": "guess"}).status_code == 401
        wrong_call = http.post(url, json={**answer, "call_id": f"{dossier}:lookup:7"}, headers=key)
        assert wrong_call.status_code == 409, wrong_call.text
        unknown = http.post(f"{stack.config.api_url}/dossiers/NO-SUCH-1/agency-answers", json=answer, headers=key)
        assert unknown.status_code == 404
        bad = http.post(url, json={**answer, "outcome": "maybe"}, headers=key)
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "outcome"]
        accepted = http.post(url, json=answer, headers=key)
        assert accepted.status_code == 200, accepted.text
        assert "lookup" not in accepted.json()["active_step_ids"]
        assert http.post(url, json=answer, headers=key).status_code == 409  # answered already
    wait_for_step(api, dossier, "approval")
