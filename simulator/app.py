"""Agency simulator: stands in for the national portal, the population database, specialised systems and
the electronic result store.

It speaks the HTTP contracts motcua's adapters use, honours an Idempotency-Key on every write
(a repeated key returns the first answer and has no second effect), records every call so tests
can prove "nothing lost, nothing twice", and takes injected faults per system: an error rate,
an answer lost after the write was applied, added latency, a full outage for N seconds, or business
refusals. It also plays the portal's side of inbound dossiers (`/_sim/portal/push`) and the national payment platform
(simulator/payment_platform.py).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import os
import random
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
from fastapi import FastAPI, Header, HTTPException, Path, Query, Response
from prometheus_fastapi_instrumentator import Instrumentator
from pydantic import BaseModel, Field

from simulator import payment_platform

SYSTEM_NAME = r"^[a-z][a-z0-9_]{0,62}$"


class Fault(BaseModel):
    error_rate: Annotated[float, Field(ge=0, le=1)] = 0.0
    # The write is applied, then its answer is lost (502): only an idempotency key keeps the retry harmless.
    lost_answer_rate: Annotated[float, Field(ge=0, le=1)] = 0.0
    latency_ms: Annotated[int, Field(ge=0, le=60_000)] = 0
    down_for_seconds: Annotated[float, Field(ge=0, le=86_400)] = 0
    refuse: bool = False


class LaterAnswers(BaseModel):
    """How an agency asked to answer later (a call carrying `answer_to`) does: after a delay, or held until
    released (POST /_sim/later-answers/release), answering or refusing."""

    delay_seconds: Annotated[float, Field(ge=0, le=3600)] = 0.3
    hold: bool = False
    refuse: bool = False


class RecordedCall(BaseModel):
    system: str
    operation: str
    idempotency_key: str | None
    dossier_code: str | None
    at: datetime
    outcome: str  # applied | duplicate | failed | down | refused
    answer_lost: bool = False  # applied, but the caller never heard it
    body: dict[str, Any] = Field(default_factory=dict)


class _State:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.calls: list[RecordedCall] = []
        self.answers: dict[tuple[str, str], dict[str, Any]] = {}
        self.faults: dict[str, Fault] = {}
        self.down_until: dict[str, float] = {}
        self.portal: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.references = 0
        self.assessment_vnd = 250_000
        self.random = random.Random(20250701)
        self.results: dict[str, dict[str, Any]] = {}  # the result store: result id → deposit
        self.result_contents: dict[str, bytes] = {}
        self.pushed: dict[str, dict[str, Any]] = {}  # portal reference → the receipt motcua answered
        # Agencies that answer later: how they answer, and the answers held back until released.
        self.later = LaterAnswers()
        self.held: list[dict[str, Any]] = []


state = _State()
app = FastAPI(title="motcua agency simulator", version="0.1.0")
# What each simulated system was asked and answered, per route and status, for the operators' dashboards in tests.
Instrumentator(excluded_handlers=["/metrics", "/health"]).instrument(app).expose(app, include_in_schema=False)


async def _gate(system: str, operation: str, key: str | None, body: dict[str, Any]) -> dict[str, Any] | None:
    """Apply injected faults and idempotency; return the earlier answer for a repeated key."""
    fault = state.faults.get(system, Fault())
    if fault.latency_ms:
        await asyncio.sleep(fault.latency_ms / 1000)
    record = RecordedCall(
        system=system,
        operation=operation,
        idempotency_key=key,
        dossier_code=body.get("dossier_code"),
        at=datetime.now(UTC),
        outcome="applied",
        body=body,
    )
    if time.monotonic() < state.down_until.get(system, 0):
        record.outcome = "down"
        state.calls.append(record)
        raise HTTPException(503, f"{system} is down")
    if fault.error_rate and state.random.random() < fault.error_rate:
        record.outcome = "failed"
        state.calls.append(record)
        raise HTTPException(500, f"{system} failed (injected)")
    if key is not None and (system, key) in state.answers:
        record.outcome = "duplicate"
        state.calls.append(record)
        return state.answers[(system, key)]
    if fault.refuse:
        record.outcome = "refused"
        state.calls.append(record)
        raise HTTPException(422, f"{system} refuses {operation} for this dossier")
    state.calls.append(record)
    return None


def _remember(system: str, key: str | None, answer: dict[str, Any]) -> dict[str, Any]:
    if key is not None:
        state.answers[(system, key)] = answer
    fault = state.faults.get(system)
    if fault and fault.lost_answer_rate and state.random.random() < fault.lost_answer_rate:
        state.calls[-1].answer_lost = True  # the call just gated: no await since, so it is the last one
        raise HTTPException(502, f"{system} applied the call but its answer was lost (injected)")
    return answer


IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=300)]


@app.post("/portal/dossiers/{dossier_code}/statuses")
async def portal_status(
    dossier_code: Annotated[str, Path(max_length=100)],
    body: dict[str, Any],
    idempotency_key: IdempotencyKey = None,
    request_id: Annotated[str | None, Header(alias="X-Request-ID", max_length=100)] = None,
) -> dict[str, Any]:
    """National portal: a dossier's status change (codes 1–10)."""
    body = {**body, "dossier_code": dossier_code}
    earlier = await _gate("portal", "status", idempotency_key, body)
    if earlier is not None:
        return earlier
    status = body.get("status")
    if not isinstance(status, int) or not 1 <= status <= 10:
        state.calls[-1].outcome = "refused"
        raise HTTPException(422, "status must be a code from 1 to 10")
    state.portal[dossier_code].append({**body, "request_id": request_id})
    return _remember("portal", idempotency_key, {"accepted": True, "position": len(state.portal[dossier_code])})


