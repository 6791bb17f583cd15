"""Fees paid through the national payment platform (workflow revision 5): the fee step asks the platform to collect
the fee and shows where to pay; the platform's signed confirmation, received at an endpoint that verifies it, moves
the dossier on once the platform says the request is paid; a lost confirmation is made up for by the status check, and
a repeated one changes nothing; an unpaid request expires (on the platform's word) and the dossier stops; a dossier
that ends while its fee waits cancels the platform's request; a dossier refused after payment has its fee refunded.
A `pay` sent straight to Temporal is not taken on the payment id alone. The simulator plays the platform."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowUpdateFailedError

from devstack.stack import Stack
from tests.support import (
    decide,
    deploy,
    pay_on_the_platform,
    submit,
    three_step_procedure,
    unique_codes,
    wait_for_status,
    wait_for_step,
    wait_until,
    with_temporal,
)

AMOUNT = 30_000


def _with_fee(code: str, unit: str, **fee: Any) -> dict[str, Any]:
    """Reception → fee (30,000 VND, through the platform) → leader approval → result."""
    definition = three_step_procedure(code, unit)
    steps = definition["steps"]
    steps[0]["next"] = "payment"
    steps[1] = {"id": "payment", "kind": "fee", "name": "Nộp lệ phí", "next": "approval",
                "fee": {"amount_vnd": AMOUNT, "description": "Lệ phí (test)", **fee}}  # fmt: skip
    return definition


def _at_the_fee(api: httpx.Client, **fee: Any) -> tuple[str, str, dict[str, Any], str]:
    """A dossier whose fee step has asked the platform to collect its fee: (dossier, unit, fee request, secret)."""
    code, unit = unique_codes()
    deploy(api, _with_fee(code, unit, **{"pay_within_hours": 72, **fee}))
    receipt = submit(api, code)
    dossier = receipt["dossier_code"]
    decide(api, dossier, "reception", unit)
    view = wait_until(lambda: (v := api.get(f"/dossiers/{dossier}").json())["fee_request"] and v,
                      what="the fee request")  # fmt: skip
    return dossier, unit, view["fee_request"], receipt["lookup_secret"]


def _timeline(api: httpx.Client, dossier: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in api.get(f"/dossiers/{dossier}").json()["timeline"] if e["kind"] == kind]


def _signed(secret: str, payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/json", "X-Payment-Signature": signature}


def _confirmed(stack: Stack, dossier: str, payload: dict[str, Any]) -> httpx.Response:
    """The platform's signed confirmation, sent to motcua as the platform would."""
    body, headers = _signed(stack.config.payment_platform_secret, payload)
    url = f"{stack.config.api_url}/dossiers/{dossier}/payments/platform-confirmation"
    return httpx.post(url, content=body, headers=headers, timeout=30)


def _status_checks(simulator: httpx.Client, dossier: str) -> list[dict[str, Any]]:
    return [c for c in simulator.get("/_sim/calls", params={"system": "payment_platform"}).json()
            if c["operation"] == "status" and c["dossier_code"] == dossier]  # fmt: skip


def _held(simulator: httpx.Client, dossier: str) -> list[tuple[str, str]]:
    held = simulator.get("/_sim/payment-platform/payments", params={"dossier_code": dossier}).json()
    return [(p["payment_id"], p["status"]) for p in held]


