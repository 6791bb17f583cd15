"""An integration may send an officer's decision as the Signal `decide`, straight to Temporal, past the API. The
dossier itself then asks the unit registry who may act: an officer unknown to it, inactive, without the step's role
at its unit or holding it only by a delegation that has ended is refused, and so is a message that does not decode.
Each refusal is recorded on the dossier's timeline with what was received; nothing is applied, and the audit trail
credits no one."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.common import RawValue

from tests.support import (
    active,
    admin,
    dossier_awaiting_reception,
    identities,
    officer,
    wait_for_step,
    wait_until,
    with_temporal,
)

pytestmark = pytest.mark.cluster


def _signal(stack, dossier: str, *payloads: Any) -> None:
    async def send(client: Client) -> None:
        handle = client.get_workflow_handle(dossier)
        for payload in payloads:
            await handle.signal("decide", payload)

    with_temporal(stack, send)


def _refusals(api, dossier: str, count: int) -> list[dict[str, Any]]:
    return wait_until(
        lambda: len(r := [e for e in _timeline(api, dossier) if e["kind"] == "message_refused"]) >= count and r,
        what=f"{count} refused signals in {dossier}'s timeline",
    )


def _timeline(api, dossier: str) -> list[dict[str, Any]]:
    return api.get(f"/dossiers/{dossier}").json()["timeline"]


def _reception(officer_id: str, unit: str, **capacity: Any) -> dict[str, Any]:
    return {
        "step_id": "reception",
        "decision": "approve",
        "officer": {"officer_id": officer_id, "role": "reception", "unit_code": unit, **capacity},
    }


def _delegate(delegator: str, delegate: str, start: date, end: date) -> None:
    response = httpx.post(
        f"{identities().api_url}/officers/{delegator}/delegations",
        json={"delegate_id": delegate, "valid_from": start.isoformat(), "valid_until": end.isoformat(),
              "reason": "nghỉ phép"},
        headers=admin(),
        timeout=30,
    )  # fmt: skip
    assert response.status_code == 201, response.text


def test_a_decision_signal_that_does_not_decode_is_recorded_as_refused(api, stack):
    dossier, unit = dossier_awaiting_reception(api)
    not_json = RawValue(Payload(metadata={"encoding": b"json/plain"}, data=b'{"step_id": "reception", "decis'))
    huge = RawValue(Payload(metadata={"encoding": b"json/plain"}, data=b'"' + b"x" * 200_000 + b'"'))
    unknown_encoding = RawValue(Payload(metadata={"encoding": b"binary/made-up"}, data=b"\x00\xff\xfe"))
    no_officer = {"step_id": "reception", "decision": "approve"}

    _signal(stack, dossier, not_json, huge, unknown_encoding, no_officer)

    refused = _refusals(api, dossier, 4)
    summaries = [e["summary"] for e in refused]
    assert all("could not be read" in s for s in summaries), summaries
    assert '{"step_id": "reception", "decis' in summaries[0]
    assert "x" * 100 in summaries[1] and len(summaries[1]) < 1_000  # what was received, bounded
    assert "200002 bytes" in summaries[1]
    assert "binary/made-up" in summaries[2]
    assert "officer" in summaries[3] and '"decision":"approve"' in summaries[3].replace(" ", "")
    assert all(e["actor_id"] is None for e in refused)
    # Nothing was applied: the reception step still awaits its officer.
    assert active(api.get(f"/dossiers/{dossier}").json()) == {"reception": "officer"}
    assert not [e for e in _timeline(api, dossier) if e["kind"] == "decision"]

    # The applicant's Signal twins read their messages the same way.
    async def send(client: Client) -> None:
        await client.get_workflow_handle(dossier).signal("pay", not_json)

    with_temporal(stack, send)
    assert _refusals(api, dossier, 5)[4]["summary"].startswith("Signal 'pay' refused: it could not be read")


def test_a_decision_signal_from_an_officer_without_authority_is_refused(api, stack):
    dossier, unit = dossier_awaiting_reception(api)
    officer("reception", unit, f"retired@{unit}")
    identities().put(
        f"/officers/retired@{unit}",
        {"full_name": "retired", "unit_code": unit, "roles": ["reception"], "active": False},
    )
    officer("leader", unit, f"leader-only@{unit}")
    officer("reception", unit, f"on-leave@{unit}")
    officer("specialist", "T9999.50.05", f"former-deputy@{unit}")
    _delegate(f"on-leave@{unit}", f"former-deputy@{unit}", date(2025, 1, 1), date(2025, 1, 31))
    claimed_by = {
        "unregistered": _reception(f"ghost@{unit}", unit),
        "inactive": _reception(f"retired@{unit}", unit),
        "without the step's role": _reception(f"leader-only@{unit}", unit),
        "delegation ended": _reception(f"former-deputy@{unit}", unit, on_behalf_of=f"on-leave@{unit}"),
    }

    _signal(stack, dossier, *claimed_by.values())

    refused = _refusals(api, dossier, len(claimed_by))
    # The registry is asked for each at once: the refusals come in the order its answers do.
    summaries = {}
    for case, payload in claimed_by.items():
        officer_id = payload["officer"]["officer_id"]
        [entry] = [e for e in refused if f"naming officer {officer_id!r}" in e["summary"]]
        assert entry["actor_id"] is None, case
        summaries[case] = entry["summary"]
    assert "is not in the unit registry" in summaries["unregistered"]
    assert "is inactive in the unit registry" in summaries["inactive"]
    assert f"assigned to a reception officer of {unit}" in summaries["without the step's role"]
    assert f"assigned to a reception officer of {unit}" in summaries["delegation ended"]
    # Nothing was applied, and the audit trail credits none of them.
    timeline = _timeline(api, dossier)
    assert active(api.get(f"/dossiers/{dossier}").json()) == {"reception": "officer"}
    assert not [e for e in timeline if e["kind"] == "decision"]
    claimed = {p["officer"]["officer_id"] for p in claimed_by.values()}
    assert not [e for e in timeline if e["actor_id"] in claimed or (e["actor"] or "") in claimed]


def test_a_decision_signal_from_an_authorised_officer_applies(api, stack):
    dossier, unit = dossier_awaiting_reception(api)
    officer("reception", unit, f"clerk@{unit}")

    _signal(stack, dossier, _reception(f"clerk@{unit}", unit))

    view = wait_for_step(api, dossier, "approval")
    decision = [e for e in view["timeline"] if e["kind"] == "decision"][0]
    assert decision["step_id"] == "reception"
    assert (decision["actor_id"], decision["unit_code"], decision["channel"]) == (f"clerk@{unit}", unit, "signal")


def test_a_decision_signal_from_a_delegate_applies_on_behalf_of_the_delegator(api, stack):
    dossier, unit = dossier_awaiting_reception(api)
    officer("reception", unit, f"away@{unit}")
    officer("specialist", "T9999.50.05", f"deputy@{unit}")
    today = date.today()
    _delegate(f"away@{unit}", f"deputy@{unit}", today - timedelta(days=2), today + timedelta(days=2))

    # The signal claims no capacity of the delegation: the registry's capacities decide.
    _signal(stack, dossier, _reception(f"deputy@{unit}", "T9999.50.05"))

    view = wait_for_step(api, dossier, "approval")
    decision = [e for e in view["timeline"] if e["kind"] == "decision"][0]
    assert (decision["actor_id"], decision["on_behalf_of"], decision["unit_code"]) == (
        f"deputy@{unit}",
        f"away@{unit}",
        unit,
    )


def test_a_decision_signal_with_no_payload_or_several_is_refused_and_the_dossier_goes_on(api, stack):
    dossier, unit = dossier_awaiting_reception(api)
    officer("reception", unit, f"clerk@{unit}")

    async def send(client: Client) -> None:
        handle = client.get_workflow_handle(dossier)
        await handle.signal("decide")
        await handle.signal("decide", args=[_reception(f"clerk@{unit}", unit), {"and": "more"}])

    with_temporal(stack, send)
    summaries = [e["summary"] for e in _refusals(api, dossier, 2)]
    assert "received 0 payloads" in summaries[0] and "received 2 payloads" in summaries[1], summaries
    # The dossier is not wedged: the officer's own decision still applies.
    _signal(stack, dossier, _reception(f"clerk@{unit}", unit))
    wait_for_step(api, dossier, "approval")
