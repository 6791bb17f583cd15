"""DossierWorkflow: one dossier, interpreted from its pinned definition snapshot.

The workflow only orchestrates. Every effect (read model, portal, agency systems) is an activity;
officer decisions, supplements and payments arrive as Updates (validated, answered at once) or, for
integrations, as Signals carrying the same message. A message that cannot be applied is refused
with a reason, never dropped: an Update fails for its caller, a Signal is recorded in the timeline.

Steps form a graph: each step leads to `next`; an officer may `return` the dossier to an earlier
step; a parallel step runs its branches at once and continues when all have ended. Several steps
can therefore be active at the same time, each awaiting its own officer.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import (
    RetryPolicy,
    SearchAttributeKey,
    SearchAttributePair,
    SearchAttributeUpdate,
    TypedSearchAttributes,
)
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.agencies import AgencyActivities
    from activities.legal_clock import LegalClockActivities
    from activities.publishing import PublishingActivities
    from activities.read_model import ReadModelActivities
    from activities.results import ResultActivities
    from domain import expressions
    from domain.definition import Branch, DecisionKind, FieldType, Role, Step, StepKind
    from domain.dossier import (
        ActiveStep,
        ActorRef,
        Apology,
        ApologySubmission,
        AppointmentDeadline,
        Awaiting,
        ChildRegistration,
        ClockShift,
        DossierEvent,
        DossierInput,
        DossierLiveDetail,
        DossierOutcome,
        DossierState,
        ExtensionSubmission,
        FeeRequest,
        MessageAccepted,
        OfficerDecision,
        OfficerRef,
        PaymentSubmission,
        PortalStatus,
        PortalStatusPush,
        PublishBatch,
        RefusedMessage,
        StepClock,
        StepClockPlan,
        SupplementRequest,
        SupplementSubmission,
        SystemCall,
        SystemCallResult,
        Transition,
        TransitionBatch,
        Withdrawal,
    )
    from domain.results import RESULT_STORE, IssuedResult, ResultField, ResultIssue, ResultToIssue
    from domain.working_calendar import VIETNAM as _calendar
    from forms.eform import FormInvalid, validate_form

PROCEDURE_CODE = SearchAttributeKey.for_keyword("ProcedureCode")
DOSSIER_STATUS = SearchAttributeKey.for_keyword("DossierStatus")
ASSIGNED_UNIT = SearchAttributeKey.for_keyword("AssignedUnit")

# The read model must never be skipped: retry until it answers. Since publish-locally its writes are local
# activities within the workflow task that decided them (a transition whose sequence number is recorded already
# is skipped); before, they were activities scheduled once that task was durable. Calendar arithmetic, which
# shows nothing, runs as local activities too.
READ_MODEL_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10))
# Agency systems fail for hours at times: a dossier waits, never fails. Refusals are business answers.
AGENCY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=2),
    non_retryable_error_types=["AgencyRefused"],
)

_Question = TypeVar("_Question")
_Answer = TypeVar("_Answer")

NOT_AWAITING = "NotAwaiting"
# Results are signed and deposited by an activity since this patch; dossiers that reached their result
# step before it replay the old path.
SIGNED_RESULTS = "signed-results"
# Since this patch a dossier whose processing ends while interconnected child dossiers are under way (withdrawn,
# stopped by a sibling branch, or itself stopped by its own parent) stops them first: a child dossier asked to
# stop (a Temporal cancellation) ends with status 8 instead of being cancelled mid-step, and a branch never goes
# on past a child that stopped with it. Earlier histories replay the old path.
STOP_CHILDREN_WITH_PARENT = "stop-children-with-parent"
NOT_YOUR_STEP = "NotYourStep"
# Since this patch what one workflow task decides is published together: its transitions and the portal pushes
# queued with them in one activity (the portal lane takes over when the portal is slow or down), the search
# attributes changed since the last batch in one upsert. Earlier histories replay one activity per lane and an
# upsert per transition.
PUBLISH_TOGETHER = "publish-together"
# Since this patch that publication is a local activity: the worker that decided the transitions writes them
# within the same workflow task, so a read-model write costs the history one marker instead of an activity's
# three events and a workflow task of its own, and an officer's decision is answered in the task that applied
# it. Earlier histories replay the publication as an activity.
PUBLISH_LOCALLY = "publish-locally"
# A dossier records one patch marker, the revision of the workflow it started on, instead of a marker per change
# (each of which the SDK follows with a search-attribute upsert of its own). Revision 1 takes every change above,
# and: the dossier's status and units are indexed only when they change, its units kept while it waits on another
# system, and a transition is published once the calendar has planned the step it starts. A later change bumps
# REVISION and asks `self._revision >= n`. Dossiers started before revisions have no such marker (revision 0) and
# answer each patch above by its own marker, as before.
REVISION = 1
REVISION_PATCH = "dossier-revision-{}"


def _started_revision() -> int:
    """The revision this dossier started on: recorded by its first workflow task, found again on replay."""
    for revision in range(REVISION, 0, -1):
        if workflow.patched(REVISION_PATCH.format(revision)):
            return revision
    return 0


class _Refused(Exception):
    """A step ended its path with a refusal (rejection, agency refusal)."""

    def __init__(self, status: PortalStatus, outcome: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.outcome = outcome
        self.reason = reason


@workflow.defn
class DossierWorkflow:
    @workflow.init
    def __init__(self, input: DossierInput) -> None:
        self._input = input
        self._revision = _started_revision()
        self._definition = input.snapshot.definition
        self._form: dict[str, Any] = dict(input.form)
        self._state = DossierState(status=PortalStatus.registered, appointment_date=input.appointment_date)
        self._base_status = PortalStatus.registered
        self._active: dict[str, ActiveStep] = {}
        self._seq = 0
        self._visits: dict[str, int] = defaultdict(int)
        self._agency_results: dict[str, SystemCallResult] = {}
        self._refused: list[RefusedMessage] = []
        # A message accepted by a handler waits here for its step; tickets let the handler answer only
        # once the effect is recorded, so a poll right after the answer sees it.
        self._decisions: dict[str, tuple[int, OfficerDecision]] = {}
        self._payments: dict[str, tuple[int, PaymentSubmission]] = {}
        self._supplement: tuple[int, SupplementSubmission] | None = None
        self._tickets_issued = 0
        self._tickets_applied: set[int] = set()
        self._ticket_seq: dict[int, int] = {}  # the transition a message's answer waits to see recorded
        self._record_queue: list[Transition] = []
        self._recorded_seq = 0
        self._indexed_units = ""
        self._indexed_status: str | None = None
        if self._revision >= 1:  # as its starter indexed it (the API, or a parent dossier)
            started_with = workflow.info().typed_search_attributes
            self._indexed_units = started_with.get(ASSIGNED_UNIT) or ""
            self._indexed_status = started_with.get(DOSSIER_STATUS)
        self._asking_calendar = 0  # calendar questions under way: the read model hears their step once answered
        self._portal_queue: list[PortalStatusPush] = []
        self._portal_pushed_status: PortalStatus | None = None
        self._portal_lane_pushing = False
        self._pending_attributes: dict[str, SearchAttributeUpdate] = {}
        self._branch_outcomes: dict[str, str] = {}  # branch id → done | refused
        self._paid_steps: set[str] = set()
        # Results of interconnected child dossiers, with the position of the step that started each: they
        # are returned in the order of the definition's steps, whichever child finished first.
        self._child_results: list[tuple[int, dict[str, Any]]] = []
        self._step_order = {step.id: i for i, (_, step) in enumerate(self._definition.all_steps())}
        self._state.original_appointment_date = input.appointment_date
        self._clock_version = 0  # bumped whenever deadlines may have moved, to wake the watchers
        self._withdrawal: tuple[int, Withdrawal] | None = None
        self._message_by: dict[int, ActorRef] = {}  # ticket → who sent the message (the audit trail)
        self._stopping: set[asyncio.Task[Any]] = set()  # paths told to stop: the dossier's processing is ending
        # Who signs the results: the officer of the last approval step, else the last officer of the receiving unit.
        self._approved_by: OfficerRef | None = None
        self._received_by: OfficerRef | None = None

    # ----------------------------------------------------------------------------------- run

    @workflow.run
    async def run(self, input: DossierInput) -> DossierOutcome:
        portal_lane = asyncio.create_task(self._push_to_portal_in_order())
        read_model_lane = asyncio.create_task(self._write_read_model_in_order())
        await self._record(
            DossierEvent(
                kind="submitted",
                at=input.received_at,
                actor=input.applicant.full_name,
                by=input.received_by,
                summary=f"Dossier received by {input.receiving_unit} (channel {input.channel.value})",
                detail={"procedure_version": input.snapshot.version, "content_hash": input.snapshot.content_hash},
            )
        )
        appointment_watch = asyncio.create_task(self._watch_appointment())
        try:
            await self._run_until_withdrawn()
            self._state.outcome = "completed"
            if self._base_status != PortalStatus.result_returned:
                self._base_status = PortalStatus.completed
        except _Refused as refused:
            self._base_status = refused.status
            self._state.outcome = refused.outcome  # type: ignore[assignment]
            self._state.outcome_reason = refused.reason
        appointment_watch.cancel()
        self._active.clear()
        self._state.supplement_request = None
        self._state.fee_request = None
        self._state.completed_at = workflow.now()
        self._bump_clock()
        await self._record(
            DossierEvent(
                kind="finished",
                at=workflow.now(),
                summary=f"Processing ended: {self._state.outcome}"
                + (" (partial result)" if self._state.partial else ""),
                by=self._withdrawal[1].by if self._withdrawal is not None else None,
                detail={"reason": self._state.outcome_reason} if self._state.outcome_reason else {},
            )
        )
        if self._withdrawal is not None:
            self._mark_applied(self._withdrawal[0])
        # Late messages still get their answer; the read model and the portal hear everything before we end.
        await workflow.wait_condition(
            lambda: workflow.all_handlers_finished() and not self._portal_queue and not self._record_queue
        )
        portal_lane.cancel()
        read_model_lane.cancel()
        assert self._state.outcome is not None
        return DossierOutcome(
            dossier_code=input.dossier_code,
            status=self._state.status,
            outcome=self._state.outcome,
            reason=self._state.outcome_reason,
            results=self._state.results,
        )

    async def _run_until_withdrawn(self) -> None:
        """Run the step graph; an applicant's withdrawal (status 7) ends it wherever it stands, and so does the
        end of the dossier that started this one as an interconnected child (status 8)."""
        main = asyncio.create_task(self._run_path(self._definition.steps, self._definition.start_step))
        try:
            await workflow.wait_condition(lambda: main.done() or self._withdrawal is not None)
        except asyncio.CancelledError:
            if not self._follows(STOP_CHILDREN_WITH_PARENT):
                raise
            await self._stop([main])
            parent = workflow.info().parent
            raise _Refused(
                PortalStatus.stopped,
                "stopped",
                f"stopped with {parent.workflow_id}, the interconnected dossier that started this one"
                if parent is not None
                else "processing was cancelled",
            ) from None
        if main.done():
            return main.result()
        await self._stop([main])
        assert self._withdrawal is not None
        raise _Refused(PortalStatus.withdrawn, "withdrawn", self._withdrawal[1].reason)

    async def _stop(self, paths: list[asyncio.Task[Any]]) -> None:
        """Stop paths of the step graph under way (and the child dossiers they wait on), and wait until they have."""
        for path in paths:
            self._stopping.add(path)
            path.cancel()
        await asyncio.gather(*paths, return_exceptions=True)

    async def _run_path(self, steps: list[Step], start: str) -> None:
        by_id = {step.id: step for step in steps}
        current: str | None = start
        while current is not None:
            step = by_id[current]
            self._visits[step.id] += 1
            if step.skip_when and expressions.parse(step.skip_when).holds(self._scope()):
                await self._record(
                    DossierEvent(
                        kind="step_skipped", at=workflow.now(), step_id=step.id,
                        summary=f"{step.name}: skipped ({step.skip_when})",
                    )
                )  # fmt: skip
                current = step.next
                continue
            if step.is_officer_step:
                current = await self._officer_step(step)
            elif step.kind in (StepKind.adapter, StepKind.notification):
                current = await self._calling_step(step)
            elif step.kind == StepKind.fee:
                current = await self._fee_step(step)
            elif step.kind == StepKind.parallel:
                current = await self._parallel_step(step)
            elif step.kind == StepKind.child:
                current = await self._child_step(step)
            elif step.kind == StepKind.result:
                current = await self._result_step(step)
            else:  # a definition validated at deploy cannot get here
                raise ApplicationError(f"unsupported step kind {step.kind}", non_retryable=True)

    # --------------------------------------------------------------------------------- steps

    async def _officer_step(self, step: Step) -> str | None:
        assert step.role is not None
        if step.kind != StepKind.reception:
            self._processing()
        unit = self._input.unit_for(step.id)
        self._enter(step, Awaiting.officer, role=step.role, unit=unit)
        clock = await self._ask_calendar(
            LegalClockActivities.plan_step,
            StepClockPlan(
                start=workflow.now(),
                budget_working_days=step.budget_working_days,
                warning_share=self._definition.early_warning_share,
                jurisdiction=self._input.jurisdiction,
            ),
        )
        self._set_clock(step.id, clock)
        await self._record(
            DossierEvent(
                kind="step_started", at=workflow.now(), step_id=step.id,
                summary=f"{step.name}: waiting for a {step.role.value} officer of {unit}",
                detail={
                    "due_at": clock.due_at.isoformat(), "warn_at": clock.warn_at.isoformat(),
                    "unit_code": unit, "role": step.role.value,
                },
            )
        )  # fmt: skip
        watcher = asyncio.create_task(self._watch_step(step))
        try:
            return await self._await_decisions(step)
        finally:
            watcher.cancel()

    async def _await_decisions(self, step: Step) -> str | None:
        while True:
            await workflow.wait_condition(lambda: step.id in self._decisions)
            # The message stays in self._decisions until its effect is recorded, so no second one
            # is accepted for the same step meanwhile.
            ticket, decision = self._decisions[step.id]
            actor = decision.officer.label()
            by = self._message_by.get(ticket)
            detail = decision.model_dump(mode="json", exclude={"officer"}, exclude_none=True)
            due_at = self._active[step.id].due_at
            if due_at is not None:
                # The deadline in force when deciding (a supplement may have moved it): form 06 judges by it.
                detail["step_due_at"] = due_at.isoformat()

            match decision.decision:
                case DecisionKind.approve:
                    if step.kind == StepKind.reception and self._base_status == PortalStatus.registered:
                        self._base_status = PortalStatus.accepted
                    if step.kind == StepKind.approval:
                        self._approved_by = decision.officer
                    elif decision.officer.unit_code == self._input.receiving_unit:
                        self._received_by = decision.officer
                    self._leave(step)
                    await self._record(self._decision_event(step, actor, f"{step.name}: approved", detail, by))
                    self._applied(ticket, step.id)
                    return step.next
                case DecisionKind.return_:
                    self._leave(step)
                    await self._record(
                        self._decision_event(
                            step, actor, f"{step.name}: returned to {step.return_to} — {decision.reason}", detail, by
                        )
                    )
                    self._applied(ticket, step.id)
                    return step.return_to
                case DecisionKind.reject:
                    self._leave(step)
                    await self._record(
                        self._decision_event(step, actor, f"{step.name}: rejected — {decision.reason}", detail, by)
                    )
                    self._applied(ticket, step.id)
                    at_counter = step.kind == StepKind.reception and self._base_status == PortalStatus.registered
                    if at_counter:
                        raise _Refused(PortalStatus.not_accepted, "refused", decision.reason or "")
                    raise _Refused(PortalStatus.stopped, "stopped", decision.reason or "")
                case DecisionKind.request_supplement:
                    await self._await_supplement(step, decision, ticket, actor, detail)

    @staticmethod
    def _decision_event(
        step: Step, actor: str, summary: str, detail: dict[str, Any], by: ActorRef | None
    ) -> DossierEvent:
        return DossierEvent(
            kind="decision", at=workflow.now(), step_id=step.id, actor=actor, summary=summary, detail=detail, by=by
        )

    async def _await_supplement(
        self, step: Step, decision: OfficerDecision, ticket: int, actor: str, detail: dict[str, Any]
    ) -> None:
        """The applicant completes the dossier (one complete list, given once); then the step decides again.

        The legal clock stops meanwhile: the appointment and the step deadlines move by the working
        time spent waiting for the applicant."""
        self._active[step.id].awaiting = Awaiting.applicant
        paused_at = workflow.now()
        self._state.supplement_count += 1
        self._bump_clock()
        self._state.supplement_request = SupplementRequest(
            step_id=step.id, missing=decision.missing, requested_at=workflow.now(), reason=decision.reason
        )
        await self._record(
            DossierEvent(
                kind="supplement_requested", at=workflow.now(), step_id=step.id, actor=actor,
                by=self._message_by.get(ticket), summary=f"{step.name}: supplement requested — {'; '.join(decision.missing)}", detail=detail,
            )
        )  # fmt: skip
        self._applied(ticket, step.id)

        await workflow.wait_condition(lambda: self._supplement is not None)
        assert self._supplement is not None
        ticket, supplement = self._supplement
        self._form.update(supplement.form)
        shifted = await self._ask_calendar(
            LegalClockActivities.shift_for_suspension,
            ClockShift(
                jurisdiction=self._input.jurisdiction,
                paused_at=paused_at,
                resumed_at=workflow.now(),
                appointment_date=self._state.appointment_date,
                steps={
                    s.step_id: StepClock(due_at=s.due_at, warn_at=s.warn_at or s.due_at)
                    for s in self._active.values()
                    if s.due_at is not None
                },
            ),
        )
        previous_appointment = self._state.appointment_date
        self._state.appointment_date = shifted.appointment_date
        self._state.suspended_working_hours += shifted.working_hours
        for step_id, clock in shifted.steps.items():
            self._set_clock(step_id, clock)
        self._active[step.id].awaiting = Awaiting.officer
        self._state.supplement_request = None
        self._bump_clock()
        changed = ", ".join(sorted(supplement.form)) or "no field changed"
        await self._record(
            DossierEvent(
                kind="supplemented", at=workflow.now(), step_id=step.id, actor=self._input.applicant.full_name,
                by=supplement.by,
                summary=f"Applicant supplemented the dossier ({changed}); appointment "
                f"{previous_appointment.isoformat()} → {shifted.appointment_date.isoformat()}",
                detail={
                    **supplement.model_dump(mode="json", exclude_none=True),
                    "previous_appointment_date": previous_appointment.isoformat(),
                    "appointment_date": shifted.appointment_date.isoformat(),
                    "suspended_working_hours": shifted.working_hours,
                },
            ),
            form_changed=True,
        )  # fmt: skip
        self._supplement = None
        self._mark_applied(ticket)

    async def _calling_step(self, step: Step) -> str | None:
        self._processing()
        notification = step.kind == StepKind.notification
        system = "notification" if notification else step.system
        operation = "send" if notification else step.operation
        assert system is not None and operation is not None
        self._enter(step, Awaiting.system, system=system)
        await self._record(
            DossierEvent(
                kind="step_started", at=workflow.now(), step_id=step.id,
                summary=f"{step.name}: calling {system}.{operation}",
            )
        )  # fmt: skip
        payload: dict[str, Any] = {
            "procedure_code": self._definition.code,
            "receiving_unit": self._input.receiving_unit,
            "applicant": self._input.applicant.model_dump(mode="json", exclude_none=True),
        }
        if notification:
            payload["channel"] = step.channel
            payload["message"] = (step.message or "").replace("{dossier_code}", self._input.dossier_code)
        else:
            payload["form"] = self._form
        call = SystemCall(
            dossier_code=self._input.dossier_code,
            system=system,
            operation=operation,
            # Stable across retries and replays, new for each visit of the step.
            idempotency_key=f"{self._input.dossier_code}:{step.id}:{self._visits[step.id]}",
            payload=payload,
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
            if not (isinstance(cause, ApplicationError) and cause.type == "AgencyRefused"):
                raise
            self._leave(step)
            reason = f"{system} refused: {cause.message}"
            await self._record(
                DossierEvent(
                    kind="notified" if notification else "agency_called", at=workflow.now(), step_id=step.id,
                    summary=f"{step.name}: {reason}", detail={"system": system, "operation": operation, "refused": True},
                )
            )  # fmt: skip
            # A notification that cannot be delivered never stops the dossier.
            if notification or step.on_refusal == "continue":
                self._state.partial = self._state.partial or not notification
                return step.next
            raise _Refused(PortalStatus.stopped, "stopped", reason) from None
        self._agency_results[step.id] = result
        self._leave(step)
        await self._record(
            DossierEvent(
                kind="notified" if notification else "agency_called", at=workflow.now(), step_id=step.id,
                summary=f"{step.name}: {system} answered (reference {result.reference})",
                detail=result.model_dump(mode="json", exclude_none=True),
            )
        )  # fmt: skip
        return step.next

    async def _fee_step(self, step: Step) -> str | None:
        self._processing()
        fee = step.fee or self._definition.fee
        amount: Any = fee.amount_vnd
        if amount is None and fee.expression:
            try:
                amount = expressions.parse(fee.expression).evaluate(self._scope())
            except expressions.ExpressionError as exc:
                raise _Refused(PortalStatus.stopped, "stopped", f"the fee could not be computed: {exc}") from None
        if not isinstance(amount, (int, float)) or isinstance(amount, bool) or amount < 0:
            raise _Refused(PortalStatus.stopped, "stopped", f"the fee could not be computed (got {amount!r})")
        amount = int(round(amount))
        if step.id in self._paid_steps:
            # A dossier returned to an earlier step passes here again: the obligation was met once.
            await self._record(
                DossierEvent(
                    kind="step_skipped", at=workflow.now(), step_id=step.id, summary=f"{step.name}: already paid"
                )
            )
            return step.next
        if amount == 0:
            await self._record(
                DossierEvent(
                    kind="step_skipped", at=workflow.now(), step_id=step.id, summary=f"{step.name}: no fee due"
                )
            )
            return step.next
        self._enter(step, Awaiting.applicant)
        self._state.fee_request = FeeRequest(
            step_id=step.id, amount_vnd=amount, requested_at=workflow.now(), description=fee.description
        )
        await self._record(
            DossierEvent(
                kind="fee_requested", at=workflow.now(), step_id=step.id,
                summary=f"{step.name}: {amount:,} VND to pay", detail={"amount_vnd": amount},
            )
        )  # fmt: skip
        await workflow.wait_condition(lambda: step.id in self._payments)
        ticket, payment = self._payments[step.id]
        self._state.fee_request = None
        self._state.fees_paid_vnd += payment.amount_vnd
        self._paid_steps.add(step.id)
        self._leave(step)
        await self._record(
            DossierEvent(
                kind="fee_paid", at=workflow.now(), step_id=step.id, actor=self._input.applicant.full_name,
                by=payment.by,
                summary=f"{step.name}: {payment.amount_vnd:,} VND paid (receipt {payment.receipt_reference})",
                detail=payment.model_dump(mode="json"),
            )
        )  # fmt: skip
        self._applied(ticket, step.id)
        return step.next

    async def _parallel_step(self, step: Step) -> str | None:
        self._processing()
        scope = self._scope()
        selected = [b for b in step.branches or [] if b.when is None or expressions.parse(b.when).holds(scope)]
        await self._record(
            DossierEvent(
                kind="branch_started", at=workflow.now(), step_id=step.id,
                summary=f"{step.name}: {', '.join(b.name for b in selected) or 'no branch applies'}",
                detail={"branches": [b.id for b in selected]},
            )
        )  # fmt: skip
        tasks = [asyncio.create_task(self._run_branch(branch)) for branch in selected]
        try:
            # The first branch to stop the dossier ends the others too.
            for finished in workflow.as_completed(tasks):
                await finished
        except _Refused:
            await self._stop(tasks)
            raise
        except asyncio.CancelledError:
            # The dossier's processing is ending (withdrawn, or stopped from elsewhere): so are its branches.
            if self._follows(STOP_CHILDREN_WITH_PARENT):
                await self._stop(tasks)
            raise
        return step.next

    async def _run_branch(self, branch: Branch) -> None:
        try:
            await self._run_path(branch.steps, branch.steps[0].id)
        except _Refused as refused:
            if branch.on_refusal == "stop":
                raise
            self._state.partial = True
            self._branch_outcomes[branch.id] = "refused"
            await self._record(
                DossierEvent(
                    kind="branch_finished", at=workflow.now(),
                    summary=f"{branch.name}: refused — {refused.reason}; the dossier goes on with a partial result",
                    detail={"branch": branch.id, "refused": True},
                )
            )  # fmt: skip
            return
        self._branch_outcomes[branch.id] = "done"
        await self._record(
            DossierEvent(
                kind="branch_finished", at=workflow.now(), summary=f"{branch.name}: done", detail={"branch": branch.id}
            )
        )

    async def _child_step(self, step: Step) -> str | None:
        """Start the interconnected procedure as its own dossier in the other agency, and wait for it."""
        self._processing()
        snapshot = self._input.snapshot.children[step.id]
        scope = self._scope()
        if step.inputs is not None:
            values = {name: expressions.parse(text).evaluate(scope) for name, text in step.inputs.items()}
        else:
            wanted = snapshot.definition.form.field_names
            values = {name: value for name, value in self._form.items() if name in wanted}
        try:
            child_form = validate_form(snapshot.definition, values, loc_prefix=("form",))
        except (FormInvalid, expressions.ExpressionError) as invalid:
            problems = getattr(invalid, "errors", None) or str(invalid)
            raise _Refused(
                PortalStatus.stopped, "stopped", f"{step.name}: the child dossier's form is invalid: {problems}"
            ) from None
        unit = self._input.unit_for(step.id)
        try:
            child = await workflow.execute_activity_method(
                ReadModelActivities.register_child_dossier,
                ChildRegistration(
                    parent_code=self._input.dossier_code,
                    step_id=step.id,
                    visit=self._visits[step.id],
                    snapshot=snapshot,
                    receiving_unit=unit,
                    form=child_form,
                    applicant=self._input.applicant,
                    channel=self._input.channel,
                ),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=READ_MODEL_RETRY,
            )
        except ActivityError as err:
            raise _Refused(PortalStatus.stopped, "stopped", f"{step.name}: {err.cause}") from None
        self._enter(step, Awaiting.system, unit=unit)
        self._active[step.id].child_dossier_code = child.dossier_code
        await self._record(
            DossierEvent(
                kind="step_started", at=workflow.now(), step_id=step.id,
                summary=f"{step.name}: interconnected dossier {child.dossier_code} at {unit}",
                detail={"child_dossier": child.dossier_code, "procedure": snapshot.code, "version": snapshot.version},
            )
        )  # fmt: skip
        child_input = DossierInput(
            dossier_code=child.dossier_code,
            snapshot=snapshot,
            form=child_form,
            applicant=self._input.applicant,
            channel=self._input.channel,
            receiving_unit=unit,
            received_at=child.received_at,
            appointment_date=child.appointment_date,
            step_units=child.step_units,
            jurisdiction=child.jurisdiction,
        )
        outcome = await workflow.execute_child_workflow(
            DossierWorkflow.run,
            child_input,
            id=child.dossier_code,
            task_queue=workflow.info().task_queue,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(PROCEDURE_CODE, snapshot.code),
                    SearchAttributePair(DOSSIER_STATUS, PortalStatus.registered.name),
                    SearchAttributePair(
                        ASSIGNED_UNIT, child_input.first_assigned_unit() if self._revision >= 1 else ""
                    ),
                ]
            ),
        )
        # Told to stop meanwhile, this path asked the child to stop too and waited for it to end.
        stopping = asyncio.current_task() in self._stopping
        self._leave(step)
        summary = f"{step.name}: dossier {child.dossier_code} ended {outcome.outcome}"
        await self._record(
            DossierEvent(
                kind="child_finished", at=workflow.now(), step_id=step.id,
                summary=summary + (f" — {outcome.reason}" if outcome.reason else ""),
                detail=outcome.model_dump(mode="json"),
            )
        )  # fmt: skip
        if stopping and self._follows(STOP_CHILDREN_WITH_PARENT):
            raise asyncio.CancelledError
        if outcome.outcome == "completed":
            position = self._step_order[step.id]
            self._child_results += [(position, {**r, "from_dossier": child.dossier_code}) for r in outcome.results]
            self._state.results = self._returned_child_results()
            return step.next
        if step.on_refusal == "continue":
            self._state.partial = True
            return step.next
        raise _Refused(PortalStatus.stopped, "stopped", f"{summary}: {outcome.reason}")

    async def _result_step(self, step: Step) -> str | None:
        """Issue the results: rendered, signed with the key of the unit that approved them, deposited in the
        electronic result store. While the store is down the dossier waits on it (status 9), then returns them."""
        if not self._follows(SIGNED_RESULTS):
            return await self._unsigned_result_step(step)
        self._base_status = PortalStatus.completed
        self._enter(step, Awaiting.system, system=RESULT_STORE)
        catalogue = {d.id: d for d in self._definition.results}
        wanted = step.documents or list(catalogue)
        # A document that comes from a parallel branch exists only if that branch went through.
        documents = [
            ResultToIssue(document_id=doc, name=catalogue[doc].name, template=catalogue[doc].template)
            for doc in wanted
            if catalogue[doc].branch is None or self._branch_outcomes.get(catalogue[doc].branch or "") == "done"
        ] or [ResultToIssue(document_id="result", name=self._definition.name)]
        signer = self._approved_by or self._received_by
        signing_unit = self._approved_by.unit_code if self._approved_by else self._input.receiving_unit
        await self._record(
            DossierEvent(
                kind="step_started", at=workflow.now(), step_id=step.id,
                summary=f"{step.name}: signing as {signing_unit} and depositing in the electronic result store",
            )
        )  # fmt: skip
        issued = await workflow.execute_activity_method(
            ResultActivities.issue_results,
            ResultIssue(
                dossier_code=self._input.dossier_code,
                procedure_code=self._definition.code,
                procedure_name=self._definition.name,
                procedure_version=self._input.snapshot.version,
                receiving_unit=self._input.receiving_unit,
                received_at=self._input.received_at,
                signing_unit=signing_unit,
                signer=signer.officer_id if signer else None,
                legal_basis=list(self._definition.legal_basis),
                applicant=self._input.applicant,
                form=self._form,
                fields=[
                    ResultField(name=f.name, label=f.label, type=f.type.value)
                    for f in self._definition.form.fields
                    if f.type != FieldType.attachment
                ],
                agency_results=self._agency_results,
                documents=documents,
            ),
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=AGENCY_RETRY,
        )
        # The results of interconnected child dossiers are returned together with this dossier's own.
        self._state.results = [*self._returned_child_results(), *(self._result_entry(r) for r in issued.results)]
        refused = [r for r in issued.results if r.deposit_refusal]
        await self._record(
            DossierEvent(
                kind="result_issued", at=workflow.now(), step_id=step.id,
                summary=f"{step.name}: result issued ({', '.join(r.name for r in issued.results)}), "
                f"signed by {signing_unit}"
                + (f"; the result store refused {', '.join(r.document_id for r in refused)}" if refused else ""),
                detail={"results": self._state.results},
            )
        )  # fmt: skip
        # Results are electronic: issuing them returns them to the applicant.
        self._base_status = PortalStatus.result_returned
        self._leave(step)
        return step.next

    async def _unsigned_result_step(self, step: Step) -> str | None:
        """The result step as it was before signed results, for dossiers whose history already went through it."""
        self._base_status = PortalStatus.completed
        self._enter(step, Awaiting.system)
        catalogue = {d.id: d for d in self._definition.results}
        documents = [
            (doc, catalogue[doc].name)
            for doc in step.documents or list(catalogue)
            if catalogue[doc].branch is None or self._branch_outcomes.get(catalogue[doc].branch or "") == "done"
        ] or [("result", self._definition.name)]
        self._state.results = [
            *self._returned_child_results(),
            *(
                {"document": name, "id": doc, "reference": f"{self._input.dossier_code}/{doc}", "electronic": True}
                for doc, name in documents
            ),
        ]
        await self._record(
            DossierEvent(
                kind="result_issued", at=workflow.now(), step_id=step.id,
                summary=f"{step.name}: result issued ({', '.join(name for _, name in documents)})",
                detail={"results": self._state.results},
            )
        )  # fmt: skip
        self._base_status = PortalStatus.result_returned
        self._leave(step)
        return step.next

    def _returned_child_results(self) -> list[dict[str, Any]]:
        return [entry for _, entry in sorted(self._child_results, key=lambda item: item[0])]

    def _result_entry(self, result: IssuedResult) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "document": result.name,
            "id": result.document_id,
            "reference": f"{self._input.dossier_code}/{result.document_id}",
            "electronic": True,
            "result_id": result.result_id,
            "sha256": result.sha256,
            "html_sha256": result.html_sha256,
            "unit_code": result.unit_code,
            "signer": result.signer,
            "issued_at": result.issued_at.isoformat(),
            "deposited": result.deposited,
        }
        if result.deposit_refusal:
            entry["deposit_refusal"] = result.deposit_refusal
        return entry

    # ----------------------------------------------------------------------------- the clock

    def _bump_clock(self) -> None:
        self._clock_version += 1

    def _set_clock(self, step_id: str, clock: StepClock) -> None:
        active = self._active.get(step_id)
        if active is not None:
            active.due_at, active.warn_at = clock.due_at, clock.warn_at
            active.due_date = _calendar.local_date(clock.due_at)

    async def _sleep_until(self, moment: datetime) -> bool:
        """Sleep on a durable timer until `moment`; False when the clock changed first (look again)."""
        version = self._clock_version
        delay = (moment - workflow.now()).total_seconds()
        if delay <= 0:
            return True
        try:
            await workflow.wait_condition(lambda: self._clock_version != version, timeout=timedelta(seconds=delay))
        except TimeoutError:
            return True
        return False

    async def _watch_step(self, step: Step) -> None:
        """Early warning at the definition's share of the budget, then overdue and escalation."""
        while (active := self._active.get(step.id)) is not None and not active.overdue:
            if active.awaiting != Awaiting.officer or active.due_at is None:
                # Waiting for the applicant: the step's clock is stopped.
                version = self._clock_version
                await workflow.wait_condition(lambda v=version: self._clock_version != v)  # type: ignore[misc]
                continue
            target = active.due_at if active.warning else (active.warn_at or active.due_at)
            if not await self._sleep_until(target):
                continue
            if step.id not in self._active:
                return
            if not active.warning:
                active.warning = True
                await self._record(
                    DossierEvent(
                        kind="early_warning", at=workflow.now(), step_id=step.id,
                        summary=f"{step.name}: {int(self._definition.early_warning_share * 100)}% of the budget used; "
                        f"due {active.due_at.astimezone(_calendar.zone):%d/%m/%Y %H:%M}",
                    )
                )  # fmt: skip
                await self._notify_unit(step, active, "early_warning", f"Hồ sơ {self._input.dossier_code} sắp đến hạn")
            else:
                active.overdue = True
                await self._record(
                    DossierEvent(kind="overdue", at=workflow.now(), step_id=step.id, summary=f"{step.name}: overdue")
                )
                await self._escalate(step, active)

    async def _escalate(self, step: Step, active: ActiveStep) -> None:
        escalation = step.on_overdue
        if escalation is None:
            return
        if escalation.action == "notify_leader":
            await self._notify_unit(
                step, active, "escalation", f"Hồ sơ {self._input.dossier_code} quá hạn", role="leader"
            )
            summary = f"{step.name}: the leader of {active.unit_code} was told"
        else:
            active.role = escalation.role or Role.leader
            active.unit_code = escalation.unit_code or active.unit_code
            summary = f"{step.name}: reassigned to a {active.role.value} officer of {active.unit_code}"
        await self._record(
            DossierEvent(
                kind="escalated",
                at=workflow.now(),
                step_id=step.id,
                summary=summary,
                detail={"action": escalation.action},
                by=ActorRef(kind="system", unit_code=active.unit_code, channel="system"),
            )
        )

    async def _notify_unit(
        self, step: Step, active: ActiveStep, reason: str, message: str, role: str | None = None
    ) -> None:
        """Tell the officers of the step's unit."""
        await self._send_notice(
            "notify_unit",
            f"{self._input.dossier_code}:{step.id}:{self._visits[step.id]}:{reason}",
            {
                "unit_code": active.unit_code,
                "role": role or (active.role.value if active.role else None),
                "reason": reason,
                "message": message,
            },
        )

    async def _send_notice(self, operation: str, idempotency_key: str, payload: dict[str, Any]) -> None:
        """A notice through the notification system; one that cannot be delivered never blocks the dossier."""
        call = SystemCall(
            dossier_code=self._input.dossier_code,
            system="notification",
            operation=operation,
            idempotency_key=idempotency_key,
            payload=payload,
        )
        try:
            await workflow.execute_activity_method(
                AgencyActivities.call_system,
                call,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=AGENCY_RETRY,
            )
        except ActivityError:
            workflow.logger.warning("notice %s was refused", idempotency_key)

    async def _watch_appointment(self) -> None:
        """The appointment is a promise: past it, the dossier is overdue, and flagged if no apology was made."""
        while self._state.outcome is None:
            if self._state.supplement_request is not None:
                version = self._clock_version
                await workflow.wait_condition(lambda v=version: self._clock_version != v)  # type: ignore[misc]
                continue
            deadline = await self._ask_calendar(
                LegalClockActivities.appointment_deadline,
                AppointmentDeadline(
                    jurisdiction=self._input.jurisdiction, appointment_date=self._state.appointment_date
                ),
            )
            if not await self._sleep_until(deadline):
                continue
            if self._state.outcome is None and self._state.supplement_request is None:
                self._state.overdue = True
                self._state.overdue_without_apology = self._state.apology is None
                flag = " without an apology letter" if self._state.apology is None else ""
                await self._record(
                    DossierEvent(
                        kind="overdue", at=workflow.now(),
                        summary=f"The appointment of {self._state.appointment_date:%d/%m/%Y} was missed{flag}",
                    )
                )  # fmt: skip
                return

    # ------------------------------------------------------------------------------ messages

    @workflow.update
    async def apologize(self, apology: ApologySubmission) -> MessageAccepted:
        officer = self._check_apology(apology)
        previous = self._state.apology.new_appointment_date if self._state.apology else self._state.appointment_date
        self._state.apology = Apology(
            reason=apology.reason,
            new_appointment_date=apology.new_appointment_date,
            previous_appointment_date=previous,
            issued_at=workflow.now(),
            officer=officer.label(),
        )
        self._bump_clock()
        seq = await self._record(
            DossierEvent(
                kind="apology", at=workflow.now(), actor=self._state.apology.officer, by=officer.actor("api"),
                summary=f"Apology letter (form 04): new appointment {apology.new_appointment_date:%d/%m/%Y} "
                f"instead of {previous:%d/%m/%Y} — {apology.reason}",
                detail=self._state.apology.model_dump(mode="json"),
            )
        )  # fmt: skip
        await workflow.wait_condition(lambda: self._recorded_seq >= seq)
        await self._notify_applicant(
            "apology",
            f"Hồ sơ {self._input.dossier_code}: xin lỗi vì trễ hẹn; ngày hẹn mới {apology.new_appointment_date:%d/%m/%Y}.",
        )
        return self._accepted("")

    @apologize.validator
    def _validate_apologize(self, apology: ApologySubmission) -> None:
        self._check_apology(apology)

    @workflow.update
    async def extend(self, extension: ExtensionSubmission) -> MessageAccepted:
        officer = self._check_extension(extension)
        previous = self._state.appointment_date
        self._state.appointment_date = extension.new_appointment_date
        self._state.extended = True
        self._bump_clock()
        seq = await self._record(
            DossierEvent(
                kind="extension", at=workflow.now(), actor=officer.label(), by=officer.actor("api"),
                summary=f"Time limit extended (special case): appointment {previous:%d/%m/%Y} → "
                f"{extension.new_appointment_date:%d/%m/%Y} — {extension.reason}",
                detail=extension.model_dump(mode="json", exclude={"officer"}),
            )
        )  # fmt: skip
        await workflow.wait_condition(lambda: self._recorded_seq >= seq)
        return self._accepted("")

    @extend.validator
    def _validate_extend(self, extension: ExtensionSubmission) -> None:
        self._check_extension(extension)

    @workflow.update
    async def withdraw(self, withdrawal: Withdrawal) -> MessageAccepted:
        self._check_open("withdraw")
        ticket = self._issue_ticket()
        self._withdrawal = (ticket, withdrawal)
        await workflow.wait_condition(lambda: self._answered(ticket))
        return self._accepted("")

    @withdraw.validator
    def _validate_withdraw(self, withdrawal: Withdrawal) -> None:
        self._check_open("withdraw")

    def _not_awaiting(self, message: str) -> ApplicationError:
        """A message the dossier does not await now, said with the last transition it has reached: after a worker
        died mid-task, the read model may already show what the redone task is about to reach again (a step
        awaiting a decision), and the API, seeing the read model ahead, asks again instead of answering 409."""
        return ApplicationError(message, self._seq, type=NOT_AWAITING)

    def _check_open(self, what: str) -> None:
        if self._state.outcome is not None or self._withdrawal is not None:
            raise self._not_awaiting(f"the dossier's processing has ended; nothing to {what}")

    def _check_acting_officer(self, officer: OfficerRef) -> OfficerRef:
        """The officer in a capacity at the receiving unit or a unit with a step under way."""
        units = [self._input.receiving_unit, *(s.unit_code for s in self._active.values() if s.unit_code)]
        for unit in units:
            acting = officer.acting_as(None, unit)
            if acting is not None:
                return acting
        raise ApplicationError(
            f"only officers of {', '.join(sorted(set(units)))} act on this dossier now", type=NOT_YOUR_STEP
        )

    def _check_apology(self, apology: ApologySubmission) -> OfficerRef:
        self._check_open("apologise for")
        acting = self._check_acting_officer(apology.officer)
        promised = self._state.apology.new_appointment_date if self._state.apology else self._state.appointment_date
        if apology.new_appointment_date <= promised:
            raise self._not_awaiting(f"the new appointment must come after {promised.isoformat()}")
        return acting

    def _check_extension(self, extension: ExtensionSubmission) -> OfficerRef:
        self._check_open("extend")
        acting = self._check_acting_officer(extension.officer)
        if self._definition.extended_time_limit_working_days is None:
            raise self._not_awaiting("this procedure has no extended time limit")
        if self._state.extended:
            raise self._not_awaiting("the time limit was already extended")
        if extension.new_appointment_date <= self._state.appointment_date:
            raise self._not_awaiting("an extension moves the appointment later")
        return acting

    async def _notify_applicant(self, reason: str, message: str) -> None:
        await self._send_notice(
            "send",
            f"{self._input.dossier_code}:{reason}:{self._seq}",
            {
                "channel": "vneid",
                "message": message,
                "applicant": self._input.applicant.model_dump(mode="json", exclude_none=True),
            },
        )

    # Each message is an Update (validated, answered once its effect is recorded) and, for integrations,
    # a Signal carrying the same message (refused in the timeline when it cannot apply).

    async def _answer_update(
        self, check: Callable[[], None], accept: Callable[[int], None], step_id: str
    ) -> MessageAccepted:
        # Validators of two updates in one activation both run before either handler, so check again.
        check()
        ticket = self._issue_ticket()
        accept(ticket)
        await workflow.wait_condition(lambda: self._answered(ticket))
        return self._accepted(step_id)

    async def _take_signal(self, message: str, check: Callable[[], None], accept: Callable[[int], None]) -> None:
        try:
            check()
        except ApplicationError as refused:
            await self._refuse(message, refused.message)
            return
        accept(self._issue_ticket())

    def _store_decision(self, decision: OfficerDecision, channel: str) -> Callable[[int], None]:
        def store(ticket: int) -> None:
            # Kept in the capacity the step needs (role, unit, on behalf of), as the audit trail records it.
            active = self._active[decision.step_id]
            acting = decision.officer.acting_as(active.role, active.unit_code) or decision.officer
            self._decisions[decision.step_id] = (ticket, decision.model_copy(update={"officer": acting}))
            self._message_by[ticket] = acting.actor(channel)

        return store

    def _store_supplement(self, submission: SupplementSubmission) -> Callable[[int], None]:
        def store(ticket: int) -> None:
            self._supplement = (ticket, submission)

        return store

    def _store_payment(self, payment: PaymentSubmission) -> Callable[[int], None]:
        def store(ticket: int) -> None:
            self._payments[payment.step_id] = (ticket, payment)

        return store

    @workflow.update
    async def decide(self, decision: OfficerDecision) -> MessageAccepted:
        check = lambda: self._check_decision(decision)  # noqa: E731
        return await self._answer_update(check, self._store_decision(decision, "api"), decision.step_id)

    @decide.validator
    def _validate_decide(self, decision: OfficerDecision) -> None:
        self._check_decision(decision)

    @workflow.signal(name="decide")
    async def decide_signal(self, decision: OfficerDecision) -> None:
        await self._take_signal(
            "decide", lambda: self._check_decision(decision), self._store_decision(decision, "signal")
        )

    @workflow.update
    async def supplement(self, submission: SupplementSubmission) -> MessageAccepted:
        self._check_supplement()
        assert self._state.supplement_request is not None
        step_id = self._state.supplement_request.step_id
        return await self._answer_update(self._check_supplement, self._store_supplement(submission), step_id)

    @supplement.validator
    def _validate_supplement(self, submission: SupplementSubmission) -> None:
        self._check_supplement()

    @workflow.signal(name="supplement")
    async def supplement_signal(self, submission: SupplementSubmission) -> None:
        await self._take_signal("supplement", self._check_supplement, self._store_supplement(submission))

    @workflow.update
    async def pay(self, payment: PaymentSubmission) -> MessageAccepted:
        check = lambda: self._check_payment(payment)  # noqa: E731
        return await self._answer_update(check, self._store_payment(payment), payment.step_id)

    @pay.validator
    def _validate_pay(self, payment: PaymentSubmission) -> None:
        self._check_payment(payment)

    @workflow.signal(name="pay")
    async def pay_signal(self, payment: PaymentSubmission) -> None:
        await self._take_signal("pay", lambda: self._check_payment(payment), self._store_payment(payment))

    @workflow.query
    def detail(self) -> DossierLiveDetail:
        return DossierLiveDetail(
            dossier_code=self._input.dossier_code,
            procedure_code=self._definition.code,
            procedure_version=self._input.snapshot.version,
            state=self._snapshot_state(),
            form=self._form,
            visits=dict(self._visits),
            agency_results=self._agency_results,
            refused_messages=self._refused,
            portal_pushes_pending=len(self._portal_queue),
        )

    def _check_decision(self, decision: OfficerDecision) -> None:
        active = self._active.get(decision.step_id)
        if active is None or active.awaiting != Awaiting.officer or decision.step_id in self._decisions:
            waiting = [s.step_id for s in self._active.values() if s.awaiting == Awaiting.officer]
            raise self._not_awaiting(
                f"step {decision.step_id!r} is not awaiting a decision; steps awaiting one: {waiting or 'none'}"
            )
        step = self._definition.step(decision.step_id)
        if decision.decision not in step.allowed_decisions:
            raise self._not_awaiting(f"step {step.id!r} does not take {decision.decision.value!r}")
        if decision.decision == DecisionKind.request_supplement and self._state.supplement_request is not None:
            raise self._not_awaiting("a supplement request is already open for this dossier")
        if decision.officer.acting_as(active.role, active.unit_code) is None:
            raise ApplicationError(
                f"step {step.id!r} is assigned to a {active.role} officer of {active.unit_code}", type=NOT_YOUR_STEP
            )

    def _check_supplement(self) -> None:
        if self._state.supplement_request is None or self._supplement is not None:
            raise self._not_awaiting(f"no supplement was requested (status {self._state.status.name})")

    def _check_payment(self, payment: PaymentSubmission) -> None:
        due = self._state.fee_request
        if due is None or due.step_id != payment.step_id or payment.step_id in self._payments:
            raise self._not_awaiting(f"no payment is awaited for step {payment.step_id!r}")
        if payment.amount_vnd != due.amount_vnd:
            raise self._not_awaiting(f"the amount due is {due.amount_vnd} VND, not {payment.amount_vnd}")

    async def _refuse(self, message: str, reason: str) -> None:
        refused = RefusedMessage(at=workflow.now(), message=message, reason=reason)  # type: ignore[arg-type]
        self._refused.append(refused)
        await self._record(
            DossierEvent(
                kind="message_refused", at=refused.at, summary=f"Signal {message!r} refused: {reason}",
                detail=refused.model_dump(mode="json"),
            ),
            with_state=False,
        )  # fmt: skip

    def _issue_ticket(self) -> int:
        self._tickets_issued += 1
        return self._tickets_issued

    def _applied(self, ticket: int, step_id: str) -> None:
        self._decisions.pop(step_id, None)
        self._payments.pop(step_id, None)
        self._mark_applied(ticket)

    def _mark_applied(self, ticket: int) -> None:
        self._ticket_seq[ticket] = self._seq
        self._tickets_applied.add(ticket)

    def _answered(self, ticket: int) -> bool:
        """A message is answered once its effect is in the read model, so a poll right after sees it."""
        return ticket in self._tickets_applied and self._recorded_seq >= self._ticket_seq[ticket]

    def _accepted(self, step_id: str) -> MessageAccepted:
        return MessageAccepted(
            dossier_code=self._input.dossier_code,
            step_id=step_id,
            status=self._snapshot_state().status,
            active_step_ids=list(self._active),
        )

    # ------------------------------------------------------------------------------- helpers

    def _follows(self, patch: str) -> bool:
        """Whether this dossier takes the path a change before revisions introduced: every dossier started on a
        revision does; an older one answers by that change's own patch marker."""
        return self._revision >= 1 or workflow.patched(patch)

    async def _ask_calendar(self, computation: Callable[[Any, _Question], _Answer], question: _Question) -> _Answer:
        """A legal-clock computation, as a local activity (it shows nothing; calendars change, replays must not).
        While one is under way the read model waits for its answer (revision 1), so that what happened before a
        step and the step it starts are written together."""
        self._asking_calendar += 1
        try:
            return await workflow.execute_local_activity_method(
                computation,  # type: ignore[arg-type]
                question,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=READ_MODEL_RETRY,
            )
        finally:
            self._asking_calendar -= 1

    def _scope(self) -> dict[str, Any]:
        """What expressions read: form values, and each adapter step's answer by step id."""
        return {**self._form, **{step_id: result.data for step_id, result in self._agency_results.items()}}

    def _processing(self) -> None:
        if self._base_status in (PortalStatus.registered, PortalStatus.accepted):
            self._base_status = PortalStatus.processing

    def _enter(
        self, step: Step, awaiting: Awaiting, *, role: Any = None, unit: str | None = None, system: str | None = None
    ) -> None:
        start_day = _calendar.effective_receipt_day(workflow.now())
        self._active[step.id] = ActiveStep(
            step_id=step.id,
            name=step.name,
            kind=step.kind,
            awaiting=awaiting,
            role=role,
            unit_code=unit,
            due_date=_calendar.add_working_days(start_day, step.budget_working_days),
            started_at=workflow.now(),
            system=system,
        )

    def _leave(self, step: Step) -> None:
        self._active.pop(step.id, None)

    def _snapshot_state(self) -> DossierState:
        state = self._state.model_copy(deep=True)
        state.active_steps = [s.model_copy() for s in self._active.values()]
        if self._state.outcome is None and self._state.supplement_request is not None:
            state.status = PortalStatus.supplement_requested
        elif self._state.outcome is None and self._state.fee_request is not None:
            state.status = PortalStatus.fee_requested
        else:
            state.status = self._base_status
        return state

    async def _record(self, event: DossierEvent, *, with_state: bool = True, form_changed: bool = False) -> int:
        """Queue one transition for the read model (written in order, in batches), and the portal push if
        the status changed. Returns its sequence number."""
        self._seq += 1
        seq = self._seq
        state = self._snapshot_state() if with_state else None
        if state is not None:
            self._state.status = state.status
            attributes = []
            units = ",".join(sorted({s.unit_code for s in state.active_steps if s.unit_code}))
            if not units and state.completed_at is None and self._revision >= 1:
                units = self._indexed_units  # waiting on another system: still with the units that sent it there
            if units != self._indexed_units:
                self._indexed_units = units
                attributes.append(ASSIGNED_UNIT.value_set(units))
            if state.status != self._portal_pushed_status:
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
            if state.status.name != self._indexed_status:
                self._indexed_status = state.status.name
                attributes.append(DOSSIER_STATUS.value_set(state.status.name))
            if attributes and self._follows(PUBLISH_TOGETHER):
                self._pending_attributes.update((update.key.name, update) for update in attributes)
            elif attributes:
                workflow.upsert_search_attributes(attributes)
        self._record_queue.append(
            Transition(
                dossier_code=self._input.dossier_code,
                seq=seq,
                event=event,
                state=state,
                form=dict(self._form) if form_changed else None,
            )
        )
        return seq

    async def _write_read_model_in_order(self) -> None:
        """The read model hears every transition once, in order; what queued meanwhile goes in one batch, with
        the portal pushes queued so far riding along unless the portal lane is retrying one."""
        while True:
            if self._revision >= 1:
                await workflow.wait_condition(lambda: bool(self._record_queue) and not self._asking_calendar)
            else:
                await workflow.wait_condition(lambda: bool(self._record_queue))
            batch = self._record_queue[:100]
            if not self._follows(PUBLISH_TOGETHER):
                await workflow.execute_activity_method(
                    ReadModelActivities.record_transitions,
                    TransitionBatch(transitions=batch),
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=READ_MODEL_RETRY,
                )
            else:
                # The search attributes follow the read model: what changed since the last batch, in one upsert.
                if self._pending_attributes:
                    workflow.upsert_search_attributes(list(self._pending_attributes.values()))
                    self._pending_attributes.clear()
                pushes = [] if self._portal_lane_pushing else list(self._portal_queue)
                locally = self._follows(PUBLISH_LOCALLY)
                execute = workflow.execute_local_activity_method if locally else workflow.execute_activity_method
                published = await execute(
                    PublishingActivities.publish_transitions,
                    PublishBatch(transitions=batch, portal_pushes=pushes),
                    # A write takes milliseconds and the portal rides along for a second at most; one dispatched
                    # to a worker that then died (before publish-locally) is tried again soon.
                    start_to_close_timeout=timedelta(seconds=10),
                    retry_policy=READ_MODEL_RETRY,
                )
                # Only this lane and the portal lane take from the front of the queue, never both at once.
                del self._portal_queue[: published.portal_pushed]
            del self._record_queue[: len(batch)]
            self._recorded_seq = batch[-1].seq

    async def _push_to_portal_in_order(self) -> None:
        """The portal hears every status change, in order; a slow portal never holds an officer's work. Pushes
        ride along with the read-model writes; this lane takes those the portal did not take there."""
        while True:
            if self._follows(PUBLISH_TOGETHER):
                # A push is queued together with its transition: leave it to the read-model lane first.
                await workflow.wait_condition(lambda: bool(self._portal_queue) and not self._record_queue)
            else:
                await workflow.wait_condition(lambda: bool(self._portal_queue))
            push = self._portal_queue[0]
            self._portal_lane_pushing = True
            await workflow.execute_activity_method(
                AgencyActivities.push_portal_status,
                push,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=AGENCY_RETRY,
            )
            self._portal_lane_pushing = False
            self._portal_queue.pop(0)
