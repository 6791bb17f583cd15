"""Notices through the notification system: to the officers of a unit, to the applicant. A notice that cannot be
delivered never blocks the dossier."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.agencies import AgencyActivities
    from domain.definition import Step
    from domain.dossier import ActiveStep, SystemCall

from workflows.dossier.progress import DossierProgress
from workflows.dossier.publishing import Publisher
from workflows.dossier.retries import AGENCY_RETRY


class Notices:
    def __init__(self, progress: DossierProgress, publisher: Publisher) -> None:
        self._progress = progress
        self._publisher = publisher

    async def notify_unit(
        self, step: Step, active: ActiveStep, reason: str, message: str, role: str | None = None
    ) -> None:
        """Tell the officers of the step's unit."""
        progress = self._progress
        await self._send(
            "notify_unit",
            f"{progress.input.dossier_code}:{step.id}:{progress.visits[step.id]}:{reason}",
            {
                "unit_code": active.unit_code,
                "role": role or (active.role.value if active.role else None),
                "reason": reason,
                "message": message,
            },
        )

    async def notify_applicant(self, reason: str, message: str) -> None:
        applicant = self._progress.input.applicant
        await self._send(
            "send",
            f"{self._progress.input.dossier_code}:{reason}:{self._publisher.seq}",
            {"channel": "vneid", "message": message, "applicant": applicant.model_dump(mode="json", exclude_none=True)},
        )

    async def _send(self, operation: str, idempotency_key: str, payload: dict[str, Any]) -> None:
        call = SystemCall(
            dossier_code=self._progress.input.dossier_code,
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
