"""The interpreter of a definition's step graph, one family of steps a module.

Each step leads to `next`; an officer may `return` the dossier to an earlier step; a parallel step runs its
branches at once and continues when all have ended. Several steps can therefore be active at the same time, each
awaiting its own officer.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain import expressions
    from domain.definition import Step, StepKind
    from domain.dossier import DossierEvent
    from domain.timeline_messages import said

from workflows.dossier.steps.branches import BranchSteps
from workflows.dossier.steps.calling import CallingSteps
from workflows.dossier.steps.fee import FeeSteps
from workflows.dossier.steps.officer import OfficerSteps
from workflows.dossier.steps.result import ResultSteps


class StepInterpreter(OfficerSteps, CallingSteps, FeeSteps, BranchSteps, ResultSteps):
    async def run_path(self, steps: list[Step], start: str) -> None:
        by_id = {step.id: step for step in steps}
        current: str | None = start
        while current is not None:
            step = by_id[current]
            self.progress.visits[step.id] += 1
            if step.skip_when and expressions.parse(step.skip_when).holds(self.progress.scope()):
                self.publisher.record(
                    DossierEvent(
                        kind="step_skipped", at=workflow.now(), step_id=step.id,
                        summary=f"{step.name}: skipped ({step.skip_when})",
                        **said("step_skipped", step=step.name, condition=step.skip_when),
                    )
                )  # fmt: skip
                current = step.next
                continue
            if step.is_officer_step:
                current = await self.officer_step(step)
            elif step.kind in (StepKind.adapter, StepKind.notification):
                current = await self.calling_step(step)
            elif step.kind == StepKind.fee:
                current = await self.fee_step(step)
            elif step.kind == StepKind.parallel:
                current = await self.parallel_step(step)
            elif step.kind == StepKind.child:
                current = await self.child_step(step)
            elif step.kind == StepKind.result:
                current = await self.result_step(step)
            else:  # a definition validated at deploy cannot get here
                raise ApplicationError(f"unsupported step kind {step.kind}", non_retryable=True)
