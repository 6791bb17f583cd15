"""The mailbox: messages from officers and applicants, checked, held for the step that awaits them, and answered.

Each message is an Update (validated, answered once its effect is in the read model, so a poll right after the answer
sees it) and, for integrations, a Signal carrying the same message (refused in the timeline when it cannot apply;
`authority.py` reads it and asks the registry after the officer it names). A message that cannot be read or applied is
refused with a reason, never dropped. A message accepted waits here, under a
ticket, until its step takes it and records the effect; while it waits, no second one is accepted for that step.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.definition import DecisionKind, Role
    from domain.dossier import (
        ActorRef,
        AgencyAnswer,
        ApologySubmission,
        Awaiting,
        DossierEvent,
        ExtensionSubmission,
        MessageAccepted,
        OfficerDecision,
        OfficerRef,
        PaymentSubmission,
        RefusedMessage,
        SupplementSubmission,
        Withdrawal,
    )
    from domain.timeline_messages import said

with workflow.unsafe.imports_passed_through():
    from infrastructure import request_context

from workflows.contract import NOT_AWAITING, NOT_YOUR_STEP
from workflows.dossier.progress import DossierProgress
from workflows.dossier.publishing import Publisher
from workflows.dossier.revisions import DECISION_766, PAYMENT_PLATFORM

Accept = Callable[[int], None]


class Mailbox:
    def __init__(self, progress: DossierProgress, publisher: Publisher) -> None:
        self._progress = progress
        self._publisher = publisher
        self.decisions: dict[str, tuple[int, OfficerDecision]] = {}
        self.payments: dict[str, tuple[int, PaymentSubmission]] = {}
        self.awaited_calls: dict[str, str] = {}  # step → the id of the call whose answer an agency owes
        self.agency_answers: dict[str, tuple[int, AgencyAnswer]] = {}
        self.supplement: tuple[int, SupplementSubmission] | None = None
        self.withdrawal: tuple[int, Withdrawal] | None = None
        self.refused: list[RefusedMessage] = []
        self._tickets_issued = 0
        self._tickets_applied: set[int] = set()
        self._ticket_seq: dict[int, int] = {}  # the transition a message's answer waits to see recorded
        self._message_by: dict[int, ActorRef] = {}  # ticket → who sent the message (the audit trail)
        self._request_of: dict[int, str | None] = {}  # ticket → the request that sent it (the logs)

    # ------------------------------------------------------------------------------ checks

    def not_awaiting(self, message: str) -> ApplicationError:
        """A message the dossier does not await now, said with the last transition it has reached: after a worker
        died mid-task, the read model may already show what the redone task is about to reach again (a step
        awaiting a decision), and the API, seeing the read model ahead, asks again instead of answering 409."""
        return ApplicationError(message, self._publisher.seq, type=NOT_AWAITING)

    def check_open(self, what: str) -> None:
        if self._progress.state.outcome is not None or self.withdrawal is not None:
            raise self.not_awaiting(f"the dossier's processing has ended; nothing to {what}")

    def _check_acting_officer(self, officer: OfficerRef, role: Role | None = None) -> OfficerRef:
        """The officer in a capacity (of `role`, when given) at the receiving unit or a unit with a step under way."""
        progress = self._progress
        units = [progress.input.receiving_unit, *(s.unit_code for s in progress.active.values() if s.unit_code)]
        for unit in units:
            acting = officer.acting_as(role, unit)
            if acting is not None:
                return acting
        who = f"{role.value} officers" if role is not None else "officers"
        raise ApplicationError(
            f"only {who} of {', '.join(sorted(set(units)))} act on this dossier now", type=NOT_YOUR_STEP
        )

    def _by_766(self, role: Role) -> Role | None:
        """Decision 766 (revision 5): the definition's role for an apology or an extension; None before."""
        return role if self._progress.revision >= DECISION_766 else None

    def check_apology(self, apology: ApologySubmission) -> OfficerRef:
        self.check_open("apologise for")
        state = self._progress.state
        if self._progress.revision >= DECISION_766 and state.apology is not None:
            raise self.not_awaiting(
                "an apology letter was already issued for this dossier; a dossier apologises once (Decision 766)"
            )
        acting = self._check_acting_officer(apology.officer, self._by_766(self._progress.definition.apologising_role))
        promised = state.apology.new_appointment_date if state.apology else state.appointment_date
        if apology.new_appointment_date <= promised:
            raise self.not_awaiting(f"the new appointment must come after {promised.isoformat()}")
        # The API holds a new appointment to the procedure's time limit again in working days; whoever sends the
        # Update straight to Temporal is held here to that many days twice over plus a month, in calendar days
        # (the validator has no calendar), so no letter puts the promise off for good. Validators do not replay.
        definition = self._progress.definition
        own = self._progress.input.time_limit if self._progress.revision >= DECISION_766 else 0
        limit = max(definition.time_limit_working_days, own, definition.extended_time_limit_working_days or 0, 1)
        if apology.new_appointment_date > promised + timedelta(days=2 * limit + 31):
            raise self.not_awaiting(f"the new appointment is too far after {promised.isoformat()}")
        return acting

    def check_extension(self, extension: ExtensionSubmission) -> OfficerRef:
        self.check_open("extend")
        state = self._progress.state
        if self._progress.definition.extended_time_limit_working_days is None:
            raise self.not_awaiting("this procedure has no extended time limit")
        if state.extended:
            raise self.not_awaiting("the time limit was already extended; a dossier is extended once")
        acting = self._check_acting_officer(extension.officer, self._by_766(self._progress.definition.extending_role))
        if extension.new_appointment_date <= state.appointment_date:
            raise self.not_awaiting("an extension moves the appointment later")
        # The API gives the date the law does (the extended limit's extra working days); sent straight to Temporal,
        # a date is held to those days twice over plus a month, in calendar days, as an apology's is.
        definition = self._progress.definition
        if self._progress.revision >= DECISION_766 and self._progress.input.time_limit >= (
            definition.extended_time_limit_working_days or 0
        ):
            raise self.not_awaiting(
                "this dossier's time limit, as its case gives it, already reaches the extended limit"
            )
        extra = max((definition.extended_time_limit_working_days or 0) - definition.time_limit_working_days, 1)
        if extension.new_appointment_date > state.appointment_date + timedelta(days=2 * extra + 31):
            raise self.not_awaiting(f"the extended appointment is too far after {state.appointment_date.isoformat()}")
        return acting

    def check_decision(self, decision: OfficerDecision, *, officer: bool = True) -> None:
        """Whether the step awaits this decision, and (with `officer`) whether the officer may take it."""
        progress = self._progress
        active = progress.active.get(decision.step_id)
        if active is None or active.awaiting != Awaiting.officer or decision.step_id in self.decisions:
            waiting = [s.step_id for s in progress.active.values() if s.awaiting == Awaiting.officer]
            raise self.not_awaiting(
                f"step {decision.step_id!r} is not awaiting a decision; steps awaiting one: {waiting or 'none'}"
            )
        step = progress.definition.step(decision.step_id)
        if decision.decision not in step.allowed_decisions:
            raise self.not_awaiting(f"step {step.id!r} does not take {decision.decision.value!r}")
        if decision.decision == DecisionKind.request_supplement and progress.state.supplement_request is not None:
            raise self.not_awaiting("a supplement request is already open for this dossier")
        if officer and decision.officer.acting_as(active.role, active.unit_code) is None:
            raise ApplicationError(
                f"step {step.id!r} is assigned to a {active.role} officer of {active.unit_code}", type=NOT_YOUR_STEP
            )

    def check_supplement(self) -> None:
        if self._progress.state.supplement_request is None or self.supplement is not None:
            raise self.not_awaiting(f"no supplement was requested (status {self._progress.state.status.name})")

    def check_payment(self, payment: PaymentSubmission) -> None:
        due = self._progress.state.fee_request
        if due is None or due.step_id != payment.step_id or payment.step_id in self.payments:
            raise self.not_awaiting(f"no payment is awaited for step {payment.step_id!r}")
        if payment.amount_vnd != due.amount_vnd:
            raise self.not_awaiting(f"the amount due is {due.amount_vnd} VND, not {payment.amount_vnd}")
        # Revision 5: a fee is paid through the payment platform; only its confirmation of the request awaited counts
        # (the API relays it once its signature is verified), never the applicant's word.
        if self._progress.revision >= PAYMENT_PLATFORM and payment.payment_id != due.payment_id:
            raise self.not_awaiting(
                f"step {payment.step_id!r} is paid through the payment platform (request {due.payment_id}); "
                "its confirmation names that request"
            )

    def check_agency_answer(self, answer: AgencyAnswer) -> None:
        awaited = self.awaited_calls.get(answer.step_id)
        if awaited is None or answer.step_id in self.agency_answers:
            raise self.not_awaiting(f"step {answer.step_id!r} awaits no agency's answer")
        if answer.call_id != awaited:
            raise self.not_awaiting(f"step {answer.step_id!r} awaits the answer to call {awaited!r}, not this one")

    # ------------------------------------------------------------------------------ taking messages

    def store_agency_answer(self, answer: AgencyAnswer, channel: str) -> Accept:
        def store(ticket: int) -> None:
            self.agency_answers[answer.step_id] = (ticket, answer)
            self._message_by[ticket] = ActorRef(kind="system", channel=channel)

        return store

    def store_decision(self, decision: OfficerDecision, channel: str) -> Accept:
        def store(ticket: int) -> None:
            # Kept in the capacity the step needs (role, unit, on behalf of), as the audit trail records it.
            active = self._progress.active[decision.step_id]
            acting = decision.officer.acting_as(active.role, active.unit_code) or decision.officer
            self.decisions[decision.step_id] = (ticket, decision.model_copy(update={"officer": acting}))
            self._message_by[ticket] = acting.actor(channel)

        return store

    def store_supplement(self, submission: SupplementSubmission) -> Accept:
        def store(ticket: int) -> None:
            self.supplement = (ticket, submission)

        return store

    def store_payment(self, payment: PaymentSubmission) -> Accept:
        def store(ticket: int) -> None:
            self.payments[payment.step_id] = (ticket, payment)

        return store

    def store_withdrawal(self, withdrawal: Withdrawal) -> Accept:
        def store(ticket: int) -> None:
            self.withdrawal = (ticket, withdrawal)

        return store

    async def answer_update(self, check: Callable[[], None], accept: Accept, step_id: str) -> MessageAccepted:
        # Validators of two updates in one activation both run before either handler, so check again.
        check()
        ticket = self._issue_ticket()
        accept(ticket)
        await workflow.wait_condition(lambda: self._answered(ticket))
        return self.accepted(step_id)

    async def take_signal(
        self, message: str, check: Callable[[], None], accept: Accept, *, officer_id: str | None = None
    ) -> None:
        try:
            check()
        except ApplicationError as refused:
            self.refuse(message, refused.message, officer_id=officer_id)
            return
        accept(self._issue_ticket())

    def sent_by(self, ticket: int) -> ActorRef | None:
        return self._message_by.get(ticket)

    # ------------------------------------------------------------------------------ answering

    def applied(self, ticket: int, step_id: str) -> None:
        """The step took the message and recorded its effect."""
        self.decisions.pop(step_id, None)
        self.payments.pop(step_id, None)
        if self.agency_answers.pop(step_id, None) is not None:
            self.awaited_calls.pop(step_id, None)
        self.mark_applied(ticket)

    def mark_applied(self, ticket: int) -> None:
        self._ticket_seq[ticket] = self._publisher.seq
        self._tickets_applied.add(ticket)

    def accepted(self, step_id: str) -> MessageAccepted:
        progress = self._progress
        return MessageAccepted(
            dossier_code=progress.input.dossier_code,
            step_id=step_id,
            status=progress.snapshot_state().status,
            active_step_ids=list(progress.active),
        )

    def _issue_ticket(self) -> int:
        self._tickets_issued += 1
        self._request_of[self._tickets_issued] = request_context.request_id.get()
        return self._tickets_issued

    def serve(self, ticket: int) -> None:
        """What the taking step does next serves the request that sent the message: its transitions, and the
        activities they lead to, carry that request's id (in this step's task only)."""
        request_context.request_id.set(self._request_of.pop(ticket, None))

    def _answered(self, ticket: int) -> bool:
        """A message is answered once its effect is in the read model, so a poll right after sees it."""
        return ticket in self._tickets_applied and self._publisher.has_recorded(self._ticket_seq[ticket])

    def refuse(
        self,
        message: str,
        reason: str,
        *,
        officer_id: str | None = None,
        received: dict[str, object] | None = None,
        via: str = "Signal",
    ) -> None:
        """A message that cannot apply, on the timeline with its reason: the officer it names (who is not credited
        with anything: the entry has no actor) or what was received when it could not be read."""
        refused = RefusedMessage(at=workflow.now(), message=message, reason=reason)  # type: ignore[arg-type]
        self.refused.append(refused)
        naming = f" naming officer {officer_id!r}" if officer_id is not None else ""
        detail = {**refused.model_dump(mode="json"), "via": via}
        if officer_id is not None:
            detail["named_officer"] = officer_id
        if received is not None:
            detail["received"] = received
        self._publisher.record(
            DossierEvent(
                kind="message_refused", at=refused.at, summary=f"{via} {message!r}{naming} refused: {reason}",
                detail=detail,
                **(said("message_refused_naming", via=via, message=message, officer=officer_id, reason=reason)
                   if officer_id is not None else said("message_refused", via=via, message=message, reason=reason)),
            ),
            with_state=False,
        )  # fmt: skip
