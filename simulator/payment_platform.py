"""The national payment platform (Cổng thanh toán quốc gia), as the simulator plays it.

motcua asks it to collect a fee (`POST /payment-platform/payments`, idempotent by key): it answers with its request's
id and the page where the applicant pays (`GET /payment-platform/pay/{id}`). Paying (`POST` to the same address; the
tests pay this way) marks the request paid and sends motcua a signed confirmation at the request's `callback_url`:
canonical JSON (keys sorted, no spaces, UTF-8), signed HMAC-SHA256 under PAYMENT_PLATFORM_SECRET in
`X-Payment-Signature: sha256=<hex>`, retried until motcua answers below 500. `deliver=false` pays but loses the
confirmation (motcua's status check must find the payment). It answers status checks
(`GET /payment-platform/payments/{id}`; "expired" once past its expiry), takes no payment past a request's expiry,
cancels an unpaid request (`POST /payment-platform/payments/{id}/cancel`, answering its status: "cancelled", or "paid"
when the applicant paid first) and refunds (`POST /payment-platform/payments/{id}/refunds`). Faults injected for the
system `payment_platform` apply to motcua's calls (requests, status checks, cancels, refunds), as for every other
system. The tests' controls: `PUT /_sim/payment-platform/clock` sets the platform's clock behind (its requests expire
that much later: it says "pending" past their expiry), `DELETE /_sim/payment-platform/payments/{id}` purges a request
(its status check then answers 404).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import json
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Header, HTTPException, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field

SYSTEM = "payment_platform"
PaymentId = Annotated[str, Path(pattern=r"^TT-\d{8}$")]

Gate = Callable[[str, str, str | None, dict[str, Any]], Awaitable[dict[str, Any] | None]]
Remember = Callable[[str, str | None, dict[str, Any]], dict[str, Any]]
Record = Callable[[str, str | None, str | None, str, dict[str, Any]], None]


class PaymentRequestIn(BaseModel):
    dossier_code: Annotated[str, Field(min_length=1, max_length=100)]
    reference: Annotated[str, Field(min_length=1, max_length=300)]
    amount_vnd: Annotated[int, Field(gt=0, le=10_000_000_000)]
    description: Annotated[str, Field(max_length=500)] | None = None
    expires_at: datetime | None = None
    callback_url: Annotated[str, Field(pattern=r"^https?://", max_length=500)]
    return_url: Annotated[str, Field(pattern=r"^https?://", max_length=500)] | None = None


class RefundIn(BaseModel):
    dossier_code: str | None = None
    amount_vnd: Annotated[int, Field(gt=0)]
    reason: Annotated[str, Field(max_length=500)] = ""


class CancelIn(BaseModel):
    dossier_code: str | None = None
    reason: Annotated[str, Field(max_length=500)] = ""


class Clock(BaseModel):
    behind_seconds: Annotated[float, Field(ge=0, le=86_400 * 30)] = 0.0


class _Payments:
    def __init__(self) -> None:
        self.by_id: dict[str, dict[str, Any]] = {}
        self.count = 0
        self.clock = Clock()

    def now(self) -> datetime:
        """The platform's clock: behind the real one by what the tests set."""
        return datetime.now(UTC) - timedelta(seconds=self.clock.behind_seconds)


payments = _Payments()


def sign(body: bytes) -> str:
    secret = os.environ.get("PAYMENT_PLATFORM_SECRET", "")
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _status(payment: dict[str, Any]) -> dict[str, Any]:
    expires = payment["expires_at"]
    if payment["status"] == "pending" and expires is not None and payments.now() >= expires:
        payment["status"] = "expired"
    shown = {k: payment[k] for k in ("payment_id", "status", "amount_vnd", "pay_url", "transaction_id", "channel",
                                     "refund_id", "dossier_code", "reference")}  # fmt: skip
    shown["expires_at"] = expires.isoformat() if expires else None
    return shown


def _payment(payment_id: str) -> dict[str, Any]:
    payment = payments.by_id.get(payment_id)
    if payment is None:
        raise HTTPException(404, "the payment platform has no such payment request")
    return payment


