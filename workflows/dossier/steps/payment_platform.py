"""Fees paid through the national payment platform (revision 5): the fee step asks the platform to collect the fee, the
applicant pays on the platform's page, and the platform's signed confirmation (relayed by the API as a `pay` naming
the platform's request) moves the step on once the platform, asked by the workflow, says the request is paid. While it
waits, the step asks the platform for the request's status, every `check_every_seconds` at first and then less and
less often (so a dossier can wait months), and a lost confirmation still moves it on. The dossier stops for
non-payment only on the platform's word that the request takes no payment any more (expired, cancelled, unknown to
it). A dossier that ends while a request is open has it cancelled; one that does not complete has its platform
payments refunded."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.payments import PaymentActivities
    from domain.definition import Fee, Step
    from domain.dossier import ActorRef, DossierEvent, FeeRequest, PaymentSubmission, PortalStatus
    from domain.payment_platform import PaymentCancel, PaymentRefund, PaymentRequest, PaymentStatus
    from domain.timeline_messages import said

from workflows.dossier.progress import Refused
from workflows.dossier.retries import AGENCY_RETRY
from workflows.dossier.steps.base import StepFamily

PLATFORM = ActorRef(kind="system", actor_id="payment_platform", channel="payment_platform")
# The status check is a fall-back: a platform that does not answer in two minutes is asked again at the next check.
STATUS_CHECK_TIMEOUT = timedelta(minutes=2)
# An unpaid request's status is asked at `check_every_seconds` first, then twice as long after each check that finds
# it unpaid, up to this (or the check interval, if longer): at most a couple of dozen history events an hour.
LONGEST_CHECK_INTERVAL = timedelta(hours=1)
# What the platform says of a request that takes no payment any more: the dossier stops for non-payment.
NO_LONGER_PAYABLE = ("expired", "cancelled", "not_found")
# A `pay` the platform does not confirm is refused with this type (to the Update's sender, on the timeline).
NOT_CONFIRMED = "PaymentNotConfirmed"


class PlatformFees(StepFamily):
    async def paid_on_platform(self, step: Step, fee: Fee, amount: int) -> str | None:
        progress, mailbox, state = self.progress, self.mailbox, self.progress.state
        code = progress.input.dossier_code
        requested_at = workflow.now()
        expires_at = requested_at + timedelta(hours=fee.pay_within_hours) if fee.pay_within_hours else None
        request = PaymentRequest(
            dossier_code=code,
            step_id=step.id,
            reference=f"{code}:{step.id}:{progress.visits[step.id]}",  # stable across retries and replays
            amount_vnd=amount,
            description=fee.description,
            expires_at=expires_at,
        )
        created, refusal = await self._ask_platform(PaymentActivities.request_payment, request)
        if created is None:
            raise Refused(PortalStatus.stopped, "stopped", f"the payment platform refused the request: {refusal}")
        state.fee_request = FeeRequest(
            step_id=step.id, amount_vnd=amount, requested_at=requested_at, description=fee.description,
            payment_id=created.payment_id, pay_url=created.pay_url, expires_at=expires_at,
        )  # fmt: skip
        self.publisher.record(
            DossierEvent(
                kind="fee_requested", at=workflow.now(), step_id=step.id,
                summary=f"{step.name}: {amount:,} VND to pay through the payment platform (request {created.payment_id})",
                detail={"amount_vnd": amount, "payment_id": created.payment_id, "pay_url": created.pay_url,
                        "expires_at": expires_at.isoformat() if expires_at else None},
                **said("fee_requested_on_platform", step=step.name, amount=amount, payment=created.payment_id),
            )
        )  # fmt: skip
        payment, ticket, how = await self._await_platform(step, fee, created, expires_at)
        state.fee_request = None
        progress.paid_steps.add(step.id)
        progress.leave(step)
        self._record_paid(payment, step.name, how)
        if ticket is not None:
            mailbox.applied(ticket, step.id)
        return step.next

    def _record_paid(self, payment: PaymentSubmission, step_name: str, how: str) -> None:
        """A payment the platform collected: counted, kept for a refund, and on the timeline."""
        progress = self.progress
        progress.state.fees_paid_vnd += payment.amount_vnd
        progress.platform_payments.append(payment)
        self.publisher.record(
            DossierEvent(
                kind="fee_paid", at=workflow.now(), step_id=payment.step_id, actor=progress.input.applicant.full_name,
                by=payment.by,
                summary=f"{step_name}: {payment.amount_vnd:,} VND paid through the payment platform "
                        f"(transaction {payment.receipt_reference}, by {how})",
                **said("fee_paid_on_platform", step=step_name, amount=payment.amount_vnd,
                       receipt=payment.receipt_reference),
                detail={**payment.model_dump(mode="json"), "confirmed_by": how},
            )
        )  # fmt: skip

    async def _await_platform(
        self, step: Step, fee: Fee, created: PaymentStatus, expires_at: datetime | None
    ) -> tuple[PaymentSubmission, int | None, str]:
        """The platform's confirmation (a ticket in the mailbox), else its status asked now and then (a durable timer
        each time), until the platform says the request takes no payment any more."""
        mailbox = self.mailbox
        every = timedelta(seconds=created.check_every_seconds or 600)
        longest = max(every, LONGEST_CHECK_INTERVAL)
        interval = every
        paid = lambda: step.id in mailbox.payments  # noqa: E731
        while True:
            wait = interval
            if expires_at is not None and workflow.now() < expires_at:  # asked again at the expiry, not later
                wait = max(min(interval, expires_at - workflow.now()), timedelta(seconds=1))
            try:
                await workflow.wait_condition(paid, timeout=wait)
                break
            except TimeoutError:
                pass
            status = await self.platform_status(created.payment_id)
            if paid():  # the confirmation came while the platform was asked
                break
            if status is not None and status.status == "paid":
                payment = PaymentSubmission(
                    step_id=step.id, amount_vnd=created.amount_vnd,
                    receipt_reference=status.transaction_id or created.payment_id, by=PLATFORM,
                    payment_id=created.payment_id, transaction_id=status.transaction_id, channel=status.channel,
                )  # fmt: skip
                return payment, None, "status_check"
            # Ended only on the platform's word that the request takes no payment any more; a platform whose clock is
            # behind still says "pending" past the expiry, and the step goes on waiting.
            if status is not None and status.status in NO_LONGER_PAYABLE:
                self._no_longer_payable(step, fee, created, status.status)
            interval = min(interval * 2, longest)
        ticket, payment = mailbox.payments[step.id]
        mailbox.serve(ticket)
        return payment, ticket, "callback"

    async def platform_status(self, payment_id: str) -> PaymentStatus | None:
        """The platform's word on a request; None when it cannot be had for now. A request the platform does not
        know (any more) is answered as `not_found`."""
        try:
            return await workflow.execute_activity_method(
                PaymentActivities.payment_status,
                payment_id,
                start_to_close_timeout=timedelta(seconds=30),
                schedule_to_close_timeout=STATUS_CHECK_TIMEOUT,
                retry_policy=AGENCY_RETRY,
            )
        except ActivityError as err:
            if isinstance(err.cause, ApplicationError) and err.cause.type == "PaymentNotFound":
                return PaymentStatus(payment_id=payment_id, status="not_found", amount_vnd=0)
            workflow.logger.warning("the payment platform's status of %s is unknown for now: %s", payment_id, err)
            return None

    def _no_longer_payable(self, step: Step, fee: Fee, created: PaymentStatus, status: str) -> None:
        """The platform takes no payment for the request any more (expired past `pay_within_hours`, or cancelled or
        unknown to it): the dossier stops for non-payment (status 8)."""
        progress = self.progress
        progress.state.fee_request = None
        progress.leave(step)
        detail = {"payment_id": created.payment_id, "amount_vnd": created.amount_vnd, "platform_status": status}
        if status == "expired" and fee.pay_within_hours:
            hours = f"{fee.pay_within_hours:g}"
            summary = f"{step.name}: payment request {created.payment_id} expired unpaid after {hours} h"
            message = said("fee_expired", step=step.name, payment=created.payment_id, hours=hours)
            detail["hours"] = hours
            reason = f"the fee was not paid within {hours} hours"
        else:
            summary = f"{step.name}: payment request {created.payment_id} is {status} on the payment platform, unpaid"
            message = said("fee_request_void", step=step.name, payment=created.payment_id, status=status)
            reason = f"the fee was not paid: the payment platform's request {created.payment_id} is {status}"
        self.publisher.record(
            DossierEvent(kind="fee_expired", at=workflow.now(), step_id=step.id, summary=summary, detail=detail,
                         **message)
        )  # fmt: skip
        raise Refused(PortalStatus.stopped, "stopped", reason)

    async def confirmed_by_platform(self, payment: PaymentSubmission) -> PaymentSubmission:
        """A `pay` naming the platform's request may come straight to Temporal, past the API that verifies the
        platform's signature, and the request's id is no secret (the applicant sees it): it is applied only once the
        platform, asked by an activity, says the request is paid, for that amount; as the platform tells it
        (transaction, channel). Refused otherwise (NOT_CONFIRMED), and the step goes on waiting."""
        requested = payment.payment_id
        status = await self.platform_status(requested) if requested else None
        if requested is None:
            reason = "a fee paid through the payment platform is confirmed by naming its request"
        elif status is None:
            reason = f"the payment platform could not be asked whether request {requested} is paid; try again later"
        elif status.status != "paid" or status.payment_id != requested:
            reason = f"the payment platform says request {requested} is {status.status}, not paid"
        elif status.amount_vnd != payment.amount_vnd:
            reason = f"the payment platform says request {requested} was paid {status.amount_vnd} VND, not {payment.amount_vnd}"
        else:
            transaction = status.transaction_id or payment.transaction_id
            return payment.model_copy(
                update={"by": PLATFORM, "transaction_id": transaction, "channel": status.channel or payment.channel,
                        "receipt_reference": transaction or payment.receipt_reference}
            )  # fmt: skip
        raise ApplicationError(reason, type=NOT_CONFIRMED)

    async def cancel_open_request(self, due: FeeRequest) -> None:
        """The dossier ended while its fee step waited on the platform's request: the request is cancelled so it can
        no longer be paid. Paid already (the payment and the end crossed), the payment is recorded, and refunded
        with the others (revision 5)."""
        assert due.payment_id is not None
        cancel = PaymentCancel(
            dossier_code=self.progress.input.dossier_code, payment_id=due.payment_id,
            reason=self.progress.state.outcome_reason or self.progress.state.outcome or "",
        )  # fmt: skip
        detail = {"payment_id": due.payment_id, "amount_vnd": due.amount_vnd}
        answer, refusal = await self._ask_platform(PaymentActivities.cancel_payment, cancel)
        if answer is None:
            self.publisher.record(
                DossierEvent(
                    kind="fee_cancelled", at=workflow.now(), step_id=due.step_id,
                    summary=f"the payment platform refused to cancel request {due.payment_id}: {refusal}",
                    detail={**detail, "refused": refusal},
                    **said("fee_cancel_refused", payment=due.payment_id, reason=refusal),
                )
            )  # fmt: skip
            return
        if answer.status == "paid":
            payment = PaymentSubmission(
                step_id=due.step_id, amount_vnd=answer.amount_vnd,
                receipt_reference=answer.transaction_id or due.payment_id, by=PLATFORM, payment_id=due.payment_id,
                transaction_id=answer.transaction_id, channel=answer.channel,
            )  # fmt: skip
            self._record_paid(payment, self.progress.definition.step(due.step_id).name, "cancel")
            return
        self.publisher.record(
            DossierEvent(
                kind="fee_cancelled", at=workflow.now(), step_id=due.step_id,
                summary=f"payment request {due.payment_id} cancelled on the payment platform "
                        f"(the dossier's processing ended; it is {answer.status})",
                detail={**detail, "platform_status": answer.status},
                **said("fee_request_cancelled", payment=due.payment_id),
            )
        )  # fmt: skip

    async def refund_payments(self, reason: str) -> None:
        """A dossier that did not complete (refused, stopped, withdrawn) has the fees it paid through the payment
        platform refunded, each asked of the platform and recorded on the timeline (revision 5)."""
        progress, state = self.progress, self.progress.state
        for payment in progress.platform_payments:
            assert payment.payment_id is not None
            refund = PaymentRefund(
                dossier_code=progress.input.dossier_code, payment_id=payment.payment_id,
                amount_vnd=payment.amount_vnd, reason=reason,
            )  # fmt: skip
            refunded, refusal = await self._ask_platform(PaymentActivities.refund_payment, refund)
            if refunded is None:
                self.publisher.record(
                    DossierEvent(
                        kind="fee_refunded", at=workflow.now(), step_id=payment.step_id,
                        summary=f"the payment platform refused to refund {payment.payment_id}: {refusal}",
                        detail={**refund.model_dump(mode="json"), "refused": refusal},
                        **said("fee_refund_refused", amount=payment.amount_vnd, receipt=payment.receipt_reference,
                               reason=refusal),
                    )
                )  # fmt: skip
                continue
            state.fees_refunded_vnd += payment.amount_vnd
            self.publisher.record(
                DossierEvent(
                    kind="fee_refunded", at=workflow.now(), step_id=payment.step_id,
                    summary=f"{payment.amount_vnd:,} VND refunded through the payment platform "
                            f"(payment {payment.payment_id}, refund {refunded.refund_id})",
                    detail={**refund.model_dump(mode="json"), "refund_id": refunded.refund_id},
                    **said("fee_refunded", amount=payment.amount_vnd, receipt=payment.receipt_reference,
                           refund=refunded.refund_id or "—"),
                )
            )  # fmt: skip
        progress.platform_payments.clear()

    @staticmethod
    async def _ask_platform(method: Callable[..., Any], argument: object) -> tuple[Any, str | None]:
        """The platform's answer, or the reason it refused (a business refusal, never retried); any other failure is
        the activity's to retry and, past its retries, the workflow's to fail on."""
        try:
            answer = await workflow.execute_activity_method(
                method,  # type: ignore[arg-type]
                argument,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=AGENCY_RETRY,
            )
        except ActivityError as err:
            if not (isinstance(err.cause, ApplicationError) and err.cause.type == "AgencyRefused"):
                raise
            return None, err.cause.message
        return answer, None
