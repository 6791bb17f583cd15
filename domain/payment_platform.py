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
    """The payment platform's answer about one request: created, checked, or refunded."""

    payment_id: str
    status: Literal["pending", "paid", "expired", "refunded"]
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