def test_paying_on_the_platform_moves_the_dossier_on(api, simulator) -> None:
    dossier, _, request, secret = _at_the_fee(api)
    assert request["amount_vnd"] == AMOUNT and request["payment_id"].startswith("TT-") and request["expires_at"]
    assert request["pay_url"].endswith(f"/payment-platform/pay/{request['payment_id']}")
    asked = _timeline(api, dossier, "fee_requested")[-1]
    assert request["payment_id"] in asked["summary"] and "Cổng thanh toán" in asked["text"]
    # The applicant and their pages are sent to the platform to pay.
    page = api.get(f"/citizen/dossiers/{dossier}?lang=vi", headers={"X-Lookup-Secret": secret})
    assert page.status_code == 200 and request["pay_url"] in page.text and "Thanh toán" in page.text
    # The applicant's word is no longer enough: only the platform's confirmation pays the fee.
    word = api.post(f"/dossiers/{dossier}/payments", headers={"X-Lookup-Secret": secret},
                    json={"step_id": "payment", "amount_vnd": AMOUNT, "receipt_reference": "PAY-1"})  # fmt: skip
    assert word.status_code == 409 and "payment platform" in word.json()["detail"]

    paid = pay_on_the_platform(request["pay_url"])
    assert paid["status"] == "paid" and paid["confirmation"] == "sent"
    view = wait_for_step(api, dossier, "approval")
    assert view["fees_paid_vnd"] == AMOUNT and view["fee_request"] is None
    event = _timeline(api, dossier, "fee_paid")[-1]
    assert event["summary"].endswith(f"(transaction {paid['transaction_id']}, by callback)")
    assert event["actor_kind"] == "system" and event["channel"] == "payment_platform"
    confirmations = [c for c in simulator.get("/_sim/calls", params={"system": "payment_platform"}).json()
                     if c["operation"] == "confirm" and c["dossier_code"] == dossier]  # fmt: skip
    assert [c["outcome"] for c in confirmations] == ["200"]


def test_only_a_signed_confirmation_of_the_request_awaited_pays(api, stack: Stack) -> None:
    dossier, _, request, _ = _at_the_fee(api)
    secret = stack.config.payment_platform_secret
    url = f"{stack.config.api_url}/dossiers/{dossier}/payments/platform-confirmation"
    confirmation = {"payment_id": request["payment_id"], "dossier_code": dossier, "reference": f"{dossier}:payment:1",
                    "amount_vnd": AMOUNT, "status": "paid", "transaction_id": "GD-TEST-1", "channel": "card"}  # fmt: skip
    with httpx.Client(timeout=30) as http:
        body, headers = _signed(secret, confirmation)
        assert http.post(url, content=body, headers={"Content-Type": "application/json"}).status_code == 401
        _, forged = _signed("guessed-secret", confirmation)
        assert http.post(url, content=body, headers=forged).status_code == 401
        tampered = body.replace(b'"GD-TEST-1"', b'"GD-TEST-2"')
        assert http.post(url, content=tampered, headers=headers).status_code == 401  # signed for other bytes
        # Nothing changed: the fee is still awaited.
        view = api.get(f"/dossiers/{dossier}").json()
        assert view["status"] == 6 and view["fee_request"]["payment_id"] == request["payment_id"]
        assert not _timeline(api, dossier, "fee_paid")

        def sent(payload: dict[str, Any], to: str = url) -> httpx.Response:
            return http.post(to, content=_signed(secret, payload)[0], headers=_signed(secret, payload)[1])

        other = sent({**confirmation, "payment_id": "TT-99999999"})
        assert other.status_code == 409 and request["payment_id"] in other.text
        unknown = sent({**confirmation, "dossier_code": "NO-SUCH-1"},
                       f"{stack.config.api_url}/dossiers/NO-SUCH-1/payments/platform-confirmation")  # fmt: skip
        assert unknown.status_code == 404
        elsewhere = sent({**confirmation, "dossier_code": "NO-SUCH-1"})
        assert elsewhere.status_code == 422 and elsewhere.json()["detail"][0]["loc"] == ["body", "dossier_code"]
        short = sent({**confirmation, "amount_vnd": AMOUNT - 1})
        assert short.status_code == 422 and short.json()["detail"][0]["loc"] == ["body", "amount_vnd"]
        malformed = sent({k: v for k, v in confirmation.items() if k != "transaction_id"})
        assert malformed.status_code == 422 and malformed.json()["detail"][0]["loc"] == ["body", "transaction_id"]
        assert not _timeline(api, dossier, "fee_paid")
        # Signed, but the platform, asked by the dossier, says the request is unpaid: refused, and on the timeline.
        unpaid = sent(confirmation)
        assert unpaid.status_code == 409 and "not paid" in unpaid.json()["detail"], unpaid.text
        refused = wait_until(
            lambda: [e for e in _timeline(api, dossier, "message_refused") if e["summary"].startswith("Update 'pay'")],
            what="the refusal on the timeline",
        )
        assert len(refused) == 1 and "pending" in refused[0]["summary"]
        assert not _timeline(api, dossier, "fee_paid")

        paid = pay_on_the_platform(request["pay_url"], deliver=False)
        accepted = sent(confirmation)
        assert accepted.status_code == 200, accepted.text
        assert "payment" not in accepted.json()["active_step_ids"]
        again = sent(confirmation)  # the platform sends it again: already recorded, nothing changes
        assert again.status_code == 200, again.text
        assert again.json()["step_id"] == "payment" and "payment" not in again.json()["active_step_ids"]
    wait_for_step(api, dossier, "approval")
    [event] = _timeline(api, dossier, "fee_paid")
    assert f"(transaction {paid['transaction_id']}," in event["summary"]  # the platform's word, not the message's


