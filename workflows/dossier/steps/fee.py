"""Fee steps: the amount is fixed or computed from the form; the applicant pays it once, even when the dossier is
returned to an earlier step and passes here again.

From revision 5 the fee is paid through the national payment platform (payment_platform.py): the step asks the
platform to collect it and the platform's confirmation moves the step on; a dossier that does not complete has its
platform payments refunded."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain import expressions
    from domain.definition import Step
    from domain.dossier import Awaiting, DossierEvent, FeeRequest, PortalStatus
    from domain.timeline_messages import said

from workflows.dossier.progress import Refused
from workflows.dossier.revisions import PAYMENT_PLATFORM
from workflows.dossier.steps.payment_platform import PlatformFees


class FeeSteps(PlatformFees):
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
            return await self.paid_on_platform(step, fee, amount)
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
