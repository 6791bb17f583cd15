"""Steps that call another system: an adapter step asks an agency system (through the national data exchange or a
provincial platform) and keeps its answer for later expressions; a notification step sends a message. A refusal is a
business answer: it stops the dossier, or lets it go on with a partial result where the definition says so."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.agencies import AgencyActivities
    from domain.definition import Step, StepKind
    from domain.dossier import ActorRef, Awaiting, DossierEvent, PortalStatus, SystemCall, SystemCallResult
    from domain.timeline_messages import said

from workflows.dossier.progress import Refused
from workflows.dossier.retries import AGENCY_RETRY
from workflows.dossier.revisions import AGENCIES_ANSWER_LATER
from workflows.dossier.steps.base import StepFamily


class CallingSteps(StepFamily):
    async def calling_step(self, step: Step) -> str | None:
        progress = self.progress
        progress.processing()
        notification = step.kind == StepKind.notification
        system = "notification" if notification else step.system
        operation = "send" if notification else step.operation
        assert system is not None and operation is not None
        progress.enter(step, Awaiting.system, system=system)
        self.publisher.record(
            DossierEvent(
                kind="step_started", at=workflow.now(), step_id=step.id,
                summary=f"{step.name}: calling {system}.{operation}",
                **said("agency_calling", step=step.name, system=system, operation=operation),
            )
        )  # fmt: skip
        payload: dict[str, Any] = {
            "procedure_code": progress.definition.code,
            "receiving_unit": progress.input.receiving_unit,
            "applicant": progress.input.applicant.model_dump(mode="json", exclude_none=True),
        }
        if notification:
            payload["channel"] = step.channel
            payload["message"] = (step.message or "").replace("{dossier_code}", progress.input.dossier_code)
        else:
            payload["form"] = progress.form
        answered_later = step.answer == "callback" and progress.revision >= AGENCIES_ANSWER_LATER
        call = SystemCall(
            dossier_code=progress.input.dossier_code,
            system=system,
            operation=operation,
            # Stable across retries and replays, new for each visit of the step.
            idempotency_key=f"{progress.input.dossier_code}:{step.id}:{progress.visits[step.id]}",
            payload=payload,
            callback=answered_later,
        )
        ticket: int | None = None  # an agency's later answer, marked applied once its effect is recorded
        try:
            result = await workflow.execute_activity_method(
                AgencyActivities.call_system,
                call,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=AGENCY_RETRY,
            )
            if answered_later:
                result, ticket = await self._await_agency_answer(step, call, result)
        except ActivityError as err:
            cause = err.cause
            if not (isinstance(cause, ApplicationError) and cause.type == "AgencyRefused"):
                raise
            return self._refused(step, system, operation, notification, cause.message)
        except AgencyRefusedLater as refused:
            try:
                return self._refused(step, system, operation, notification, refused.reason)
            finally:
                self.mailbox.applied(refused.ticket, step.id)
        progress.agency_results[step.id] = result
        progress.leave(step)
        self.publisher.record(
            DossierEvent(
                kind="notified" if notification else "agency_called", at=workflow.now(), step_id=step.id,
                summary=f"{step.name}: {system} answered (reference {result.reference})",
                **said("agency_answered", step=step.name, system=system, reference=result.reference),
                detail=result.model_dump(mode="json", exclude_none=True),
            )
        )  # fmt: skip
        if ticket is not None:
            self.mailbox.applied(ticket, step.id)
        return step.next

    def _refused(self, step: Step, system: str, operation: str, notification: bool, message: str) -> str | None:
        """A business refusal: it stops the dossier, or lets it go on with a partial result where the definition
        says so (a notification that cannot be delivered never stops it)."""
        progress = self.progress
        progress.leave(step)
        reason = f"{system} refused: {message}"
        self.publisher.record(
            DossierEvent(
                kind="notified" if notification else "agency_called", at=workflow.now(), step_id=step.id,
                summary=f"{step.name}: {reason}", detail={"system": system, "operation": operation, "refused": True},
                **said("notification_refused" if notification else "agency_refused", step=step.name, system=system,
                       reason=reason),
            )
        )  # fmt: skip
        if notification or step.on_refusal == "continue":
            progress.state.partial = progress.state.partial or not notification
            return step.next
        raise Refused(PortalStatus.stopped, "stopped", reason)

    async def _await_agency_answer(
        self, step: Step, call: SystemCall, acknowledged: SystemCallResult
    ) -> tuple[SystemCallResult, int]:
        """The agency acknowledged the call; its answer comes later, naming the call (revision 4). Past the hours
        the definition gives it, the unit's leader is told, once; the wait goes on (the agency still owes it)."""
        progress, mailbox = self.progress, self.mailbox
        mailbox.awaited_calls[step.id] = call.idempotency_key
        self.publisher.record(
            DossierEvent(
                kind="agency_called", at=workflow.now(), step_id=step.id,
                summary=f"{step.name}: {call.system} acknowledged (reference {acknowledged.reference}); awaiting its answer",
                **said("agency_acknowledged", step=step.name, system=call.system, reference=acknowledged.reference or "—"),
                detail={"system": call.system, "operation": call.operation, "call_id": call.idempotency_key,
                        "acknowledged": True},
            )
        )  # fmt: skip
        answered = lambda: step.id in mailbox.agency_answers  # noqa: E731
        if step.answer_within_hours is not None:
            try:
                await workflow.wait_condition(answered, timeout=timedelta(hours=step.answer_within_hours))
            except TimeoutError:
                active = progress.active[step.id]
                unit = active.unit_code or progress.input.receiving_unit
                hours = f"{step.answer_within_hours:g}"
                self.publisher.record(
                    DossierEvent(
                        kind="escalated", at=workflow.now(), step_id=step.id,
                        summary=f"{step.name}: {call.system} has not answered within {hours} h; the leader of {unit} was told",
                        **said("agency_late", step=step.name, system=call.system, hours=hours, unit=unit),
                        detail={"action": "notify_leader", "system": call.system},
                        by=ActorRef(kind="system", unit_code=unit, channel="system"),
                    )
                )  # fmt: skip
                await self.notices.notify_unit(
                    step, active.model_copy(update={"unit_code": unit}), "agency_late",
                    f"Hồ sơ {progress.input.dossier_code}: {call.system} chưa trả lời", role="leader",
                )  # fmt: skip
        await workflow.wait_condition(answered)
        ticket, answer = mailbox.agency_answers[step.id]
        mailbox.serve(ticket)
        if answer.outcome == "refused":
            raise AgencyRefusedLater(answer.reason or "refused", ticket)
        answered_result = SystemCallResult(
            system=call.system,
            operation=call.operation,
            reference=answer.reference or acknowledged.reference,
            data=answer.data,
        )
        return answered_result, ticket


class AgencyRefusedLater(Exception):
    """The agency's later answer is a refusal (a business answer, as a refusal in the response is)."""

    def __init__(self, reason: str, ticket: int) -> None:
        super().__init__(reason)
        self.reason, self.ticket = reason, ticket
