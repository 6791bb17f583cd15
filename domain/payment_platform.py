"""What the workflow asks the payment platform (through its adapter) and what the platform answers."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel


class PaymentRequest(BaseModel):
    """What the payment platform is asked to collect for a fee step (activity input)."""

    dossier_code: str
    step_id: str
    reference: str  # ours, stable across retries: the platform's idempotency key
    amount_vnd: int
    description: str | None = None
    expires_at: datetime | None = None


class PaymentStatus(BaseModel):
    """The payment platform's answer about one request: created, checked, cancelled or refunded."""

    payment_id: str
    # "cancelled": motcua cancelled it when the dossier ended; "not_found": motcua's reading of a status check the
    # platform answers 404 (it does not know the request, or no longer: purged), never said by the platform itself.
    status: Literal["pending", "paid", "expired", "refunded", "cancelled", "not_found"]
    amount_vnd: int
    pay_url: str | None = None
    transaction_id: str | None = None
    channel: str | None = None
    refund_id: str | None = None
    # How often the workflow asks again while the request is unpaid (the worker's setting, recorded with the answer).
    check_every_seconds: float | None = None


class PaymentRefund(BaseModel):
    """A refund asked of the payment platform for a fee paid on a dossier that did not complete."""

    dossier_code: str
    payment_id: str
    amount_vnd: int
    reason: str


class PaymentCancel(BaseModel):
    """An unpaid request cancelled on the payment platform because its dossier ended (it can no longer be paid)."""

    dossier_code: str
    payment_id: str
    reason: str