def router(gate: Gate, remember: Remember, record: Record) -> APIRouter:
    """The platform's routes, on the simulator's fault gate, idempotency memory and call log."""
    routes = APIRouter()

    @routes.post("/payment-platform/payments")
    async def request_payment(
        body: PaymentRequestIn, request: Request,
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=300)] = None,
    ) -> dict[str, Any]:  # fmt: skip
        """A payment request: the applicant pays `amount_vnd` at `pay_url` before `expires_at`."""
        earlier = await gate(SYSTEM, "request", idempotency_key, body.model_dump(mode="json"))
        if earlier is not None:
            return earlier
        payments.count += 1
        payment_id = f"TT-{payments.count:08d}"
        expires = body.expires_at
        if expires is not None:  # a time without its zone is UTC's
            expires = expires.astimezone(UTC) if expires.tzinfo else expires.replace(tzinfo=UTC)
        payments.by_id[payment_id] = {
            **body.model_dump(), "payment_id": payment_id, "status": "pending", "expires_at": expires,
            "pay_url": f"{str(request.base_url).rstrip('/')}/payment-platform/pay/{payment_id}",
            "transaction_id": None, "channel": None, "refund_id": None,
        }  # fmt: skip
        return remember(SYSTEM, idempotency_key, _status(payments.by_id[payment_id]))

    @routes.get("/payment-platform/payments/{payment_id}")
    async def payment_status(payment_id: PaymentId) -> dict[str, Any]:
        """The status check motcua falls back on when a confirmation is lost."""
        payment = _payment(payment_id)
        await gate(SYSTEM, "status", None, {"dossier_code": payment["dossier_code"], "payment_id": payment_id})
        return _status(payment)

    @routes.get("/payment-platform/pay/{payment_id}", response_class=HTMLResponse)
    def pay_page(payment_id: PaymentId) -> str:
        """The page the applicant pays on (a real platform offers banks, cards and wallets here)."""
        payment = _status(_payment(payment_id))
        return (
            "<!doctype html><html lang='vi'><meta charset='utf-8'><title>Cổng thanh toán quốc gia</title>"
            f"<h1>Thanh toán phí, lệ phí</h1><p>Hồ sơ {html.escape(payment['dossier_code'])}: "
            f"{payment['amount_vnd']:,} đồng ({html.escape(payment['status'])})</p>"
            f"<form method='post' action='/payment-platform/pay/{payment_id}?channel=bank_transfer'>"
            "<button type='submit'>Thanh toán</button></form></html>"
        )

    @routes.post("/payment-platform/pay/{payment_id}")
    async def pay(
        payment_id: PaymentId, request: Request,
        channel: Annotated[str, Query(max_length=40)] = "bank_transfer",
        deliver: bool = True,
    ) -> Response:  # fmt: skip
        """The applicant pays. The confirmation goes to motcua unless `deliver=false` (lost on the way)."""
        payment = _payment(payment_id)
        state = _status(payment)["status"]
        if state != "pending":
            raise HTTPException(409, f"this payment request is {state}")
        payments.count += 1
        payment.update(status="paid", channel=channel, transaction_id=f"GD-{payments.count:010d}",
                       paid_at=datetime.now(UTC))  # fmt: skip
        confirmation = {
            "payment_id": payment_id, "dossier_code": payment["dossier_code"], "reference": payment["reference"],
            "amount_vnd": payment["amount_vnd"], "status": "paid", "transaction_id": payment["transaction_id"],
            "channel": channel, "paid_at": payment["paid_at"].isoformat(),
        }  # fmt: skip
        if deliver:
            asyncio.get_running_loop().create_task(_confirm(payment["callback_url"], confirmation, record))
        else:
            record("lost_confirmation", payment_id, payment["dossier_code"], "lost", confirmation)
        if "text/html" in request.headers.get("accept", "") and payment.get("return_url"):
            return RedirectResponse(payment["return_url"], status_code=303)
        return Response(json.dumps({**_status(payment), "confirmation": "sent" if deliver else "lost"}),
                        media_type="application/json")  # fmt: skip

    @routes.post("/payment-platform/payments/{payment_id}/refunds")
    async def refund(
        payment_id: PaymentId, body: RefundIn,
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=300)] = None,
    ) -> dict[str, Any]:  # fmt: skip
        """A refund of a paid request, in full."""
        payment = _payment(payment_id)
        earlier = await gate(SYSTEM, "refund", idempotency_key, {**body.model_dump(), "payment_id": payment_id,
                                                                  "dossier_code": payment["dossier_code"]})  # fmt: skip
        if earlier is not None:
            return earlier
        if payment["status"] != "paid" or body.amount_vnd != payment["amount_vnd"]:
            raise HTTPException(409, f"payment {payment_id} is {payment['status']}; it refunds in full what was paid")
        payments.count += 1
        payment.update(status="refunded", refund_id=f"HT-{payments.count:010d}", refund_reason=body.reason)
        return remember(SYSTEM, idempotency_key, _status(payment))

    @routes.post("/payment-platform/payments/{payment_id}/cancel")
    async def cancel(
        payment_id: PaymentId, body: CancelIn,
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=300)] = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Cancel an unpaid request: it can no longer be paid. The answer is its status: "cancelled", or what it was
        already (paid, expired, refunded), so the caller learns of a payment that came first."""
        payment = _payment(payment_id)
        earlier = await gate(SYSTEM, "cancel", idempotency_key, {**body.model_dump(), "payment_id": payment_id,
                                                                  "dossier_code": payment["dossier_code"]})  # fmt: skip
        if earlier is not None:
            return earlier
        if _status(payment)["status"] == "pending":
            payment.update(status="cancelled", cancel_reason=body.reason)
        return remember(SYSTEM, idempotency_key, _status(payment))

    @routes.put("/_sim/payment-platform/clock")
    def set_clock(clock: Clock) -> Clock:
        """Set the platform's clock behind the real one (0: on time), for the tests."""
        payments.clock = clock
        return clock

    @routes.delete("/_sim/payment-platform/payments/{payment_id}")
    def purge(payment_id: PaymentId) -> dict[str, Any]:
        """The platform forgets a request (purged): its status check answers 404, for the tests."""
        return _status(payments.by_id.pop(payment_id, None) or _payment(payment_id))

    @routes.get("/_sim/payment-platform/payments")
    def requests_of(dossier_code: Annotated[str | None, Query(max_length=100)] = None) -> list[dict[str, Any]]:
        """The payment requests the platform holds (optionally of one dossier), for the tests."""
        return [_status(p) for p in payments.by_id.values() if dossier_code in (None, p["dossier_code"])]

    return routes


async def _confirm(url: str, confirmation: dict[str, Any], record: Record) -> None:
    body = json.dumps(confirmation, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "X-Payment-Signature": sign(body)}
    for attempt in range(20):  # the platform retries until motcua hears it (a 4xx is an answer too)
        try:
            async with httpx.AsyncClient(timeout=30) as http:
                answered = await http.post(url, content=body, headers=headers)
            record("confirm", confirmation["payment_id"], confirmation["dossier_code"], str(answered.status_code),
                   confirmation)  # fmt: skip
            if answered.status_code < 500:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(min(2**attempt * 0.2, 10))
