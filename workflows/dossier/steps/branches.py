"""Steps that open other lines of work: a parallel step runs the branches that apply at once and goes on when all
have ended; a child step starts an interconnected procedure as a dossier of its own in another agency, and waits
for it. A refusal in one branch stops the others, or leaves a partial result where the definition says so."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.read_model import ReadModelActivities
    from domain import expressions
    from domain.definition import Branch, Step
    from domain.dossier import (
        Awaiting,
        ChildRegistration,
        DossierEvent,
        DossierInput,
        DossierOutcome,
        PortalStatus,
    )
    from domain.timeline_messages import said
    from forms.eform import FormInvalid, validate_form

from workflows.contract import ASSIGNED_UNIT, DOSSIER_STATUS, PROCEDURE_CODE, WORKFLOW_TYPE
from workflows.dossier.progress import Refused
from workflows.dossier.retries import READ_MODEL_RETRY
from workflows.dossier.revisions import STOP_CHILDREN_WITH_PARENT
from workflows.dossier.steps.base import StepFamily


class BranchSteps(StepFamily):
    async def parallel_step(self, step: Step) -> str | None:
        progress = self.progress
        progress.processing()
        scope = progress.scope()
        selected = [b for b in step.branches or [] if b.when is None or expressions.parse(b.when).holds(scope)]
        self.publisher.record(
            DossierEvent(
                kind="branch_started", at=workflow.now(), step_id=step.id,
                summary=f"{step.name}: {', '.join(b.name for b in selected) or 'no branch applies'}",
                **(said("branches_started", step=step.name, branches=", ".join(b.name for b in selected))
                   if selected else said("no_branch_applies", step=step.name)),
                detail={"branches": [b.id for b in selected]},
            )
        )  # fmt: skip
        tasks = [asyncio.create_task(self._run_branch(branch)) for branch in selected]
        try:
            # The first branch to stop the dossier ends the others too.
            for finished in workflow.as_completed(tasks):
                await finished
        except Refused:
            await self.stop(tasks)
            raise
        except asyncio.CancelledError:
            # The dossier's processing is ending (withdrawn, or stopped from elsewhere): so are its branches.
            if progress.follows(STOP_CHILDREN_WITH_PARENT):
                await self.stop(tasks)
            raise
        return step.next

    async def _run_branch(self, branch: Branch) -> None:
        progress = self.progress
        try:
            await self.run_path(branch.steps, branch.steps[0].id)
        except Refused as refused:
            if branch.on_refusal == "stop":
                raise
            progress.state.partial = True
            progress.branch_outcomes[branch.id] = "refused"
            self.publisher.record(
                DossierEvent(
                    kind="branch_finished", at=workflow.now(),
                    summary=f"{branch.name}: refused — {refused.reason}; the dossier goes on with a partial result",
                    **said("branch_refused", branch=branch.name, reason=refused.reason),
                    detail={"branch": branch.id, "refused": True},
                )
            )  # fmt: skip
            return
        progress.branch_outcomes[branch.id] = "done"
        self.publisher.record(
            DossierEvent(
                kind="branch_finished",
                at=workflow.now(),
                summary=f"{branch.name}: done",
                detail={"branch": branch.id},
                **said("branch_done", branch=branch.name),
            )
        )

    async def child_step(self, step: Step) -> str | None:
        progress = self.progress
        progress.processing()
        snapshot = progress.input.snapshot.children[step.id]
        scope = progress.scope()
        if step.inputs is not None:
            values = {name: expressions.parse(text).evaluate(scope) for name, text in step.inputs.items()}
        else:
            wanted = snapshot.definition.form.field_names
            values = {name: value for name, value in progress.form.items() if name in wanted}
        try:
            child_form = validate_form(snapshot.definition, values, loc_prefix=("form",))
        except (FormInvalid, expressions.ExpressionError) as invalid:
            problems = getattr(invalid, "errors", None) or str(invalid)
            raise Refused(
                PortalStatus.stopped, "stopped", f"{step.name}: the child dossier's form is invalid: {problems}"
            ) from None
        unit = progress.input.unit_for(step.id)
        try:
            child = await workflow.execute_activity_method(
                ReadModelActivities.register_child_dossier,
                ChildRegistration(
                    parent_code=progress.input.dossier_code,
                    step_id=step.id,
                    visit=progress.visits[step.id],
                    snapshot=snapshot,
                    receiving_unit=unit,
                    form=child_form,
                    applicant=progress.input.applicant,
                    channel=progress.input.channel,
                ),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=READ_MODEL_RETRY,
            )
        except ActivityError as err:
            raise Refused(PortalStatus.stopped, "stopped", f"{step.name}: {err.cause}") from None
        progress.enter(step, Awaiting.system, unit=unit)
        progress.active[step.id].child_dossier_code = child.dossier_code
        self.publisher.record(
            DossierEvent(
                kind="step_started", at=workflow.now(), step_id=step.id,
                summary=f"{step.name}: interconnected dossier {child.dossier_code} at {unit}",
                **said("child_started", step=step.name, child=child.dossier_code, unit=unit),
                detail={"child_dossier": child.dossier_code, "procedure": snapshot.code, "version": snapshot.version},
            )
        )  # fmt: skip
        child_input = DossierInput(
            dossier_code=child.dossier_code,
            snapshot=snapshot,
            form=child_form,
            applicant=progress.input.applicant,
            channel=progress.input.channel,
            receiving_unit=unit,
            received_at=child.received_at,
            appointment_date=child.appointment_date,
            step_units=child.step_units,
            jurisdiction=child.jurisdiction,
            time_limit_working_days=child.time_limit_working_days,
            step_budgets=child.step_budgets,
        )
        outcome = await workflow.execute_child_workflow(
            WORKFLOW_TYPE,
            child_input,
            id=child.dossier_code,
            task_queue=workflow.info().task_queue,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(PROCEDURE_CODE, snapshot.code),
                    SearchAttributePair(DOSSIER_STATUS, PortalStatus.registered.name),
                    SearchAttributePair(
                        ASSIGNED_UNIT, child_input.first_assigned_unit() if progress.revision >= 1 else ""
                    ),
                ]
            ),
            result_type=DossierOutcome,
        )
        # Told to stop meanwhile, this path asked the child to stop too and waited for it to end.
        stopping = asyncio.current_task() in self.stopping
        progress.leave(step)
        summary = f"{step.name}: dossier {child.dossier_code} ended {outcome.outcome}"
        self.publisher.record(
            DossierEvent(
                kind="child_finished", at=workflow.now(), step_id=step.id,
                summary=summary + (f" — {outcome.reason}" if outcome.reason else ""),
                **(said("child_finished_because", step=step.name, child=child.dossier_code, outcome=outcome.outcome,
                        reason=outcome.reason)
                   if outcome.reason else said("child_finished", step=step.name, child=child.dossier_code,
                                               outcome=outcome.outcome)),
                detail=outcome.model_dump(mode="json"),
            )
        )  # fmt: skip
        if stopping and progress.follows(STOP_CHILDREN_WITH_PARENT):
            raise asyncio.CancelledError
        if outcome.outcome == "completed":
            position = progress.step_order[step.id]
            progress.child_results += [(position, {**r, "from_dossier": child.dossier_code}) for r in outcome.results]
            progress.state.results = progress.returned_child_results()
            return step.next
        if step.on_refusal == "continue":
            progress.state.partial = True
            return step.next
        raise Refused(PortalStatus.stopped, "stopped", f"{summary}: {outcome.reason}")