def test_a_lost_confirmation_is_made_up_for_by_the_status_check(api, simulator, stack: Stack) -> None:
    dossier, _, request, _ = _at_the_fee(api)
    assert pay_on_the_platform(request["pay_url"], deliver=False)["confirmation"] == "lost"
    view = wait_for_step(api, dossier, "approval", timeout=60)  # the check comes every few seconds in the suite
    assert view["fees_paid_vnd"] == AMOUNT
    event = _timeline(api, dossier, "fee_paid")[-1]
    assert event["summary"].endswith("by status_check)"), event["summary"]
    assert _status_checks(simulator, dossier)
    # The confirmation arrives after all (the platform's retry): the payment is recorded already, so 200, no change.
    [lost] = [c["body"] for c in simulator.get("/_sim/calls", params={"system": "payment_platform"}).json()
              if c["operation"] == "lost_confirmation" and c["dossier_code"] == dossier]  # fmt: skip
    late = _confirmed(stack, dossier, lost)
    assert late.status_code == 200, late.text
    assert late.json()["step_id"] == "payment" and "approval" in late.json()["active_step_ids"]
    assert len(_timeline(api, dossier, "fee_paid")) == 1
    assert not [e for e in _timeline(api, dossier, "message_refused") if "'pay'" in e["summary"]]


def test_an_unpaid_request_expires_and_the_dossier_stops(api, simulator) -> None:
    dossier, _, request, _ = _at_the_fee(api, pay_within_hours=0.003)  # about 11 seconds
    view = wait_for_status(api, dossier, 8, finished=True, timeout=60)
    assert view["outcome"] == "stopped" and "not paid within" in view["outcome_reason"]
    expired = _timeline(api, dossier, "fee_expired")
    assert len(expired) == 1 and request["payment_id"] in expired[0]["summary"]
    assert view["fees_paid_vnd"] == 0 and view["fee_request"] is None
    # The platform says so, and takes no payment past the request's expiry.
    assert _held(simulator, dossier) == [(request["payment_id"], "expired")]
    assert httpx.post(request["pay_url"], timeout=30).status_code == 409


def test_a_platform_whose_clock_is_behind_is_waited_for_past_the_expiry(api, simulator) -> None:
    """Past `pay_within_hours` the platform still says "pending" (its clock is behind): the dossier waits, asking
    less and less often (never every second), and stops once the platform says "expired"."""
    assert simulator.put("/_sim/payment-platform/clock", json={"behind_seconds": 3600}).status_code == 200
    try:
        dossier, _, request, _ = _at_the_fee(api, pay_within_hours=0.003)  # about 11 seconds
        expires = datetime.fromisoformat(request["expires_at"])
        wait_until(lambda: datetime.now(UTC) > expires + timedelta(seconds=8), timeout=60, what="past the expiry")
        view = api.get(f"/dossiers/{dossier}").json()
        assert view["status"] == 6 and view["fee_request"]["payment_id"] == request["payment_id"], view["status"]
        assert not _timeline(api, dossier, "fee_expired")
        checks = _status_checks(simulator, dossier)
        assert 2 <= len(checks) <= 4, [c["at"] for c in checks]  # at 4 s, at the expiry, then 16 s later
    finally:
        simulator.put("/_sim/payment-platform/clock", json={"behind_seconds": 0})
    view = wait_for_status(api, dossier, 8, finished=True, timeout=90)
    assert "not paid within" in view["outcome_reason"]
    assert _timeline(api, dossier, "fee_expired")[0]["summary"].endswith("expired unpaid after 0.003 h")