@app.get("/portal/dossiers/{dossier_code}")
def portal_view(dossier_code: str) -> dict[str, Any]:
    """What the portal knows of a dossier: every status it received, in order of arrival."""
    statuses = state.portal.get(dossier_code)
    if not statuses:
        raise HTTPException(404, "the portal has no such dossier")
    return {"dossier_code": dossier_code, "statuses": statuses, "current": statuses[-1]["status"]}


_FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"]
_GIVEN = ["An", "Bình", "Chi", "Dũng", "Hà", "Hùng", "Lan", "Minh", "Ngọc", "Phương", "Quân", "Thảo"]


@app.get("/population/citizens/{citizen_id}")
async def population_lookup(citizen_id: Annotated[str, Path(pattern=r"^\d{12}$")]) -> dict[str, Any]:
    """Population database: a citizen by 12-digit ID (IDs starting 999 are not on record)."""
    await _gate("population", "lookup", None, {"citizen_id": citizen_id})
    if citizen_id.startswith("999"):
        raise HTTPException(404, "no citizen with this ID")
    digest = hashlib.sha256(citizen_id.encode()).digest()
    return {
        "citizen_id": citizen_id,
        "full_name": f"{_FAMILY[digest[0] % len(_FAMILY)]} Văn {_GIVEN[digest[1] % len(_GIVEN)]}",
        "date_of_birth": f"{1950 + digest[2] % 55}-{1 + digest[3] % 12:02d}-{1 + digest[4] % 28:02d}",
        "sex": "male" if digest[5] % 2 else "female",
        "permanent_address": {"province_code": "79", "ward_code": f"{26000 + digest[6]}"},
    }


