"""Fee steps: the amount is fixed or computed from the form; the applicant pays it once, even when the dossier is
returned to an earlier step and passes here again.

From revision 5 the fee is paid through the national payment platform: the step asks the platform to collect it, the
applicant pays on the platform's page, and the platform's signed confirmation (relayed by the API as a `pay` naming
the platform's request) moves the step on. While it waits, the step asks the platform for the request's status now
and then, so a lost confirmation still moves it on; past the definition's `pay_within_hours` the request expires and
the dossier stops for non-payment. A dossier that does not complete has its platform payments refunded."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.payments import PaymentActivities
    from domain import expressions
    from domain.definition import Fee, Step
    from domain.dossier import (
        ActorRef,
        Awaiting,
        DossierEvent,
        FeeRequest,
        PaymentSubmission,
        PortalStatus,
    )
    from domain.payment_platform import PaymentRefund, PaymentRequest, PaymentStatus
    from domain.timeline_messages import said

from workflows.dossier.progress import Refused
from workflows.dossier.retries import AGENCY_RETRY
from workflows.dossier.revisions import PAYMENT_PLATFORM
from workflows.dossier.steps.base import StepFamily

PLATFORM = ActorRef(kind="system", actor_id="payment_platform", channel="payment_platform")
# The status check is a fall-back: a platform that does not answer in two minutes is asked again at the next check.
STATUS_CHECK_TIMEOUT = timedelta(minutes=2)


class FeeSteps(StepFamily):
    async def fee_step(self, step: Step) -> str | None:
        progress, mailbox, state = self.progress, self.mailbox, self.progress.state
        progress.processing()
        fee = step.fee or progress.definition.fee
        amount: Any = fee.amount_vnd
        if amount is None and fee.expression:
            try:
                amount = expressions.parse(fee.expression).evaluate(progress.scope())
            except expressions.ExpressionError as exc:
                raise Refused(PortalStatus.stopped, "stopped", f"the fee could not be computed: {exc}") from None
        if not isinstance(amount, (int, float)) or isinstance(amount, bool) or amount < 0:
            raise Refused(PortalStatus.stopped, "stopped", f"the fee could not be computed (got {amount!r})")
        amount = int(round(amount))
        if step.id in progress.paid_steps:
            self.publisher.record(
                DossierEvent(
                    kind="step_skipped",
                    at=workflow.now(),
                    step_id=step.id,
                    summary=f"{step.name}: already paid",
                    **said("fee_already_paid", step=step.name),
                )
            )
            return step.next
        if amount == 0:
            self.publisher.record(
                DossierEvent(
                    kind="step_skipped",
                    at=workflow.now(),
                    step_id=step.id,
                    summary=f"{step.name}: no fee due",
                    **said("no_fee_due", step=step.name),
                )
            )
            return step.next
        progress.enter(step, Awaiting.applicant)
        if progress.revision >= PAYMENT_PLATFORM:
            return await self._paid_on_platform(step, fee, amount)
        state.fee_request = FeeRequest(
            step_id=step.id, amount_vnd=amount, requested_at=workflow.now(), description=fee.description
        )
        self.publisher.record(
            DossierEvent(
                kind="fee_requested", at=workflow.now(), step_id=step.id,
                summary=f"{step.name}: {amount:,} VND to pay", detail={"amount_vnd": amount},
                **said("fee_requested", step=step.name, amount=amount),
            )
        )  # fmt: skip
        await workflow.wait_condition(lambda: step.id in mailbox.payments)
        ticket, payment = mailbox.payments[step.id]
        mailbox.serve(ticket)
        state.fee_request = None
        state.fees_paid_vnd += payment.amount_vnd
        progress.paid_steps.add(step.id)
        progress.leave(step)
        self.publisher.record(
            DossierEvent(
                kind="fee_paid", at=workflow.now(), step_id=step.id, actor=progress.input.applicant.full_name,
                by=payment.by,
                summary=f"{step.name}: {payment.amount_vnd:,} VND paid (receipt {payment.receipt_reference})",
                **said("fee_paid", step=step.name, amount=payment.amount_vnd, receipt=payment.receipt_reference),
                detail=payment.model_dump(mode="json"),
            )
        )  # fmt: skip
        mailbox.applied(ticket, step.id)
        return step.next

    # ------------------------------------------------------------------ the payment platform (revision 5)

    async def _paid_on_platform(self, step: Step, fee: Fee, amount: int) -> str | None:
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
        try:
            created = await workflow.execute_activity_method(
                PaymentActivities.request_payment,
                request,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=AGENCY_RETRY,
            )
        except ActivityError as err:
            if not (isinstance(err.cause, ApplicationError) and err.cause.type == "AgencyRefused"):
                raise
            raise Refused(
                PortalStatus.stopped, "stopped", f"the payment platform refused the request: {err.cause.message}"
            ) from None
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
        state.fees_paid_vnd += payment.amount_vnd
        progress.paid_steps.add(step.id)
        progress.platform_payments.append(payment)
        progress.leave(step)
        self.publisher.record(
            DossierEvent(
                kind="fee_paid", at=workflow.now(), step_id=step.id, actor=progress.input.applicant.full_name,
                by=payment.by,
                summary=f"{step.name}: {payment.amount_vnd:,} VND paid through the payment platform "
                        f"(transaction {payment.receipt_reference}, by {how})",
                **said("fee_paid_on_platform", step=step.name, amount=payment.amount_vnd,
                       receipt=payment.receipt_reference),
                detail={**payment.model_dump(mode="json"), "confirmed_by": how},
            )
        )  # fmt: skip
        if ticket is not None:
            mailbox.applied(ticket, step.id)
        return step.next

    async def _await_platform(
        self, step: Step, fee: Fee, created: PaymentStatus, expires_at: Any
    ) -> tuple[PaymentSubmission, int | None, str]:
        """The platform's confirmation (a ticket in the mailbox), else its status asked every so often (a durable
        timer each time), until the request expires."""
        mailbox = self.mailbox
        every = timedelta(seconds=created.check_every_seconds or 600)
        paid = lambda: step.id in mailbox.payments  # noqa: E731
        while True:
            wait = every
            if expires_at is not None:
                wait = max(min(every, expires_at - workflow.now()), timedelta(seconds=1))
            try:
                await workflow.wait_condition(paid, timeout=wait)
                break
            except TimeoutError:
                pass
            status = await self._platform_status(created.payment_id)
            if paid():  # the confirmation came while the platform was asked
                break
            if status is not None and status.status == "paid":
                payment = PaymentSubmission(
                    step_id=step.id, amount_vnd=created.amount_vnd,
                    receipt_reference=status.transaction_id or created.payment_id, by=PLATFORM,
                    payment_id=created.payment_id, transaction_id=status.transaction_id, channel=status.channel,
                )  # fmt: skip
                return payment, None, "status_check"
            # Expired only on the platform's word that the request is unpaid: it takes no payment past its expiry.
            if expires_at is not None and workflow.now() >= expires_at and status is not None:
                self._expired(step, fee, created)
        ticket, payment = mailbox.payments[step.id]
        mailbox.serve(ticket)
        return payment, ticket, "callback"

    async def _platform_status(self, payment_id: str) -> PaymentStatus | None:
        try:
            return await workflow.execute_activity_method(
                PaymentActivities.payment_status,
                payment_id,
                start_to_close_timeout=timedelta(seconds=30),
                schedule_to_close_timeout=STATUS_CHECK_TIMEOUT,
                retry_policy=AGENCY_RETRY,
            )
        except ActivityError as err:
            workflow.logger.warning("the payment platform's status of %s is unknown for now: %s", payment_id, err)
            return None

    def _expired(self, step: Step, fee: Fee, created: PaymentStatus) -> None:
        """Unpaid past `pay_within_hours`: the dossier stops for non-payment (status 8)."""
        progress = self.progress
        hours = f"{fee.pay_within_hours:g}"
        progress.state.fee_request = None
        progress.leave(step)
        self.publisher.record(
            DossierEvent(
                kind="fee_expired", at=workflow.now(), step_id=step.id,
                summary=f"{step.name}: payment request {created.payment_id} expired unpaid after {hours} h",
                detail={"payment_id": created.payment_id, "amount_vnd": created.amount_vnd, "hours": hours},
                **said("fee_expired", step=step.name, payment=created.payment_id, hours=hours),
            )
        )  # fmt: skip
        raise Refused(PortalStatus.stopped, "stopped", f"the fee was not paid within {hours} hours")

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
            try:
                refunded = await workflow.execute_activity_method(
                    PaymentActivities.refund_payment,
                    refund,
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=AGENCY_RETRY,
                )
            except ActivityError as err:
                if not (isinstance(err.cause, ApplicationError) and err.cause.type == "AgencyRefused"):
                    raise
                self.publisher.record(
                    DossierEvent(
                        kind="fee_refunded", at=workflow.now(), step_id=payment.step_id,
                        summary=f"the payment platform refused to refund {payment.payment_id}: {err.cause.message}",
                        detail={**refund.model_dump(mode="json"), "refused": err.cause.message},
                        **said("fee_refund_refused", amount=payment.amount_vnd, receipt=payment.receipt_reference,
                               reason=err.cause.message),
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
