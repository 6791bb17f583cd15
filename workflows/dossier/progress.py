"""Where a dossier stands, as its workflow knows it: its form, its status, the steps under way and what each
finished step left behind. Every other part of the workflow reads and changes the dossier through this."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.definition import Step
    from domain.dossier import (
        ActiveStep,
        Awaiting,
        DossierInput,
        DossierState,
        OfficerRef,
        PaymentSubmission,
        PortalStatus,
        SystemCallResult,
    )
    from domain.working_calendar import VIETNAM as calendar

from workflows.dossier.revisions import follows


class Refused(Exception):
    """A step ended its path with a refusal (rejection, agency refusal): the dossier ends with this status."""

    def __init__(self, status: PortalStatus, outcome: str, reason: str, *, told_by_letter: bool = False) -> None:
        super().__init__(reason)
        self.status = status
        self.outcome = outcome
        self.reason = reason
        self.told_by_letter = told_by_letter  # an officer's refusal, which its own letter (form 03) told


class DossierProgress:
    def __init__(self, input: DossierInput, revision: int) -> None:
        self.input = input
        self.revision = revision
        self.definition = input.snapshot.definition
        self.form: dict[str, Any] = dict(input.form)
        self.state = DossierState(status=PortalStatus.registered, appointment_date=input.appointment_date)
        self.state.original_appointment_date = input.appointment_date
        # The status the steps have reached; an open supplement request or fee request shows over it.
        self.base_status = PortalStatus.registered
        self.active: dict[str, ActiveStep] = {}
        self.visits: dict[str, int] = defaultdict(int)
        self.agency_results: dict[str, SystemCallResult] = {}
        self.branch_outcomes: dict[str, str] = {}  # branch id → done | refused
        self.paid_steps: set[str] = set()
        self.platform_payments: list[PaymentSubmission] = []  # refunded if the dossier does not complete (revision 5)
        # Results of interconnected child dossiers, with the position of the step that started each: they
        # are returned in the order of the definition's steps, whichever child finished first.
        self.child_results: list[tuple[int, dict[str, Any]]] = []
        self.step_order = {step.id: i for i, (_, step) in enumerate(self.definition.all_steps())}
        # Who signs the results: the officer of the last approval step, else the last officer of the receiving unit.
        self.approved_by: OfficerRef | None = None
        self.received_by: OfficerRef | None = None

    def follows(self, patch: str) -> bool:
        return follows(self.revision, patch)

    def scope(self) -> dict[str, Any]:
        """What expressions read: form values, and each adapter step's answer by step id."""
        return {**self.form, **{step_id: result.data for step_id, result in self.agency_results.items()}}

    def processing(self) -> None:
        if self.base_status in (PortalStatus.registered, PortalStatus.accepted):
            self.base_status = PortalStatus.processing

    def enter(
        self, step: Step, awaiting: Awaiting, *, role: Any = None, unit: str | None = None, system: str | None = None
    ) -> None:
        start_day = calendar.effective_receipt_day(workflow.now())
        self.active[step.id] = ActiveStep(
            step_id=step.id,
            name=step.name,
            kind=step.kind,
            awaiting=awaiting,
            role=role,
            unit_code=unit,
            due_date=calendar.add_working_days(start_day, self.input.budget_for(step)),
            started_at=workflow.now(),
            system=system,
        )

    def leave(self, step: Step) -> None:
        self.active.pop(step.id, None)

    def snapshot_state(self) -> DossierState:
        state = self.state.model_copy(deep=True)
        state.active_steps = [s.model_copy() for s in self.active.values()]
        if self.state.outcome is None and self.state.supplement_request is not None:
            state.status = PortalStatus.supplement_requested
        elif self.state.outcome is None and self.state.fee_request is not None:
            state.status = PortalStatus.fee_requested
        else:
            state.status = self.base_status
        return state

    def returned_child_results(self) -> list[dict[str, Any]]:
        return [entry for _, entry in sorted(self.child_results, key=lambda item: item[0])]
