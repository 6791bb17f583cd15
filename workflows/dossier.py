"""DossierWorkflow: one dossier, interpreted step by step from its pinned definition snapshot.

The workflow only orchestrates. Every effect (read model, portal, agency systems) is an activity;
officer decisions and supplements arrive as Updates (validated, answered at once) or, for
integrations, as Signals carrying the same message. A message that cannot be applied is refused
with a reason, never dropped: an Update fails for its caller, a Signal is recorded in the timeline.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.agencies import AgencyActivities
    from activities.read_model import ReadModelActivities
    from domain.definition import DecisionKind, Step, StepKind
    from domain.dossier import (
        Awaiting,
        DossierEvent,
        DossierInput,
        DossierLiveDetail,
        DossierOutcome,
        DossierState,
        MessageAccepted,
        OfficerDecision,
        PortalStatus,
        PortalStatusPush,
        RefusedMessage,
        SupplementRequest,
        SupplementSubmission,
        SystemCall,
        SystemCallResult,
        Transition,
    )
    from domain.working_calendar import VIETNAM as _calendar

PROCEDURE_CODE = SearchAttributeKey.for_keyword("ProcedureCode")
DOSSIER_STATUS = SearchAttributeKey.for_keyword("DossierStatus")
ASSIGNED_UNIT = SearchAttributeKey.for_keyword("AssignedUnit")
SEARCH_ATTRIBUTES = (PROCEDURE_CODE, DOSSIER_STATUS, ASSIGNED_UNIT)

# The read model is local and must never be skipped: retry until it answers.
READ_MODEL_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10))
# Agency systems fail for hours at times: a dossier waits, never fails. Refusals are business answers.
AGENCY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=2),
    non_retryable_error_types=["AgencyRefused"],
)

NOT_AWAITING = "NotAwaiting"
NOT_YOUR_STEP = "NotYourStep"


@workflow.defn
class DossierWorkflow:
    @workflow.init
    def __init__(self, input: DossierInput) -> None:
        self._input = input
        self._definition = input.snapshot.definition
        self._form = dict(input.form)
        self._state = DossierState(status=PortalStatus.registered, appointment_date=input.appointment_date)
        self._seq = 0
        self._visits: dict[str, int] = defaultdict(int)
        self._agency_results: dict[str, SystemCallResult] = {}
        self._refused: list[RefusedMessage] = []
        # A message accepted by a handler waits here for the main loop; tickets let the handler
        # answer only once its effect is recorded, so a poll right after the answer sees it.
        self._decision: tuple[int, OfficerDecision] | None = None
        self._supplement: tuple[int, SupplementSubmission] | None = None
        self._tickets_issued = 0
        self._tickets_applied = 0
        self._portal_queue: list[PortalStatusPush] = []
        self._portal_pushed_status: PortalStatus | None = None

    # ----------------------------------------------------------------------------------- run

    @workflow.run
    async def run(self, input: DossierInput) -> DossierOutcome:
        portal_lane = asyncio.create_task(self._push_to_portal_in_order())
        await self._record(
            DossierEvent(
                kind="submitted",
                at=input.received_at,
                actor=input.applicant.full_name,
                summary=f"Dossier received by {input.receiving_unit} (channel {input.channel.value})",
                detail={"procedure_version": input.snapshot.version, "content_hash": input.snapshot.content_hash},
            )
        )

        step_id: str | None = self._definition.start_step
        while step_id is not None and self._state.outcome is None:
            step = self._definition.step(step_id)
            self._visits[step.id] += 1
            if step.is_officer_step:
                step_id = await self._officer_step(step)
            elif step.kind == StepKind.adapter:
                step_id = await self._adapter_step(step)
            elif step.kind == StepKind.result:
                step_id = await self._result_step(step)
            else:  # a definition validated at deploy cannot get here
                raise ApplicationError(f"unsupported step kind {step.kind}", non_retryable=True)

        if self._state.outcome is None:
            self._state.outcome = "completed"
            if self._state.status != PortalStatus.result_returned:
                self._state.status = PortalStatus.completed
        self._state.completed_at = workflow.now()
        self._leave_step()
        await self._record(
            DossierEvent(
                kind="finished",
                at=workflow.now(),
                summary=f"Processing ended: {self._state.outcome}",
                detail={"reason": self._state.outcome_reason} if self._state.outcome_reason else {},
            )
        )
        # Late messages still get their answer, and the portal hears every status before we end.
        await workflow.wait_condition(lambda: workflow.all_handlers_finished() and not self._portal_queue)
        portal_lane.cancel()
        assert self._state.outcome is not None
        return DossierOutcome(
            dossier_code=input.dossier_code,
            status=self._state.status,
            outcome=self._state.outcome,
            reason=self._state.outcome_reason,
        )

    # --------------------------------------------------------------------------------- steps

    async def _officer_step(self, step: Step) -> str | None:
        assert step.role is not None
        if step.kind != StepKind.reception and self._state.status in (PortalStatus.registered, PortalStatus.accepted):
            self._state.status = PortalStatus.processing
        self._enter_step(step, Awaiting.officer)
        self._state.assigned_role = step.role
        self._state.assigned_unit = self._unit_for(step)
        await self._record(
            DossierEvent(
                kind="step_started",
                at=workflow.now(),
                step_id=step.id,
                summary=f"{step.name}: waiting for a {step.role.value} officer of {self._state.assigned_unit}",
                detail={"due": self._state.step_due_date.isoformat() if self._state.step_due_date else None},
            )
        )

        while True:
            await workflow.wait_condition(lambda: self._decision is not None)
            assert self._decision is not None
            # The message stays in self._decision until its effect is recorded, so no second one
            # is accepted for the same step meanwhile.
            ticket, decision = self._decision
            actor = f"{decision.officer.officer_id} ({decision.officer.role.value}, {decision.officer.unit_code})"
            detail = decision.model_dump(mode="json", exclude={"officer"}, exclude_none=True)

            if decision.decision == DecisionKind.approve:
                if step.kind == StepKind.reception:
                    self._state.status = PortalStatus.accepted
                self._leave_step()
                await self._record(
                    DossierEvent(
                        kind="decision",
                        at=workflow.now(),
                        step_id=step.id,
                        actor=actor,
                        summary=f"{step.name}: approved",
                        detail=detail,
                    )
                )
                self._applied(ticket)
                return step.next

            if decision.decision == DecisionKind.reject:
                refused_at_counter = step.kind == StepKind.reception
                self._state.status = PortalStatus.not_accepted if refused_at_counter else PortalStatus.stopped
                self._state.outcome = "refused" if refused_at_counter else "stopped"
                self._state.outcome_reason = decision.reason
                self._leave_step()
                await self._record(
                    DossierEvent(
                        kind="decision",
                        at=workflow.now(),
                        step_id=step.id,
                        actor=actor,
                        summary=f"{step.name}: rejected — {decision.reason}",
                        detail=detail,
                    )
                )
                self._applied(ticket)
                return None

            # request_supplement: the applicant completes the dossier, then this step decides again.
            status_before = self._state.status
            self._state.status = PortalStatus.supplement_requested
            self._state.awaiting = Awaiting.applicant
            self._state.supplement_request = SupplementRequest(
                step_id=step.id, missing=decision.missing, requested_at=workflow.now(), reason=decision.reason
            )
            await self._record(
                DossierEvent(
                    kind="supplement_requested",
                    at=workflow.now(),
                    step_id=step.id,
                    actor=actor,
                    summary=f"{step.name}: supplement requested — {'; '.join(decision.missing)}",
                    detail=detail,
                )
            )
            self._applied(ticket)

            await workflow.wait_condition(lambda: self._supplement is not None)
            assert self._supplement is not None
            ticket, supplement = self._supplement
            self._form.update(supplement.form)
            self._state.status = status_before
            self._state.awaiting = Awaiting.officer
            self._state.supplement_request = None
            await self._record(
                DossierEvent(
                    kind="supplemented",
                    at=workflow.now(),
                    step_id=step.id,
                    actor=self._input.applicant.full_name,
                    summary=f"Applicant supplemented the dossier ({', '.join(sorted(supplement.form)) or 'no field changed'})",
                    detail=supplement.model_dump(mode="json", exclude_none=True),
                ),
                form_changed=True,
            )
            self._applied(ticket)

    async def _adapter_step(self, step: Step) -> str | None:
        assert step.system is not None and step.operation is not None
        if self._state.status in (PortalStatus.registered, PortalStatus.accepted):
            self._state.status = PortalStatus.processing
        self._enter_step(step, Awaiting.system)
        self._state.assigned_role = None
        self._state.assigned_unit = None
        await self._record(
            DossierEvent(
                kind="step_started",
                at=workflow.now(),
                step_id=step.id,
                summary=f"{step.name}: calling {step.system}.{step.operation}",
            )
        )
        call = SystemCall(
            dossier_code=self._input.dossier_code,
            system=step.system,
            operation=step.operation,
            # Stable across retries and replays, new for each visit of the step.
            idempotency_key=f"{self._input.dossier_code}:{step.id}:{self._visits[step.id]}",
            payload={
                "procedure_code": self._definition.code,
                "receiving_unit": self._input.receiving_unit,
                "applicant": self._input.applicant.model_dump(mode="json", exclude_none=True),
                "form": self._form,
            },
        )
        try:
            result = await workflow.execute_activity_method(
                AgencyActivities.call_system,
                call,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=AGENCY_RETRY,
            )
        except ActivityError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type == "AgencyRefused":
                self._state.status = PortalStatus.stopped
                self._state.outcome = "stopped"
                self._state.outcome_reason = f"{step.system} refused: {cause.message}"
                self._leave_step()
                await self._record(
                    DossierEvent(
                        kind="agency_called",
                        at=workflow.now(),
                        step_id=step.id,
                        summary=f"{step.name}: {step.system} refused — {cause.message}",
                        detail={"system": step.system, "operation": step.operation, "refused": True},
                    )
                )
                return None
            raise
        self._agency_results[step.id] = result
        self._leave_step()
        await self._record(
            DossierEvent(
                kind="agency_called",
                at=workflow.now(),
                step_id=step.id,
                summary=f"{step.name}: {step.system} answered (reference {result.reference})",
                detail=result.model_dump(mode="json", exclude_none=True),
            )
        )
        return step.next

    async def _result_step(self, step: Step) -> str | None:
        self._state.status = PortalStatus.completed
        self._enter_step(step, Awaiting.system)
        documents = self._definition.results or [self._definition.name]
        self._state.results = [
            {"document": name, "reference": f"{self._input.dossier_code}/{i + 1}", "electronic": True}
            for i, name in enumerate(documents)
        ]
        await self._record(
            DossierEvent(
                kind="result_issued",
                at=workflow.now(),
                step_id=step.id,
                summary=f"{step.name}: result issued ({', '.join(documents)})",
                detail={"results": self._state.results},
            )
        )
        # Results are electronic: issuing them returns them to the applicant.
        self._state.status = PortalStatus.result_returned
        self._leave_step()
        return step.next

    # ------------------------------------------------------------------------------ messages

    @workflow.update
    async def decide(self, decision: OfficerDecision) -> MessageAccepted:
        # Validators of two updates in one activation both run before either handler, so check again.
        self._check_decision(decision)
        ticket = self._issue_ticket()
        self._decision = (ticket, decision)
        await workflow.wait_condition(lambda: self._tickets_applied >= ticket)
        return self._accepted(decision.step_id)

    @decide.validator
    def _validate_decide(self, decision: OfficerDecision) -> None:
        self._check_decision(decision)

    @workflow.signal(name="decide")
    async def decide_signal(self, decision: OfficerDecision) -> None:
        try:
            self._check_decision(decision)
        except ApplicationError as refused:
            await self._refuse("decide", refused.message)
            return
        self._decision = (self._issue_ticket(), decision)

    @workflow.update
    async def supplement(self, submission: SupplementSubmission) -> MessageAccepted:
        self._check_supplement()
        ticket = self._issue_ticket()
        self._supplement = (ticket, submission)
        step_id = self._state.current_step_id or ""
        await workflow.wait_condition(lambda: self._tickets_applied >= ticket)
        return self._accepted(step_id)

    @supplement.validator
    def _validate_supplement(self, submission: SupplementSubmission) -> None:
        self._check_supplement()

    @workflow.signal(name="supplement")
    async def supplement_signal(self, submission: SupplementSubmission) -> None:
        try:
            self._check_supplement()
        except ApplicationError as refused:
            await self._refuse("supplement", refused.message)
            return
        self._supplement = (self._issue_ticket(), submission)

    @workflow.query
    def detail(self) -> DossierLiveDetail:
        return DossierLiveDetail(
            dossier_code=self._input.dossier_code,
            procedure_code=self._definition.code,
            procedure_version=self._input.snapshot.version,
            state=self._state,
            form=self._form,
            visits=dict(self._visits),
            agency_results=self._agency_results,
            refused_messages=self._refused,
            portal_pushes_pending=len(self._portal_queue),
        )

    def _check_decision(self, decision: OfficerDecision) -> None:
        state = self._state
        if state.awaiting != Awaiting.officer or self._decision is not None:
            raise ApplicationError(
                f"dossier is not awaiting an officer decision (status {state.status.name})", type=NOT_AWAITING
            )
        if decision.step_id != state.current_step_id:
            raise ApplicationError(
                f"step {decision.step_id!r} is not awaiting a decision; the current step is {state.current_step_id!r}",
                type=NOT_AWAITING,
            )
        step = self._definition.step(decision.step_id)
        if decision.decision not in step.allowed_decisions:
            raise ApplicationError(f"step {step.id!r} does not take {decision.decision.value!r}", type=NOT_AWAITING)
        if decision.officer.role != state.assigned_role or decision.officer.unit_code != state.assigned_unit:
            raise ApplicationError(
                f"step {step.id!r} is assigned to a {state.assigned_role} of {state.assigned_unit}",
                type=NOT_YOUR_STEP,
            )

    def _check_supplement(self) -> None:
        if self._state.awaiting != Awaiting.applicant or self._supplement is not None:
            raise ApplicationError(f"no supplement was requested (status {self._state.status.name})", type=NOT_AWAITING)

    async def _refuse(self, message: str, reason: str) -> None:
        refused = RefusedMessage(at=workflow.now(), message=message, reason=reason)  # type: ignore[arg-type]
        self._refused.append(refused)
        await self._record(
            DossierEvent(
                kind="message_refused",
                at=refused.at,
                summary=f"Signal {message!r} refused: {reason}",
                detail=refused.model_dump(mode="json"),
            ),
            with_state=False,
        )

    def _applied(self, ticket: int) -> None:
        self._decision = None
        self._supplement = None
        self._tickets_applied = ticket

    def _issue_ticket(self) -> int:
        self._tickets_issued += 1
        return self._tickets_issued

    def _accepted(self, step_id: str) -> MessageAccepted:
        return MessageAccepted(
            dossier_code=self._input.dossier_code,
            step_id=step_id,
            status=self._state.status,
            current_step_id=self._state.current_step_id,
            awaiting=self._state.awaiting,
        )

    # ------------------------------------------------------------------------------- helpers

    def _unit_for(self, step: Step) -> str:
        if step.unit.select == "fixed_unit" and step.unit.unit_code:
            return step.unit.unit_code
        return self._input.receiving_unit

    def _enter_step(self, step: Step, awaiting: Awaiting) -> None:
        start_day = _calendar.effective_receipt_day(workflow.now())
        self._state.current_step_id = step.id
        self._state.current_step_name = step.name
        self._state.awaiting = awaiting
        self._state.step_due_date = _calendar.add_working_days(start_day, step.budget_working_days)

    def _leave_step(self) -> None:
        self._state.current_step_id = None
        self._state.current_step_name = None
        self._state.awaiting = None
        self._state.assigned_role = None
        self._state.assigned_unit = None
        self._state.step_due_date = None

    async def _record(self, event: DossierEvent, *, with_state: bool = True, form_changed: bool = False) -> None:
        """Write one transition to the read model, and queue the portal push if the status changed."""
        self._seq += 1
        seq = self._seq
        state = self._state.model_copy(deep=True) if with_state else None
        if state is not None and state.status != self._portal_pushed_status:
            self._portal_pushed_status = state.status
            self._portal_queue.append(
                PortalStatusPush(
                    dossier_code=self._input.dossier_code,
                    seq=seq,
                    status=state.status,
                    at=event.at,
                    procedure_code=self._definition.code,
                    note=event.summary,
                )
            )
            workflow.upsert_search_attributes(
                [DOSSIER_STATUS.value_set(state.status.name), ASSIGNED_UNIT.value_set(state.assigned_unit or "")]
            )
        elif state is not None:
            workflow.upsert_search_attributes([ASSIGNED_UNIT.value_set(state.assigned_unit or "")])
        await workflow.execute_activity_method(
            ReadModelActivities.record_transition,
            Transition(
                dossier_code=self._input.dossier_code,
                seq=seq,
                event=event,
                state=state,
                form=dict(self._form) if form_changed else None,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=READ_MODEL_RETRY,
        )

    async def _push_to_portal_in_order(self) -> None:
        """The portal hears every status change, in order; a slow portal never holds an officer's work."""
        while True:
            await workflow.wait_condition(lambda: bool(self._portal_queue))
            push = self._portal_queue[0]
            await workflow.execute_activity_method(
                AgencyActivities.push_portal_status,
                push,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=AGENCY_RETRY,
            )
            self._portal_queue.pop(0)