def test_a_request_the_platform_no_longer_knows_stops_the_dossier(api, simulator) -> None:
    dossier, _, request, _ = _at_the_fee(api)
    assert simulator.delete(f"/_sim/payment-platform/payments/{request['payment_id']}").status_code == 200
    view = wait_for_status(api, dossier, 8, finished=True, timeout=60)  # the status check's 404
    assert view["outcome"] == "stopped" and "is not_found" in view["outcome_reason"], view["outcome_reason"]
    [ended] = _timeline(api, dossier, "fee_expired")
    assert ended["summary"].endswith("is not_found on the payment platform, unpaid")
    assert "không còn" in ended["text"], ended["text"]  # in either wording, the applicant's or the officers'


@pytest.mark.parametrize("ending", ["rejected", "withdrawn"])
def test_a_dossier_that_does_not_complete_after_payment_is_refunded(api, simulator, ending: str) -> None:
    dossier, unit, request, secret = _at_the_fee(api)
    pay_on_the_platform(request["pay_url"])
    wait_for_step(api, dossier, "approval")
    if ending == "rejected":
        decide(api, dossier, "approval", unit, "reject", reason="Hồ sơ không đủ điều kiện")
    else:
        withdrawn = api.post(f"/dossiers/{dossier}/withdrawal", json={"reason": "Không còn nhu cầu"},
                             headers={"X-Lookup-Secret": secret})  # fmt: skip
        assert withdrawn.status_code == 200, withdrawn.text
    view = wait_until(lambda: (v := api.get(f"/dossiers/{dossier}").json())["completed_at"] and v, what="the end")
    assert view["outcome"] == ("stopped" if ending == "rejected" else "withdrawn")  # rejected past reception: stopped
    assert view["fees_paid_vnd"] == AMOUNT and view["fees_refunded_vnd"] == AMOUNT
    refunded = _timeline(api, dossier, "fee_refunded")
    assert len(refunded) == 1 and f"(payment {request['payment_id']}, refund HT-" in refunded[0]["summary"]
    held = simulator.get("/_sim/payment-platform/payments", params={"dossier_code": dossier}).json()
    assert [(p["payment_id"], p["status"]) for p in held] == [(request["payment_id"], "refunded")]


def test_a_completed_dossier_keeps_its_fee(api, simulator) -> None:
    dossier, unit, request, _ = _at_the_fee(api)
    pay_on_the_platform(request["pay_url"])
    decide(api, dossier, "approval", unit)
    view = wait_for_status(api, dossier, 10, finished=True)
    assert view["fees_paid_vnd"] == AMOUNT and view["fees_refunded_vnd"] == 0
    assert not _timeline(api, dossier, "fee_refunded")
    held = simulator.get("/_sim/payment-platform/payments", params={"dossier_code": dossier}).json()
    assert [p["status"] for p in held] == ["paid"]


def test_a_payment_platform_that_is_down_makes_the_fee_step_wait(api, simulator) -> None:
    assert simulator.put("/_sim/faults/payment_platform", json={"down_for_seconds": 4}).status_code == 200
    try:
        dossier, _, request, _ = _at_the_fee(api)  # asked again until the platform is back, once
    finally:
        simulator.delete("/_sim/faults")
    calls = [c for c in simulator.get("/_sim/calls", params={"system": "payment_platform"}).json()
             if c["operation"] == "request" and c["dossier_code"] == dossier]  # fmt: skip
    assert "down" in [c["outcome"] for c in calls] and [c["outcome"] for c in calls][-1] == "applied"
    held = simulator.get("/_sim/payment-platform/payments", params={"dossier_code": dossier}).json()
    assert [p["payment_id"] for p in held] == [request["payment_id"]]
    pay_on_the_platform(request["pay_url"])
    wait_for_step(api, dossier, "approval")


