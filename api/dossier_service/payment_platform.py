"""The national payment platform's confirmations: checked here, then relayed to the dossier's workflow as the `pay`
Update naming the platform's request (workflow revision 5).

The platform signs each confirmation with HMAC-SHA256 under the secret motcua shares with it
(PAYMENT_PLATFORM_SECRET): `X-Payment-Signature: sha256=<hex digest of the request body's exact bytes>`. The body is
the platform's canonical JSON (keys sorted, no spaces, UTF-8), but motcua verifies the bytes it received, so no
re-encoding can make a forged body pass. A confirmation is trusted only once its signature verifies; nothing it
says is looked at before."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Annotated, Literal

from fastapi import HTTPException, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import Session, col, select
from temporalio.client import Client

from api.dossier_service.messages import relay
from api.errors import field_error, unprocessable
from domain.dossier import ActorRef, MessageAccepted, PaymentSubmission, PortalStatus
from infrastructure.settings import Settings
from readmodel import dossiers
from readmodel.db import release
from readmodel.tables import DossierEventRow
from workflows.contract import DossierUpdate

SIGNATURE_HEADER = "X-Payment-Signature"
SIGNATURE_PREFIX = "sha256="
PLATFORM = ActorRef(kind="system", actor_id="payment_platform", channel="payment_platform")


class PlatformConfirmation(BaseModel):
    """What the platform says of a payment it collected for motcua."""

    model_config = ConfigDict(extra="ignore")  # the platform may add fields; the signature covers them all

    payment_id: Annotated[str, Field(min_length=1, max_length=100)]
    dossier_code: Annotated[str, Field(min_length=1, max_length=100)]
    reference: Annotated[str, Field(min_length=1, max_length=300)]
    amount_vnd: Annotated[int, Field(ge=0)]
    status: Literal["paid"]
    transaction_id: Annotated[str, Field(min_length=1, max_length=100)]
    channel: Annotated[str, Field(max_length=40)] | None = None
    paid_at: datetime | None = None


def signature(secret: str, body: bytes) -> str:
    """The signature header's value for a body (the platform's side; the simulator and the tests use it too)."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def canonical(payload: dict) -> bytes:
    """The platform's canonical JSON: what it signs and sends."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def verify(settings: Settings, body: bytes, signed: str | None) -> None:
    """401 unless the body carries a valid signature under the shared secret (constant-time comparison)."""
    secret = settings.payment_platform_secret
    if secret is None or not secret.get_secret_value():
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "payment confirmations are not taken here (no secret set)")
    if not signed:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"a payment confirmation is signed ({SIGNATURE_HEADER})")
    if not hmac.compare_digest(signature(secret.get_secret_value(), body).encode(), signed.strip().encode()):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "the payment confirmation's signature does not verify")


def read(body: bytes) -> PlatformConfirmation:
    """The confirmation, or 422 with the field at fault."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise field_error(["body"], "a payment confirmation is a JSON object", "json_invalid") from None
    try:
        return PlatformConfirmation.model_validate(payload)
    except ValidationError as exc:
        raise unprocessable(
            [{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors(include_url=False)]
        ) from None


async def confirm(
    session: Session, client: Client, settings: Settings, code: str, body: bytes, signed: str | None
) -> MessageAccepted:
    """A verified confirmation, correlated with the dossier and the payment request its fee step awaits: 404 for a
    dossier that does not exist, 422 for an amount other than the one asked, 409 for another request or one the
    dossier cancelled when it ended (the platform refunds what it took for it). A confirmation of a payment the
    dossier has already recorded (the status check found it first, or the platform sends it again) answers 200 and
    changes nothing."""
    verify(settings, body, signed)
    confirmation = read(body)
    if confirmation.dossier_code != code:
        raise field_error(["body", "dossier_code"], f"the confirmation is for {confirmation.dossier_code}, not {code}")
    row = dossiers.read_only(session.connection(), code)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no dossier {code}")
    due = row.fee_request or {}
    if due.get("payment_id") != confirmation.payment_id:
        return _settled(session, code, confirmation.payment_id, due.get("payment_id"))
    if confirmation.amount_vnd != due.get("amount_vnd"):
        raise field_error(["body", "amount_vnd"], f"the amount due is {due.get('amount_vnd')} VND")
    payment = PaymentSubmission(
        step_id=due["step_id"],
        amount_vnd=confirmation.amount_vnd,
        receipt_reference=confirmation.transaction_id,
        by=PLATFORM,
        payment_id=confirmation.payment_id,
        transaction_id=confirmation.transaction_id,
        channel=confirmation.channel,
    )
    try:
        return await relay(session, client, settings, code, DossierUpdate.pay, payment)
    except HTTPException as refused:
        if refused.status_code != status.HTTP_409_CONFLICT:
            raise
        # The status check may have applied the payment meanwhile, or the dossier ended and cancelled the request.
        try:
            return _settled(session, code, confirmation.payment_id, None, refused.detail)
        finally:
            release(session)


def _settled(
    session: Session, code: str, payment_id: str, awaited: str | None, refusal: str | None = None
) -> MessageAccepted:
    """The answer to a confirmation of a request the dossier does not await now: 200 (nothing changes) when the
    dossier has recorded it paid; 409 saying so when the dossier ended with it unpaid (cancelled or expired: the
    platform must refund whatever it took for it), or awaits another request, or none."""
    events = session.exec(
        select(DossierEventRow).where(
            DossierEventRow.dossier_code == code,
            col(DossierEventRow.kind).in_(("fee_requested", "fee_paid", "fee_cancelled", "fee_expired")),
        )
    ).all()
    naming = {event.kind for event in events if (event.detail or {}).get("payment_id") == payment_id}
    row = dossiers.read_only(session.connection(), code)
    assert row is not None
    if "fee_paid" in naming:
        paid = next(e for e in events if e.kind == "fee_paid" and (e.detail or {}).get("payment_id") == payment_id)
        return MessageAccepted(
            dossier_code=code,
            step_id=paid.step_id or "",
            status=PortalStatus(row.status),
            active_step_ids=[step["step_id"] for step in row.active_steps],
        )
    if "fee_requested" in naming and (row.completed_at is not None or naming & {"fee_cancelled", "fee_expired"}):
        ended = "was cancelled" if "fee_cancelled" in naming else "expired" if "fee_expired" in naming else "ended"
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"payment request {payment_id} {ended} unpaid when dossier {code}'s processing ended; the dossier takes "
            "no payment for it: the payment platform must refund what it collected",
        )
    if refusal is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, refusal)
    if not awaited:
        raise HTTPException(status.HTTP_409_CONFLICT, f"dossier {code} awaits no payment through the platform")
    raise HTTPException(status.HTTP_409_CONFLICT, f"dossier {code} awaits payment request {awaited}, not {payment_id}")
