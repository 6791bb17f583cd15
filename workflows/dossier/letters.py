"""Official letters (forms 02–05 of Circular 01/2018/TT-VPCP), issued by an activity when their event happens
(revision 5): signed and deposited like results, listed on the dossier through the timeline entry each leaves.
Dossiers on earlier revisions issue none."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.results import LetterActivities
    from domain.dossier import DossierEvent
    from domain.letters import LetterForm, LetterIssue
    from domain.timeline_messages import said

from workflows.dossier.progress import DossierProgress
from workflows.dossier.publishing import Publisher
from workflows.dossier.retries import AGENCY_RETRY
from workflows.dossier.revisions import OFFICIAL_LETTERS


class Letters:
    def __init__(self, progress: DossierProgress, publisher: Publisher) -> None:
        self._progress = progress
        self._publisher = publisher
        # Numbered when asked for, not when issued: two letters of a form under way at once (refusals in parallel
        # branches) must not take the same number, and so the same id in the store.
        self._numbered: dict[str, int] = {}

    @property
    def issuing(self) -> bool:
        return self._progress.revision >= OFFICIAL_LETTERS

    async def issue(
        self, form: LetterForm, *, signing_unit: str, signer: str | None, step_id: str | None = None, **particulars: Any
    ) -> None:
        """Render, sign and deposit the letter (waiting, like a result, while a key or the store is unavailable),
        then record it on the timeline, where the dossier lists its letters from."""
        if not self.issuing:
            return
        progress = self._progress
        number = self._numbered[form] = self._numbered.get(form, 0) + 1
        letter = LetterIssue(
            dossier_code=progress.input.dossier_code,
            form=form,
            number=number,
            procedure_code=progress.definition.code,
            procedure_name=progress.definition.name,
            procedure_version=progress.input.snapshot.version,
            receiving_unit=progress.input.receiving_unit,
            received_at=progress.input.received_at,
            appointment_date=progress.state.appointment_date,
            signing_unit=signing_unit,
            signer=signer,
            applicant=progress.input.applicant,
            **particulars,
        )
        issued = await workflow.execute_activity_method(
            LetterActivities.issue_letter,
            letter,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=AGENCY_RETRY,
        )
        self._publisher.record(
            DossierEvent(
                kind="letter_issued", at=workflow.now(), step_id=step_id,
                summary=f"{issued.name} (form {form}) issued as {issued.result_id}, signed by {issued.unit_code}"
                + (f"; the result store refused it: {issued.deposit_refusal}" if issued.deposit_refusal else ""),
                **said("letter_issued", letter=issued.name, form=form, letter_id=issued.letter_id,
                       result_id=issued.result_id),
                detail=issued.model_dump(mode="json"),
            ),
            with_state=False,
        )  # fmt: skip