def test_a_dossier_that_ends_while_its_fee_waits_cancels_the_request(api, stack: Stack, simulator) -> None:
    dossier, _, request, secret = _at_the_fee(api)
    withdrawn = api.post(f"/dossiers/{dossier}/withdrawal", json={"reason": "Không còn nhu cầu"},
                         headers={"X-Lookup-Secret": secret})  # fmt: skip
    assert withdrawn.status_code == 200, withdrawn.text
    view = wait_for_status(api, dossier, 7, finished=True)
    assert view["fees_paid_vnd"] == 0 and view["fees_refunded_vnd"] == 0
    [cancelled] = _timeline(api, dossier, "fee_cancelled")
    assert request["payment_id"] in cancelled["summary"] and "huỷ" in cancelled["text"]
    kinds = [e["kind"] for e in api.get(f"/dossiers/{dossier}").json()["timeline"]]
    assert kinds.index("fee_cancelled") < kinds.index("finished")
    # The applicant can no longer pay it; a confirmation of it (the platform's mistake) is told so, clearly.
    assert _held(simulator, dossier) == [(request["payment_id"], "cancelled")]
    assert httpx.post(request["pay_url"], timeout=30).status_code == 409
    late = _confirmed(stack, dossier, {
        "payment_id": request["payment_id"], "dossier_code": dossier, "reference": f"{dossier}:payment:1",
        "amount_vnd": AMOUNT, "status": "paid", "transaction_id": "GD-LATE-1", "channel": "card"})  # fmt: skip
    assert late.status_code == 409 and "was cancelled" in late.json()["detail"] and "refund" in late.json()["detail"]
    assert not _timeline(api, dossier, "fee_paid")


def test_a_payment_that_crosses_the_end_of_the_dossier_is_refunded(api, simulator) -> None:
    """The applicant pays just as the dossier ends, before any confirmation or status check reaches it: the request's
    cancellation answers "paid", so the payment is recorded and refunded."""
    dossier, _, request, secret = _at_the_fee(api)
    # motcua's calls to the platform fail for a few seconds (no status check finds the payment); the applicant pays.
    assert simulator.put("/_sim/faults/payment_platform", json={"down_for_seconds": 5}).status_code == 200
    try:
        pay_on_the_platform(request["pay_url"], deliver=False)
        withdrawn = api.post(f"/dossiers/{dossier}/withdrawal", json={"reason": "Không còn nhu cầu"},
                             headers={"X-Lookup-Secret": secret})  # fmt: skip
        assert withdrawn.status_code == 200, withdrawn.text
    finally:
        simulator.delete("/_sim/faults")
    view = wait_for_status(api, dossier, 7, finished=True)
    assert view["fees_paid_vnd"] == AMOUNT and view["fees_refunded_vnd"] == AMOUNT
    assert len(_timeline(api, dossier, "fee_paid")) == 1 and len(_timeline(api, dossier, "fee_refunded")) == 1
    assert _held(simulator, dossier) == [(request["payment_id"], "refunded")]


def test_a_pay_sent_straight_to_temporal_is_taken_only_once_the_platform_confirms_it(api, stack: Stack) -> None:
    """The request's id is no secret (the applicant sees it): a `pay` naming it, sent as an Update or a Signal past
    the API that verifies the platform's signature, is refused while the platform says the request is unpaid."""
    dossier, _, request, _ = _at_the_fee(api)
    forged = {"step_id": "payment", "amount_vnd": AMOUNT, "receipt_reference": "GD-FORGED-1",
              "payment_id": request["payment_id"], "transaction_id": "GD-FORGED-1"}  # fmt: skip

    async def update(client: Client) -> None:
        await client.get_workflow_handle(dossier).execute_update("pay", forged)

    async def signal(client: Client) -> None:
        await client.get_workflow_handle(dossier).signal("pay", forged)

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        with_temporal(stack, update)
    assert "not paid" in str(refused.value.cause)
    with_temporal(stack, signal)

    def refusals() -> list[dict[str, Any]]:
        found = [e for e in _timeline(api, dossier, "message_refused") if "'pay'" in e["summary"]]
        return found if len(found) == 2 else []

    entries = wait_until(refusals, what="both refusals on the timeline")
    assert sorted(e["summary"].split(" ")[0] for e in entries) == ["Signal", "Update"]
    assert all(f"request {request['payment_id']} is pending, not paid" in e["summary"] for e in entries)
    view = api.get(f"/dossiers/{dossier}").json()
    assert view["status"] == 6 and view["fees_paid_vnd"] == 0 and not _timeline(api, dossier, "fee_paid")
    # Paid on the platform, the step goes on as usual.
    paid = pay_on_the_platform(request["pay_url"])
    wait_for_step(api, dossier, "approval")
    [event] = _timeline(api, dossier, "fee_paid")
    assert f"(transaction {paid['transaction_id']}, by callback)" in event["summary"]
