"""The legal clock: each step's deadline in working days with its early warning, overdue and escalation; the
appointment promised on the receipt, moved by an apology letter or an extension, missed or kept.

Calendar arithmetic runs as local activities (calendars change, replays must not); waiting is on durable timers.
Whenever a deadline may have moved the clock's version is bumped, which wakes the watchers to look again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.legal_clock import LegalClockActivities
    from domain.definition import Role, Step
    from domain.dossier import (
        ActiveStep,
        ActorRef,
        Apology,
        ApologySubmission,
        Awaiting,
        DossierEvent,
        ExtensionSubmission,
        OfficerRef,
    )
    from domain.legal_clock_questions import AppointmentDeadline, StepClock
    from domain.timeline_messages import said
    from domain.working_calendar import VIETNAM as calendar

from workflows.dossier.notices import Notices
from workflows.dossier.progress import DossierProgress
from workflows.dossier.publishing import Publisher
from workflows.dossier.retries import READ_MODEL_RETRY
from workflows.dossier.revisions import DECISION_766, REGISTRY_DECIDES_UPDATES

_Question = TypeVar("_Question")
_Answer = TypeVar("_Answer")


class LegalClock:
    def __init__(self, progress: DossierProgress, publisher: Publisher, notices: Notices) -> None:
        self._progress = progress
        self._publisher = publisher
        self._notices = notices
        self._version = 0

    def bump(self) -> None:
        """Deadlines may have moved: the watchers look again."""
        self._version += 1

    async def ask(self, computation: Callable[[Any, _Question], _Answer], question: _Question) -> _Answer:
        """A legal-clock computation, as a local activity (it shows nothing). While one is under way the read model
        waits for its answer (revision 1), so that a step is written together with its deadline."""
        with self._publisher.held():
            return await workflow.execute_local_activity_method(
                computation,  # type: ignore[arg-type]
                question,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=READ_MODEL_RETRY,
            )

    def set_step_clock(self, step_id: str, clock: StepClock) -> None:
        active = self._progress.active.get(step_id)
        if active is not None:
            active.due_at, active.warn_at = clock.due_at, clock.warn_at
            active.due_date = calendar.local_date(clock.due_at)

    async def _sleep_until(self, moment: datetime) -> bool:
        """Sleep on a durable timer until `moment`; False when the clock changed first (look again)."""
        version = self._version
        delay = (moment - workflow.now()).total_seconds()
        if delay <= 0:
            return True
        try:
            await workflow.wait_condition(lambda: self._version != version, timeout=timedelta(seconds=delay))
        except TimeoutError:
            return True
        return False

    async def _until_changed(self) -> None:
        version = self._version
        await workflow.wait_condition(lambda: self._version != version)

    async def watch_step(self, step: Step) -> None:
        """Early warning at the definition's share of the budget, then overdue and escalation."""
        progress = self._progress
        while (active := progress.active.get(step.id)) is not None and not active.overdue:
            if active.awaiting != Awaiting.officer or active.due_at is None:
                # Waiting for the applicant: the step's clock is stopped.
                await self._until_changed()
                continue
            target = active.due_at if active.warning else (active.warn_at or active.due_at)
            if not await self._sleep_until(target):
                continue
            if step.id not in progress.active:
                return
            if not active.warning:
                active.warning = True
                share = int(progress.definition.early_warning_share * 100)
                self._publisher.record(
                    DossierEvent(
                        kind="early_warning", at=workflow.now(), step_id=step.id,
                        summary=f"{step.name}: {share}% of the budget used; "
                        f"due {active.due_at.astimezone(calendar.zone):%d/%m/%Y %H:%M}",
                        **said("early_warning", step=step.name, share=share,
                               due=f"{active.due_at.astimezone(calendar.zone):%H:%M %d/%m/%Y}"),
                    )
                )  # fmt: skip
                await self._notices.notify_unit(
                    step, active, "early_warning", f"Hồ sơ {progress.input.dossier_code} sắp đến hạn"
                )
            else:
                active.overdue = True
                self._publisher.record(
                    DossierEvent(
                        kind="overdue",
                        at=workflow.now(),
                        step_id=step.id,
                        summary=f"{step.name}: overdue",
                        **said("overdue", step=step.name),
                    )  # fmt: skip
                )
                await self._escalate(step, active)

    async def _escalate(self, step: Step, active: ActiveStep) -> None:
        escalation = step.on_overdue
        if escalation is None:
            return
        if escalation.action == "notify_leader":
            await self._notices.notify_unit(
                step, active, "escalation", f"Hồ sơ {self._progress.input.dossier_code} quá hạn", role="leader"
            )
            summary = f"{step.name}: the leader of {active.unit_code} was told"
            message = said("leader_told", step=step.name, unit=active.unit_code)
        else:
            active.role = escalation.role or Role.leader
            active.unit_code = escalation.unit_code or active.unit_code
            summary = f"{step.name}: reassigned to a {active.role.value} officer of {active.unit_code}"
            message = said("reassigned", step=step.name, role=active.role.value, unit=active.unit_code)
        self._publisher.record(
            DossierEvent(
                kind="escalated",
                at=workflow.now(),
                step_id=step.id,
                summary=summary,
                detail={"action": escalation.action},
                **message,
                by=ActorRef(kind="system", unit_code=active.unit_code, channel="system"),
            )
        )

    async def watch_appointment(self) -> None:
        """The appointment is a promise: past it, the dossier is overdue, and flagged if no apology was made."""
        progress = self._progress
        state = progress.state
        while state.outcome is None:
            if state.supplement_request is not None:
                await self._until_changed()
                continue
            deadline = await self.ask(
                LegalClockActivities.appointment_deadline,
                AppointmentDeadline(jurisdiction=progress.input.jurisdiction, appointment_date=state.appointment_date),
            )
            if not await self._sleep_until(deadline):
                continue
            if state.outcome is None and state.supplement_request is None:
                state.overdue = True
                state.overdue_without_apology = state.apology is None
                flag = " without an apology letter" if state.apology is None else ""
                self._publisher.record(
                    DossierEvent(
                        kind="overdue", at=workflow.now(),
                        summary=f"The appointment of {state.appointment_date:%d/%m/%Y} was missed{flag}",
                        **said("appointment_missed_without_apology" if flag else "appointment_missed",
                               date=f"{state.appointment_date:%d/%m/%Y}"),
                    )
                )  # fmt: skip
                if state.apology is not None and progress.revision >= REGISTRY_DECIDES_UPDATES:
                    await self._watch_apology_promise()
                return

    async def _watch_apology_promise(self) -> None:
        """The apology letter's new appointment is a promise too: missed without a further letter (which moves it
        again), the dossier is flagged as having missed its appointment without an apology."""
        progress = self._progress
        state = progress.state
        while state.outcome is None and state.apology is not None:
            if state.supplement_request is not None:
                await self._until_changed()
                continue
            promised = state.apology.new_appointment_date
            deadline = await self.ask(
                LegalClockActivities.appointment_deadline,
                AppointmentDeadline(jurisdiction=progress.input.jurisdiction, appointment_date=promised),
            )
            if not await self._sleep_until(deadline):
                continue
            if (
                state.outcome is None
                and state.supplement_request is None
                and state.apology.new_appointment_date == promised
            ):
                state.overdue_without_apology = True
                # Revision 5: a dossier apologises once (Decision 766), so no further letter can be awaited.
                once = progress.revision >= DECISION_766
                self._publisher.record(
                    DossierEvent(
                        kind="overdue", at=workflow.now(),
                        summary=f"The appointment of {promised:%d/%m/%Y} given by the apology letter was missed "
                        + ("(a dossier apologises once): missed without apology" if once
                           else "without a further apology letter"),
                        **said("apology_promise_missed_once" if once else "apology_promise_missed",
                               date=f"{promised:%d/%m/%Y}"),
                    )
                )  # fmt: skip
                return

    def take_apology(self, apology: ApologySubmission, officer: OfficerRef) -> int:
        """An apology letter (form 04) with a new appointment; returns the transition that records it."""
        state = self._progress.state
        previous = state.apology.new_appointment_date if state.apology else state.appointment_date
        state.apology = Apology(
            reason=apology.reason,
            new_appointment_date=apology.new_appointment_date,
            previous_appointment_date=previous,
            issued_at=workflow.now(),
            officer=officer.label(),
        )
        self.bump()
        return self._publisher.record(
            DossierEvent(
                kind="apology", at=workflow.now(), actor=state.apology.officer, by=officer.actor("api"),
                summary=f"Apology letter (form 04): new appointment {apology.new_appointment_date:%d/%m/%Y} "
                f"instead of {previous:%d/%m/%Y} — {apology.reason}",
                **said("apology", new=f"{apology.new_appointment_date:%d/%m/%Y}", previous=f"{previous:%d/%m/%Y}",
                       reason=apology.reason),
                detail=state.apology.model_dump(mode="json"),
            )
        )  # fmt: skip

    def take_extension(self, extension: ExtensionSubmission, officer: OfficerRef) -> int:
        """The extended time limit of a special case; returns the transition that records it."""
        state = self._progress.state
        previous = state.appointment_date
        state.appointment_date = extension.new_appointment_date
        state.extended = True
        self.bump()
        return self._publisher.record(
            DossierEvent(
                kind="extension", at=workflow.now(), actor=officer.label(), by=officer.actor("api"),
                summary=f"Time limit extended (special case): appointment {previous:%d/%m/%Y} → "
                f"{extension.new_appointment_date:%d/%m/%Y} — {extension.reason}",
                **said("extension", previous=f"{previous:%d/%m/%Y}",
                       new=f"{extension.new_appointment_date:%d/%m/%Y}", reason=extension.reason),
                detail=extension.model_dump(mode="json", exclude={"officer"}),
            )
        )  # fmt: skip