@app.post("/systems/{system}/{operation}")
async def system_call(
    system: Annotated[str, Path(pattern=SYSTEM_NAME)],
    operation: Annotated[str, Path(pattern=SYSTEM_NAME)],
    body: dict[str, Any],
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """A ministry, province or ward specialised system (civil status, tax, land registry, …)."""
    earlier = await _gate(system, operation, idempotency_key, body)
    if earlier is not None:
        return earlier
    state.references += 1
    reference = f"{system.upper()}-{state.references:08d}"
    data: dict[str, Any] = {"operation": operation, "done": True}
    if operation.startswith("assess"):
        # A financial obligation assessed by the tax authority (registration fee), realistic in size.
        data["amount_vnd"] = state.assessment_vnd
    if operation == "register_birth":
        # Registering a birth gives the child a personal identification number (national population database).
        data["personal_id"] = f"079{state.references:09d}"
    if isinstance(body.get("answer_to"), str) and isinstance(body.get("call_id"), str):
        # An agency that answers later: it acknowledges now, and sends its answer to motcua afterwards.
        answer = {"step_id": str(body["call_id"]).split(":")[-2], "call_id": body["call_id"], "reference": reference,
                  "outcome": "refused" if state.later.refuse else "answered", "data": data}  # fmt: skip
        if state.later.refuse:
            answer["reason"] = f"{system} cannot settle this case"
        pending = {"url": body["answer_to"], "answer": answer}
        if state.later.hold:
            state.held.append(pending)
        else:
            asyncio.get_running_loop().create_task(_answer_later(pending, state.later.delay_seconds))
        return _remember(system, idempotency_key, {"reference": reference, "acknowledged": True, "data": {}})
    return _remember(system, idempotency_key, {"reference": reference, "data": data})


async def _answer_later(pending: dict[str, Any], delay_seconds: float) -> None:
    await asyncio.sleep(delay_seconds)
    key = os.environ.get("AGENCY_CALLBACK_KEY", "")
    for attempt in range(20):  # the agency retries until motcua hears it (a 409 is an answer too)
        try:
            async with httpx.AsyncClient(timeout=30) as http:
                answered = await http.post(pending["url"], json=pending["answer"], headers={"X-Agency-Key": key})
            state.calls.append(
                RecordedCall(system="later-answers", operation="answer", idempotency_key=pending["answer"]["call_id"],
                             dossier_code=None, at=datetime.now(UTC), outcome=str(answered.status_code),
                             body=pending["answer"])
            )  # fmt: skip
            if answered.status_code < 500:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(min(2**attempt * 0.2, 10))


def _record_payment_platform(operation: str, key: str | None, dossier_code: str | None, outcome: str,
                             body: dict[str, Any]) -> None:  # fmt: skip
    state.calls.append(RecordedCall(system="payment_platform", operation=operation, idempotency_key=key,
                                    dossier_code=dossier_code, at=datetime.now(UTC), outcome=outcome, body=body))  # fmt: skip


# The national payment platform: payment requests, the pay page, signed confirmations, status checks and refunds.
app.include_router(payment_platform.router(_gate, _remember, _record_payment_platform))


@app.put("/_sim/later-answers")
def set_later_answers(later: LaterAnswers) -> LaterAnswers:
    state.later = later
    return later


@app.post("/_sim/later-answers/release")
async def release_later_answers() -> dict[str, int]:
    """Send every answer held back, now."""
    held, state.held = state.held, []
    for pending in held:
        asyncio.get_running_loop().create_task(_answer_later(pending, 0))
    return {"released": len(held)}


class ResultDeposit(BaseModel):
    result_id: Annotated[str, Field(min_length=1, max_length=40)]
    dossier_code: Annotated[str, Field(min_length=1, max_length=100)]
    document_id: Annotated[str, Field(min_length=1, max_length=63)]
    name: str
    issuer_unit: str
    signer: str | None = None
    issued_at: datetime
    media_type: str = "application/pdf"
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    signature: str
    signature_algorithm: str
    signed_manifest: str
    certificate_chain_pem: str
    content_base64: Annotated[str, Field(max_length=30_000_000)]


@app.post("/result-store/results")
async def deposit_result(deposit: ResultDeposit, idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Electronic result store (kho kết quả điện tử): keep one signed result; the key makes a repeat harmless."""
    recorded = deposit.model_dump(mode="json", exclude={"content_base64"})
    recorded["content_bytes"] = len(deposit.content_base64) * 3 // 4
    earlier = await _gate("result_store", "deposit", idempotency_key, recorded)
    if earlier is not None:
        return earlier
    try:
        content = base64.b64decode(deposit.content_base64, validate=True)
    except (binascii.Error, ValueError):
        content = b""
    problem = None
    if idempotency_key is None:
        problem = "a deposit carries an Idempotency-Key"
    elif hashlib.sha256(content).hexdigest() != deposit.sha256:
        problem = "the content does not match its sha256"
    if problem:
        state.calls[-1].outcome = "refused"
        raise HTTPException(422, problem)
    state.references += 1
    reference = f"KKQ-{state.references:08d}"
    state.results[deposit.result_id] = {**recorded, "reference": reference, "deposited_at": datetime.now(UTC)}
    state.result_contents[deposit.result_id] = content
    return _remember("result_store", idempotency_key, {"reference": reference, "result_id": deposit.result_id})


@app.get("/result-store/results")
def stored_results(dossier_code: Annotated[str | None, Query(max_length=100)] = None) -> list[dict[str, Any]]:
    """The deposits the store keeps (one per result), optionally of one dossier."""
    return [r for r in state.results.values() if dossier_code is None or r["dossier_code"] == dossier_code]


@app.get("/result-store/results/{result_id}")
def stored_result(result_id: Annotated[str, Path(max_length=40)]) -> dict[str, Any]:
    if result_id not in state.results:
        raise HTTPException(404, "the result store has no such result")
    return state.results[result_id]


@app.get("/result-store/results/{result_id}/content")
def stored_result_content(result_id: Annotated[str, Path(max_length=40)]) -> Response:
    if result_id not in state.result_contents:
        raise HTTPException(404, "the result store has no such result")
    return Response(state.result_contents[result_id], media_type=state.results[result_id]["media_type"])


# ------------------------------------------------------------------------- control plane


class PortalPush(BaseModel):
    """Make the portal push a dossier submitted there to motcua (the portal's side of the contract)."""

    target_url: Annotated[str, Field(pattern=r"^https?://", max_length=500)]  # motcua's POST /portal/dossiers
    portal_reference: Annotated[str, Field(min_length=1, max_length=80)]
    procedure_code: str
    applicant: dict[str, Any]
    form: dict[str, Any]
    receiving_unit: str | None = None
    api_key: str | None = None  # default: PORTAL_API_KEY from the simulator's environment


@app.post("/_sim/portal/push")
async def portal_push(push: PortalPush) -> dict[str, Any]:
    key = push.api_key if push.api_key is not None else os.environ.get("PORTAL_API_KEY")
    body = push.model_dump(exclude={"target_url", "api_key"}, exclude_none=True)
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(push.target_url, json=body, headers={"X-Portal-Key": key} if key else {})
    except httpx.HTTPError as exc:
        raise HTTPException(502, f"motcua did not answer the push: {exc}") from exc
    try:
        answer: Any = response.json()
    except ValueError:
        answer = response.text
    dossier_code = answer.get("dossier_code") if isinstance(answer, dict) else None
    state.calls.append(
        RecordedCall(
            system="portal",
            operation="push_dossier",
            idempotency_key=push.portal_reference,
            dossier_code=dossier_code,
            at=datetime.now(UTC),
            outcome="applied" if response.is_success else "refused",
            body={"status_code": response.status_code, "portal_reference": push.portal_reference},
        )
    )
    if response.is_success and dossier_code:
        state.pushed[push.portal_reference] = answer
    return {"status_code": response.status_code, "answer": answer}


@app.get("/_sim/portal/pushed/{portal_reference}")
def portal_pushed(portal_reference: Annotated[str, Path(max_length=80)]) -> dict[str, Any]:
    """A dossier the portal pushed: motcua's receipt, and every status motcua pushed back for it."""
    receipt = state.pushed.get(portal_reference)
    if receipt is None:
        raise HTTPException(404, "the portal pushed no such dossier")
    statuses = state.portal.get(receipt["dossier_code"], [])
    return {"portal_reference": portal_reference, "receipt": receipt, "statuses": [s["status"] for s in statuses]}


@app.get("/_sim/calls")
def recorded_calls(
    system: str | None = None,
    dossier_code: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> list[RecordedCall]:
    calls = [
        c
        for c in state.calls
        if (system is None or c.system == system) and (dossier_code is None or c.dossier_code == dossier_code)
    ]
    return calls[-limit:]


@app.put("/_sim/faults/{system}")
def set_fault(system: Annotated[str, Path(pattern=SYSTEM_NAME)], fault: Fault) -> Fault:
    state.faults[system] = fault
    if fault.down_for_seconds:
        state.down_until[system] = time.monotonic() + fault.down_for_seconds
    else:
        state.down_until.pop(system, None)
    return fault


@app.delete("/_sim/faults")
def clear_faults() -> dict[str, str]:
    state.faults.clear()
    state.down_until.clear()
    return {"status": "cleared"}


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
