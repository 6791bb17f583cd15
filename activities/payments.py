"""The adapter to the national payment platform (Cổng thanh toán quốc gia), over HTTP.

A fee step on workflow revision 5 asks the platform to collect the fee: the platform answers with its request's id
and the page where the applicant pays. The platform tells motcua of the payment with a signed callback
(api/routes/payment_platform.py); the workflow also asks for the request's status now and then, so that a lost
callback does not leave the dossier waiting (a request the platform answers 404 for is `PaymentNotFound`). A dossier
that ends while a request is open has it cancelled (the platform answers its status: "paid" when the payment came
first); one that does not complete has its platform payments refunded.

Writes carry an Idempotency-Key (the request's reference, the refund's) so a retried call never collects or refunds
twice; transport faults and 5xx are retried by Temporal (the dossier waits), a 4xx is the platform's refusal.
"""

from __future__ import annotations

import json
import logging

import aiohttp
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.agencies import AgencyUnavailable, post_idempotent
from domain.payment_platform import PaymentCancel, PaymentRefund, PaymentRequest, PaymentStatus

log = logging.getLogger(__name__)


class PaymentActivities:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        *,
        platform_base_url: str,
        public_base_url: str,
        status_check_seconds: float = 600.0,
    ) -> None:
        self._http = http
        self._check_every = status_check_seconds
        self._platform = platform_base_url.rstrip("/")
        # Where the platform sends its signed confirmations (/dossiers/{code}/payments/platform-confirmation) and
        # where it sends the applicant back after paying (the lookup page).
        self._public = public_base_url.rstrip("/")

    @activity.defn
    async def request_payment(self, request: PaymentRequest) -> PaymentStatus:
        """Ask the platform to collect a fee; the same reference answers the same request."""
        body = await post_idempotent(
            self._http,
            f"{self._platform}/payments",
            request.reference,
            {
                "dossier_code": request.dossier_code,
                "reference": request.reference,
                "amount_vnd": request.amount_vnd,
                "description": request.description or f"Phí, lệ phí hồ sơ {request.dossier_code}",
                "expires_at": request.expires_at.isoformat() if request.expires_at else None,
                "callback_url": f"{self._public}/dossiers/{request.dossier_code}/payments/platform-confirmation",
                "return_url": f"{self._public}/citizen/lookup",
            },
        )
        return _status(body).model_copy(update={"check_every_seconds": self._check_every})

    @activity.defn
    async def payment_status(self, payment_id: str) -> PaymentStatus:
        """The platform's word on one request (the fall-back for a lost callback)."""
        url = f"{self._platform}/payments/{payment_id}"
        try:
            async with self._http.get(url) as response:
                status, content = response.status, await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("GET %s failed: %s", url, str(exc) or type(exc).__name__)
            raise AgencyUnavailable(f"{url}: {type(exc).__name__}: {exc}") from exc
        if status >= 500 or status == 429:
            raise AgencyUnavailable(f"{url} answered {status}")
        if status == 404:  # the platform does not know the request (any more): it takes no payment for it
            raise ApplicationError(f"{url} answered 404", type="PaymentNotFound", non_retryable=True)
        if status >= 400:
            raise ApplicationError(f"{url} answered {status}", type="AgencyRefused", non_retryable=True)
        try:
            return _status(json.loads(content))
        except ValueError as exc:
            raise AgencyUnavailable(f"{url} answered {status} with a body that is not a payment's status") from exc

    @activity.defn
    async def cancel_payment(self, cancel: PaymentCancel) -> PaymentStatus:
        """Ask the platform to cancel an unpaid request, so it can no longer be paid; it answers the request's status
        ("cancelled", or "paid" when the applicant paid first). The payment's id is the cancel's idempotency key."""
        body = await post_idempotent(
            self._http,
            f"{self._platform}/payments/{cancel.payment_id}/cancel",
            f"{cancel.payment_id}:cancel",
            {"dossier_code": cancel.dossier_code, "reason": cancel.reason[:500]},
        )
        return _status(body)

    @activity.defn
    async def refund_payment(self, refund: PaymentRefund) -> PaymentStatus:
        """Ask the platform to refund a payment in full; the payment's id is the refund's idempotency key."""
        body = await post_idempotent(
            self._http,
            f"{self._platform}/payments/{refund.payment_id}/refunds",
            f"{refund.payment_id}:refund",
            {"dossier_code": refund.dossier_code, "amount_vnd": refund.amount_vnd, "reason": refund.reason[:500]},
        )
        return _status(body)


def _status(body: dict) -> PaymentStatus:
    try:
        return PaymentStatus.model_validate(body)
    except ValueError as exc:
        # A platform that took the call but answers with something else is broken for now: try again later.
        raise AgencyUnavailable(f"the payment platform answered {str(body)[:200]!r}") from exc
