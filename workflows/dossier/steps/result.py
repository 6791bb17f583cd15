"""The result step: the results are rendered, signed with the key of the unit that approved them and deposited in the
electronic result store; issuing them returns them to the applicant. While the store is down the dossier waits on it
(status 9). The results of interconnected child dossiers are returned together with the dossier's own."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.results import ResultActivities
    from domain.definition import FieldType, Step, StepKind
    from domain.dossier import Awaiting, DossierEvent, PortalStatus
    from domain.results import RESULT_STORE, IssuedResult, ResultField, ResultIssue, ResultToIssue
    from domain.timeline_messages import said

from workflows.dossier.retries import AGENCY_RETRY
from workflows.dossier.revisions import HAND_BACK, SIGNED_RESULTS
from workflows.dossier.steps.base import StepFamily


class ResultSteps(StepFamily):
    async def result_step(self, step: Step) -> str | None:
        progress = self.progress
        if not progress.follows(SIGNED_RESULTS):
            return await self._unsigned_result_step(step)
        definition = progress.definition
        progress.base_status = PortalStatus.completed
        progress.enter(step, Awaiting.system, system=RESULT_STORE)
        catalogue = {d.id: d for d in definition.results}
        wanted = step.documents or list(catalogue)
        # A document that comes from a parallel branch exists only if that branch went through.
        documents = [
            ResultToIssue(document_id=doc, name=catalogue[doc].name, template=catalogue[doc].template)
            for doc in wanted
            if catalogue[doc].branch is None or progress.branch_outcomes.get(catalogue[doc].branch or "") == "done"
        ] or [ResultToIssue(document_id="result", name=definition.name)]
        signer = progress.approved_by or progress.received_by
        signing_unit = progress.approved_by.unit_code if progress.approved_by else progress.input.receiving_unit
        self.publisher.record(
            DossierEvent(
                kind="step_started", at=workflow.now(), step_id=step.id,
                summary=f"{step.name}: signing as {signing_unit} and depositing in the electronic result store",
                **said("result_signing", step=step.name, unit=signing_unit),
            )
        )  # fmt: skip
        issued = await workflow.execute_activity_method(
            ResultActivities.issue_results,
            ResultIssue(
                dossier_code=progress.input.dossier_code,
                procedure_code=definition.code,
                procedure_name=definition.name,
                procedure_version=progress.input.snapshot.version,
                receiving_unit=progress.input.receiving_unit,
                received_at=progress.input.received_at,
                signing_unit=signing_unit,
                signer=signer.officer_id if signer else None,
                legal_basis=list(definition.legal_basis),
                applicant=progress.input.applicant,
                form=progress.form,
                fields=[
                    ResultField(name=f.name, label=f.label, type=f.type.value)
                    for f in definition.form.fields
                    if f.type != FieldType.attachment
                ],
                agency_results=progress.agency_results,
                documents=documents,
            ),
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=AGENCY_RETRY,
        )
        progress.state.results = [
            *progress.returned_child_results(),
            *(self._result_entry(r) for r in issued.results),
        ]
        refused = [r for r in issued.results if r.deposit_refusal]
        self.publisher.record(
            DossierEvent(
                kind="result_issued", at=workflow.now(), step_id=step.id,
                summary=f"{step.name}: result issued ({', '.join(r.name for r in issued.results)}), "
                f"signed by {signing_unit}"
                + (f"; the result store refused {', '.join(r.document_id for r in refused)}" if refused else ""),
                **said(
                    "result_issued_store_refused" if refused else "result_issued", step=step.name, unit=signing_unit,
                    results=", ".join(r.name for r in issued.results),
                    **({"refused": ", ".join(r.document_id for r in refused)} if refused else {}),
                ),
                detail={"results": progress.state.results},
            )
        )  # fmt: skip
        # Results are electronic: issuing them returns them to the applicant, unless the definition hands them over at
        # the counter next (revision 4), which returns them then.
        if not self._handed_back_next(step):
            progress.base_status = PortalStatus.result_returned
        progress.leave(step)
        return step.next

    def _handed_back_next(self, step: Step) -> bool:
        progress = self.progress
        if step.next is None or progress.revision < HAND_BACK:
            return False
        return progress.definition.step(step.next).kind == StepKind.hand_back

    async def _unsigned_result_step(self, step: Step) -> str | None:
        """The result step of dossiers whose history went through it before results were signed: references only."""
        progress = self.progress
        progress.base_status = PortalStatus.completed
        progress.enter(step, Awaiting.system)
        catalogue = {d.id: d for d in progress.definition.results}
        documents = [
            (doc, catalogue[doc].name)
            for doc in step.documents or list(catalogue)
            if catalogue[doc].branch is None or progress.branch_outcomes.get(catalogue[doc].branch or "") == "done"
        ] or [("result", progress.definition.name)]
        progress.state.results = [
            *progress.returned_child_results(),
            *(
                {"document": name, "id": doc, "reference": f"{progress.input.dossier_code}/{doc}", "electronic": True}
                for doc, name in documents
            ),
        ]
        self.publisher.record(
            DossierEvent(
                kind="result_issued", at=workflow.now(), step_id=step.id,
                summary=f"{step.name}: result issued ({', '.join(name for _, name in documents)})",
                **said("result_issued_by_children", step=step.name, results=", ".join(name for _, name in documents)),
                detail={"results": progress.state.results},
            )
        )  # fmt: skip
        progress.base_status = PortalStatus.result_returned
        progress.leave(step)
        return step.next

    def _result_entry(self, result: IssuedResult) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "document": result.name,
            "id": result.document_id,
            "reference": f"{self.progress.input.dossier_code}/{result.document_id}",
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
