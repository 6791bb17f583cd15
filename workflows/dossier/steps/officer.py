"""Officer steps (reception, review, approval…): the step waits for a decision of an officer with the role at the
unit it is assigned to, under a deadline in working days; a supplement request stops the clock until the applicant
completes the dossier."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.legal_clock import LegalClockActivities
    from domain.definition import DecisionKind, Step, StepKind
    from domain.dossier import (
        ActorRef,
        Awaiting,
        DossierEvent,
        OfficerDecision,
        PortalStatus,
        SupplementRequest,
    )
    from domain.legal_clock_questions import ClockShift, StepClock, StepClockPlan
    from domain.timeline_messages import said

from workflows.dossier.progress import Refused
from workflows.dossier.steps.base import StepFamily


class OfficerSteps(StepFamily):
    async def officer_step(self, step: Step) -> str | None:
        assert step.role is not None
        if step.kind == StepKind.hand_back:
            return await self._hand_back(step)
        progress = self.progress
        if step.kind != StepKind.reception:
            progress.processing()
        unit = progress.input.unit_for(step.id)
        progress.enter(step, Awaiting.officer, role=step.role, unit=unit)
        clock = await self.clock.ask(
            LegalClockActivities.plan_step,
            StepClockPlan(
                start=workflow.now(),
                budget_working_days=progress.input.budget_for(step),
                warning_share=progress.definition.early_warning_share,
                jurisdiction=progress.input.jurisdiction,
            ),
        )
        self.clock.set_step_clock(step.id, clock)
        self.publisher.record(
            DossierEvent(
                kind="step_started", at=workflow.now(), step_id=step.id,
                summary=f"{step.name}: waiting for a {step.role.value} officer of {unit}",
                **said("waiting_for_officer", step=step.name, role=step.role.value, unit=unit),
                detail={
                    "due_at": clock.due_at.isoformat(), "warn_at": clock.warn_at.isoformat(),
                    "unit_code": unit, "role": step.role.value,
                },
            )
        )  # fmt: skip
        watcher = asyncio.create_task(self.clock.watch_step(step))
        try:
            return await self._await_decisions(step)
        finally:
            watcher.cancel()

    async def _hand_back(self, step: Step) -> str | None:
        """The result waits at the counter (status 9, no legal clock: the wait is the applicant's) until an officer
        of the step's role records handing it over; status 10 then (revision 4)."""
        progress = self.progress
        assert step.role is not None
        unit = progress.input.unit_for(step.id)
        progress.enter(step, Awaiting.officer, role=step.role, unit=unit)
        self.publisher.record(
            DossierEvent(
                kind="step_started", at=workflow.now(), step_id=step.id,
                summary=f"{step.name}: the result waits at the counter of {unit}",
                **said("waiting_at_the_counter", step=step.name, unit=unit),
                detail={"unit_code": unit, "role": step.role.value},
            )
        )  # fmt: skip
        return await self._await_decisions(step)

    async def _await_decisions(self, step: Step) -> str | None:
        progress, mailbox = self.progress, self.mailbox
        while True:
            await workflow.wait_condition(lambda: step.id in mailbox.decisions)
            # The message stays in the mailbox until its effect is recorded, so no second one
            # is accepted for the same step meanwhile.
            ticket, decision = mailbox.decisions[step.id]
            mailbox.serve(ticket)
            actor = decision.officer.label()
            by = mailbox.sent_by(ticket)
            detail = decision.model_dump(mode="json", exclude={"officer"}, exclude_none=True)
            due_at = progress.active[step.id].due_at
            if due_at is not None:
                # The deadline in force when deciding (a supplement may have moved it): form 06 judges by it.
                detail["step_due_at"] = due_at.isoformat()

            match decision.decision:
                case DecisionKind.approve:
                    if step.kind == StepKind.reception and progress.base_status == PortalStatus.registered:
                        progress.base_status = PortalStatus.accepted
                    if step.kind == StepKind.approval:
                        progress.approved_by = decision.officer
                    elif decision.officer.unit_code == progress.input.receiving_unit:
                        progress.received_by = decision.officer
                    progress.leave(step)
                    self.publisher.record(
                        _decision_event(
                            step, actor, f"{step.name}: approved", detail, by, said("approved", step=step.name)
                        )
                    )
                    mailbox.applied(ticket, step.id)
                    return step.next
                case DecisionKind.return_:
                    progress.leave(step)
                    self.publisher.record(
                        _decision_event(
                            step,
                            actor,
                            f"{step.name}: returned to {step.return_to} — {decision.reason}",
                            detail,
                            by,
                            said(
                                "returned",
                                step=step.name,
                                to=_step_name(progress, step.return_to),
                                reason=decision.reason or "",
                            ),
                        )  # fmt: skip
                    )
                    mailbox.applied(ticket, step.id)
                    return step.return_to
                case DecisionKind.hand_over:
                    progress.base_status = PortalStatus.result_returned
                    progress.leave(step)
                    recipient = decision.recipient or ""
                    self.publisher.record(
                        _decision_event(
                            step, actor, f"{step.name}: result handed over to {recipient}", detail, by,
                            said("handed_over", step=step.name, recipient=recipient),
                        )
                    )  # fmt: skip
                    mailbox.applied(ticket, step.id)
                    return step.next
                case DecisionKind.reject:
                    progress.leave(step)
                    self.publisher.record(
                        _decision_event(
                            step,
                            actor,
                            f"{step.name}: rejected — {decision.reason}",
                            detail,
                            by,
                            said("rejected", step=step.name, reason=decision.reason or ""),
                        )  # fmt: skip
                    )
                    mailbox.applied(ticket, step.id)
                    at_counter = step.kind == StepKind.reception and progress.base_status == PortalStatus.registered
                    # Form 03, refusing reception or handling, with the reason (revision 5).
                    await self.letters.issue(
                        "03", signing_unit=decision.officer.unit_code, signer=decision.officer.officer_id,
                        step_id=step.id, step_name=step.name, at_reception=at_counter, reason=decision.reason,
                    )  # fmt: skip
                    if at_counter:
                        raise Refused(PortalStatus.not_accepted, "refused", decision.reason or "", told_by_letter=True)
                    raise Refused(PortalStatus.stopped, "stopped", decision.reason or "", told_by_letter=True)
                case DecisionKind.request_supplement:
                    await self._await_supplement(step, decision, ticket, actor, detail)

    async def _await_supplement(
        self, step: Step, decision: OfficerDecision, ticket: int, actor: str, detail: dict[str, Any]
    ) -> None:
        """The applicant completes the dossier (one complete list, given once); then the step decides again.

        The legal clock stops meanwhile: the appointment and the step deadlines move by the working
        time spent waiting for the applicant."""
        progress, mailbox, state = self.progress, self.mailbox, self.progress.state
        progress.active[step.id].awaiting = Awaiting.applicant
        paused_at = workflow.now()
        state.supplement_count += 1
        self.clock.bump()
        state.supplement_request = SupplementRequest(
            step_id=step.id, missing=decision.missing, requested_at=workflow.now(), reason=decision.reason
        )
        self.publisher.record(
            DossierEvent(
                kind="supplement_requested", at=workflow.now(), step_id=step.id, actor=actor,
                by=mailbox.sent_by(ticket), summary=f"{step.name}: supplement requested — {'; '.join(decision.missing)}", detail=detail,
                **said("supplement_requested", step=step.name, missing="; ".join(decision.missing)),
            )
        )  # fmt: skip
        mailbox.applied(ticket, step.id)
        # Form 02: the one complete list of what is missing, signed (revision 5).
        await self.letters.issue(
            "02", signing_unit=decision.officer.unit_code, signer=decision.officer.officer_id, step_id=step.id,
            step_name=step.name, missing=decision.missing, reason=decision.reason,
        )  # fmt: skip

        await workflow.wait_condition(lambda: mailbox.supplement is not None)
        assert mailbox.supplement is not None
        ticket, supplement = mailbox.supplement
        mailbox.serve(ticket)
        progress.form.update(supplement.form)
        shifted = await self.clock.ask(
            LegalClockActivities.shift_for_suspension,
            ClockShift(
                jurisdiction=progress.input.jurisdiction,
                paused_at=paused_at,
                resumed_at=workflow.now(),
                appointment_date=state.appointment_date,
                steps={
                    s.step_id: StepClock(due_at=s.due_at, warn_at=s.warn_at or s.due_at)
                    for s in progress.active.values()
                    if s.due_at is not None
                },
            ),
        )
        previous_appointment = state.appointment_date
        state.appointment_date = shifted.appointment_date
        state.suspended_working_hours += shifted.working_hours
        for step_id, clock in shifted.steps.items():
            self.clock.set_step_clock(step_id, clock)
        progress.active[step.id].awaiting = Awaiting.officer
        state.supplement_request = None
        self.clock.bump()
        changed = ", ".join(sorted(supplement.form)) or "no field changed"
        self.publisher.record(
            DossierEvent(
                kind="supplemented", at=workflow.now(), step_id=step.id, actor=progress.input.applicant.full_name,
                by=supplement.by,
                summary=f"Applicant supplemented the dossier ({changed}); appointment "
                f"{previous_appointment.isoformat()} → {shifted.appointment_date.isoformat()}",
                detail={
                    **supplement.model_dump(mode="json", exclude_none=True),
                    "previous_appointment_date": previous_appointment.isoformat(),
                    "appointment_date": shifted.appointment_date.isoformat(),
                    "suspended_working_hours": shifted.working_hours,
                },
                **said("supplemented", changed=", ".join(sorted(supplement.form)) or "—", previous=f"{previous_appointment:%d/%m/%Y}",
                       appointment=f"{shifted.appointment_date:%d/%m/%Y}"),
            ),
            form_changed=True,
        )  # fmt: skip
        mailbox.supplement = None
        mailbox.mark_applied(ticket)


def _decision_event(
    step: Step, actor: str, summary: str, detail: dict[str, Any], by: ActorRef | None, message: dict[str, Any]
) -> DossierEvent:
    return DossierEvent(
        kind="decision", at=workflow.now(), step_id=step.id, actor=actor, summary=summary, detail=detail, by=by,
        **message,
    )  # fmt: skip


def _step_name(progress: Any, step_id: str | None) -> str:
    """A step's name as the definition writes it (its id if the definition has no such step)."""
    found = next((s for s in progress.definition.steps if s.id == step_id), None)
    return found.name if found is not None else str(step_id)
