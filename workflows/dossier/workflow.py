"""DossierWorkflow: one dossier, interpreted from its pinned definition snapshot.

The workflow only orchestrates; every effect (read model, portal, agency systems) is an activity. It is built of
parts, one concern each: the dossier's progress, the step interpreter, the mailbox that takes officers' and
applicants' messages, the legal clock, the publishing lanes, and the revision it started on. This class wires them
together and is the table of contents: how a dossier runs, and which messages it takes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.dossier import (
        AgencyAnswer,
        ApologySubmission,
        DossierEvent,
        DossierInput,
        DossierLiveDetail,
        DossierOutcome,
        ExtensionSubmission,
        MessageAccepted,
        OfficerDecision,
        OfficerRef,
        PaymentSubmission,
        PortalStatus,
        SupplementSubmission,
        Withdrawal,
    )
    from domain.timeline_messages import said

from workflows.contract import DETAIL_QUERY, WORKFLOW_TYPE, DossierSignal, DossierUpdate
from workflows.dossier import authority
from workflows.dossier.legal_clock import LegalClock
from workflows.dossier.mailbox import Mailbox
from workflows.dossier.notices import Notices
from workflows.dossier.progress import DossierProgress, Refused
from workflows.dossier.publishing import Publisher
from workflows.dossier.revisions import (
    PAYMENT_PLATFORM,
    REGISTRY_DECIDES,
    REGISTRY_DECIDES_UPDATES,
    STOP_CHILDREN_WITH_PARENT,
    started_revision,
)
from workflows.dossier.steps import StepInterpreter

M = TypeVar("M")


@workflow.defn(name=WORKFLOW_TYPE)
class DossierWorkflow:
    @workflow.init
    def __init__(self, input: DossierInput) -> None:
        self._progress = DossierProgress(input, started_revision())
        self._publisher = Publisher(self._progress)
        self._notices = Notices(self._progress, self._publisher)
        self._clock = LegalClock(self._progress, self._publisher, self._notices)
        self._mailbox = Mailbox(self._progress, self._publisher)
        self._steps = StepInterpreter(self._progress, self._publisher, self._clock, self._mailbox, self._notices)

    # ----------------------------------------------------------------------------------- run

    @workflow.run
    async def run(self, input: DossierInput) -> DossierOutcome:
        progress, state, publisher, mailbox = self._progress, self._progress.state, self._publisher, self._mailbox
        portal_lane = asyncio.create_task(publisher.push_to_portal_in_order())
        read_model_lane = asyncio.create_task(publisher.write_read_model_in_order())
        publisher.record(
            DossierEvent(
                kind="submitted",
                at=input.received_at,
                actor=input.applicant.full_name,
                by=input.received_by,
                summary=f"Dossier received by {input.receiving_unit} (channel {input.channel.value})",
                **said("received", unit=input.receiving_unit, channel=input.channel.name),
                detail={"procedure_version": input.snapshot.version, "content_hash": input.snapshot.content_hash},
            )
        )
        appointment_watch = asyncio.create_task(self._clock.watch_appointment())
        told_by_letter = False
        try:
            await self._run_until_withdrawn()
            state.outcome = "completed"
            if progress.base_status != PortalStatus.result_returned:
                progress.base_status = PortalStatus.completed
        except Refused as refused:
            progress.base_status = refused.status
            state.outcome = refused.outcome  # type: ignore[assignment]
            state.outcome_reason = refused.reason
            told_by_letter = refused.told_by_letter
        appointment_watch.cancel()
        if mailbox.withdrawal is not None:
            mailbox.serve(mailbox.withdrawal[0])
        progress.active.clear()
        state.supplement_request = None
        open_fee, state.fee_request = state.fee_request, None
        state.completed_at = workflow.now()
        self._clock.bump()
        if progress.revision >= PAYMENT_PLATFORM and open_fee is not None and open_fee.payment_id is not None:
            # Ended while a fee step waited on the payment platform: its request is cancelled, so nobody pays it after
            # the end; paid already, the payment is recorded and refunded below (revision 5).
            await self._steps.cancel_open_request(open_fee)
        if progress.revision >= PAYMENT_PLATFORM and state.outcome != "completed" and progress.platform_payments:
            # Fees paid through the payment platform for a dossier that did not complete are refunded (revision 5).
            await self._steps.refund_payments(state.outcome_reason or state.outcome or "")
        publisher.record(
            DossierEvent(
                kind="finished",
                at=workflow.now(),
                summary=f"Processing ended: {state.outcome}" + (" (partial result)" if state.partial else ""),
                **said("finished_partial" if state.partial else "finished", outcome=state.outcome),
                by=mailbox.withdrawal[1].by if mailbox.withdrawal is not None else None,
                detail={"reason": state.outcome_reason} if state.outcome_reason else {},
            )
        )
        if mailbox.withdrawal is not None:
            mailbox.mark_applied(mailbox.withdrawal[0])
        if state.outcome in ("stopped", "withdrawn") and not told_by_letter:
            # Form 05: processing stopped other than by the officer's refusal that ended it (which form 03 told), or
            # by a refused branch the dossier went on without (revision 5).
            await self._steps.letters.issue(
                "05", signing_unit=input.receiving_unit, signer=None, reason=state.outcome_reason or state.outcome
            )
        # Late messages still get their answer; the read model and the portal hear everything before we end.
        await workflow.wait_condition(lambda: workflow.all_handlers_finished() and publisher.idle)
        portal_lane.cancel()
        read_model_lane.cancel()
        assert state.outcome is not None
        return DossierOutcome(
            dossier_code=input.dossier_code,
            status=state.status,
            outcome=state.outcome,
            reason=state.outcome_reason,
            results=state.results,
        )

    async def _run_until_withdrawn(self) -> None:
        """Run the step graph; an applicant's withdrawal (status 7) ends it wherever it stands, and so does the
        end of the dossier that started this one as an interconnected child (status 8)."""
        definition, mailbox = self._progress.definition, self._mailbox
        main = asyncio.create_task(self._steps.run_path(definition.steps, definition.start_step))
        try:
            await workflow.wait_condition(lambda: main.done() or mailbox.withdrawal is not None)
        except asyncio.CancelledError:
            if not self._progress.follows(STOP_CHILDREN_WITH_PARENT):
                raise
            await self._steps.stop([main])
            parent = workflow.info().parent
            raise Refused(
                PortalStatus.stopped,
                "stopped",
                f"stopped with {parent.workflow_id}, the interconnected dossier that started this one"
                if parent is not None
                else "processing was cancelled",
            ) from None
        if main.done():
            return main.result()
        await self._steps.stop([main])
        assert mailbox.withdrawal is not None
        raise Refused(PortalStatus.withdrawn, "withdrawn", mailbox.withdrawal[1].reason)

    # ------------------------------------------------------------------------------ messages

    @workflow.update(name=DossierUpdate.decide.value)
    async def decide(self, decision: OfficerDecision) -> MessageAccepted:
        mailbox = self._mailbox
        decision = decision.model_copy(update={"officer": await self._as_registered("decide", decision.officer)})
        check = lambda: mailbox.check_decision(decision)  # noqa: E731
        return await mailbox.answer_update(check, mailbox.store_decision(decision, "api"), decision.step_id)

    @decide.validator
    def _validate_decide(self, decision: OfficerDecision) -> None:
        self._mailbox.check_decision(decision)

    @workflow.signal(dynamic=True)
    async def message_signal(self, name: str, payloads: Sequence[RawValue]) -> None:
        """The Signal twins (`DossierSignal`), taken raw whatever they carry: a message that does not decode, or
        comes with no payload or several, is refused on the timeline, never dropped by the SDK nor left to fail
        every workflow task. A Signal of another name is refused on the timeline too (revision 3)."""
        twins = {
            DossierSignal.decide.value: self.decide_signal,
            DossierSignal.supplement.value: self.supplement_signal,
            DossierSignal.pay.value: self.pay_signal,
            DossierSignal.agency_answer.value: self.agency_answer_signal,
        }
        twin = twins.get(name)
        if twin is not None:
            await twin(payloads)
        elif self._progress.revision >= REGISTRY_DECIDES_UPDATES:
            received = authority.received((payloads[0] if payloads else authority.NO_PAYLOAD).payload)
            self._mailbox.refuse(
                authority.bounded_name(name),
                f"a dossier takes no Signal of this name (it takes {', '.join(sorted(twins))}); "
                + authority.described(received),
                received=received,
            )

    async def _as_registered(self, message: str, officer: OfficerRef) -> OfficerRef:
        """The officer of an Update as the registry gives them today (revision 3): an Update may come straight to
        Temporal, past the API, so the capacities it claims are not trusted. Refused to its sender and on the
        timeline when the registry does not know the officer, or knows them inactive or without a step role."""
        if self._progress.revision < REGISTRY_DECIDES_UPDATES:
            return officer
        try:
            return authority.registered(officer, await authority.standing(officer.officer_id))
        except ApplicationError as refused:
            self._mailbox.refuse(message, refused.message, officer_id=officer.officer_id, via="Update")
            raise

    async def decide_signal(self, payloads: Sequence[RawValue]) -> None:
        mailbox = self._mailbox
        decision = self._read_signal("decide", payloads, OfficerDecision)
        if decision is None:
            return
        named = decision.officer.officer_id
        if self._progress.revision >= REGISTRY_DECIDES:
            # Sent past the API, so nothing it claims is trusted: the registry says who the officer is today.
            try:
                mailbox.check_decision(decision, officer=False)  # a step not awaiting it needs no registry
                standing = await authority.standing(named)
                decision = decision.model_copy(update={"officer": authority.registered(decision.officer, standing)})
            except ApplicationError as refused:
                mailbox.refuse("decide", refused.message, officer_id=named)
                return
        check = lambda: mailbox.check_decision(decision)  # noqa: E731
        await mailbox.take_signal("decide", check, mailbox.store_decision(decision, "signal"), officer_id=named)

    def _read_signal(self, message: str, payloads: Sequence[RawValue], model: type[M]) -> M | None:
        """The Signal's message; one that does not decode is refused with what was received."""
        try:
            return authority.read(payloads, model)
        except authority.Unreadable as unreadable:
            if self._progress.revision < REGISTRY_DECIDES:
                # Dossiers on earlier revisions keep their path: the SDK dropped such a Signal with a log line.
                workflow.logger.warning("signal %r could not be read, dropped: %s", message, unreadable.reason)
                return None
            self._mailbox.refuse(message, unreadable.summary(), received=unreadable.received)
            return None

    @workflow.update(name=DossierUpdate.supplement.value)
    async def supplement(self, submission: SupplementSubmission) -> MessageAccepted:
        mailbox = self._mailbox
        mailbox.check_supplement()
        assert self._progress.state.supplement_request is not None
        step_id = self._progress.state.supplement_request.step_id
        return await mailbox.answer_update(mailbox.check_supplement, mailbox.store_supplement(submission), step_id)

    @supplement.validator
    def _validate_supplement(self, submission: SupplementSubmission) -> None:
        self._mailbox.check_supplement()

    async def supplement_signal(self, payloads: Sequence[RawValue]) -> None:
        mailbox = self._mailbox
        submission = self._read_signal("supplement", payloads, SupplementSubmission)
        if submission is None:
            return
        await mailbox.take_signal("supplement", mailbox.check_supplement, mailbox.store_supplement(submission))

    @workflow.update(name=DossierUpdate.pay.value)
    async def pay(self, payment: PaymentSubmission) -> MessageAccepted:
        mailbox = self._mailbox
        if self._progress.revision >= PAYMENT_PLATFORM:
            # It may come straight to Temporal, past the API that verifies the platform's signature: the platform is
            # asked whether the request it names is paid; refused to its sender and on the timeline otherwise.
            try:
                payment = await self._steps.confirmed_by_platform(payment)
            except ApplicationError as refused:
                mailbox.refuse("pay", refused.message, via="Update")
                raise
        check = lambda: mailbox.check_payment(payment)  # noqa: E731
        return await mailbox.answer_update(check, mailbox.store_payment(payment), payment.step_id)

    @pay.validator
    def _validate_pay(self, payment: PaymentSubmission) -> None:
        self._mailbox.check_payment(payment)

    async def pay_signal(self, payloads: Sequence[RawValue]) -> None:
        mailbox = self._mailbox
        payment = self._read_signal("pay", payloads, PaymentSubmission)
        if payment is None:
            return
        if self._progress.revision >= PAYMENT_PLATFORM:
            # As for the Update: applied only once the platform says the request it names is paid.
            try:
                mailbox.check_payment(payment)
                payment = await self._steps.confirmed_by_platform(payment)
            except ApplicationError as refused:
                mailbox.refuse("pay", refused.message)
                return
        confirmed = payment
        await mailbox.take_signal("pay", lambda: mailbox.check_payment(confirmed), mailbox.store_payment(confirmed))

    @workflow.update(name=DossierUpdate.agency_answer.value)
    async def agency_answer(self, answer: AgencyAnswer) -> MessageAccepted:
        """An agency's later answer to an adapter step's call (revision 4), correlated by the call's id."""
        mailbox = self._mailbox
        check = lambda: mailbox.check_agency_answer(answer)  # noqa: E731
        return await mailbox.answer_update(check, mailbox.store_agency_answer(answer, "api"), answer.step_id)

    @agency_answer.validator
    def _validate_agency_answer(self, answer: AgencyAnswer) -> None:
        self._mailbox.check_agency_answer(answer)

    async def agency_answer_signal(self, payloads: Sequence[RawValue]) -> None:
        mailbox = self._mailbox
        answer = self._read_signal("agency_answer", payloads, AgencyAnswer)
        if answer is None:
            return
        check = lambda: mailbox.check_agency_answer(answer)  # noqa: E731
        await mailbox.take_signal("agency_answer", check, mailbox.store_agency_answer(answer, "signal"))

    @workflow.update(name=DossierUpdate.withdraw.value)
    async def withdraw(self, withdrawal: Withdrawal) -> MessageAccepted:
        mailbox = self._mailbox
        check = lambda: mailbox.check_open("withdraw")  # noqa: E731
        return await mailbox.answer_update(check, mailbox.store_withdrawal(withdrawal), "")

    @withdraw.validator
    def _validate_withdraw(self, withdrawal: Withdrawal) -> None:
        self._mailbox.check_open("withdraw")

    @workflow.update(name=DossierUpdate.apologize.value)
    async def apologize(self, apology: ApologySubmission) -> MessageAccepted:
        apology = apology.model_copy(update={"officer": await self._as_registered("apologize", apology.officer)})
        officer = self._mailbox.check_apology(apology)
        seq = self._clock.take_apology(apology, officer)
        await workflow.wait_condition(lambda: self._publisher.has_recorded(seq))
        given = self._progress.state.apology
        assert given is not None
        # Form 04, the letter itself, signed by the apologising officer's unit (revision 5).
        await self._steps.letters.issue(
            "04", signing_unit=officer.unit_code, signer=officer.officer_id, reason=apology.reason,
            new_appointment_date=given.new_appointment_date, previous_appointment_date=given.previous_appointment_date,
        )  # fmt: skip
        await self._notices.notify_applicant(
            "apology",
            f"Hồ sơ {self._progress.input.dossier_code}: xin lỗi vì trễ hẹn; "
            f"ngày hẹn mới {apology.new_appointment_date:%d/%m/%Y}.",
        )
        return self._mailbox.accepted("")

    @apologize.validator
    def _validate_apologize(self, apology: ApologySubmission) -> None:
        self._mailbox.check_apology(apology)

    @workflow.update(name=DossierUpdate.extend.value)
    async def extend(self, extension: ExtensionSubmission) -> MessageAccepted:
        extension = extension.model_copy(update={"officer": await self._as_registered("extend", extension.officer)})
        officer = self._mailbox.check_extension(extension)
        seq = self._clock.take_extension(extension, officer)
        await workflow.wait_condition(lambda: self._publisher.has_recorded(seq))
        return self._mailbox.accepted("")

    @extend.validator
    def _validate_extend(self, extension: ExtensionSubmission) -> None:
        self._mailbox.check_extension(extension)

    @workflow.query(name=DETAIL_QUERY)
    def detail(self) -> DossierLiveDetail:
        progress = self._progress
        return DossierLiveDetail(
            dossier_code=progress.input.dossier_code,
            procedure_code=progress.definition.code,
            procedure_version=progress.input.snapshot.version,
            state=progress.snapshot_state(),
            form=progress.form,
            visits=dict(progress.visits),
            agency_results=progress.agency_results,
            refused_messages=self._mailbox.refused,
            portal_pushes_pending=self._publisher.portal_pushes_pending,
        )
