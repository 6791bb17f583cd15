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
    from domain.dossier import Awaiting, DossierEvent, PortalStatus, SystemCall
    from domain.timeline_messages import said

from workflows.dossier.progress import Refused
from workflows.dossier.retries import AGENCY_RETRY
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
        call = SystemCall(
            dossier_code=progress.input.dossier_code,
            system=system,
            operation=operation,
            # Stable across retries and replays, new for each visit of the step.
            idempotency_key=f"{progress.input.dossier_code}:{step.id}:{progress.visits[step.id]}",
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
            progress.leave(step)
            reason = f"{system} refused: {cause.message}"
            self.publisher.record(
                DossierEvent(
                    kind="notified" if notification else "agency_called", at=workflow.now(), step_id=step.id,
                    summary=f"{step.name}: {reason}", detail={"system": system, "operation": operation, "refused": True},
                    **said("notification_refused" if notification else "agency_refused", step=step.name, system=system,
                           reason=reason),
                )
            )  # fmt: skip
            # A notification that cannot be delivered never stops the dossier.
            if notification or step.on_refusal == "continue":
                progress.state.partial = progress.state.partial or not notification
                return step.next
            raise Refused(PortalStatus.stopped, "stopped", reason) from None
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
        return step.next
