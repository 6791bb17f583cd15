"""Issuing a dossier's results: rendered, signed by the approving unit, kept, and deposited in the result store.

One activity per result step. Issuing is idempotent per dossier and document (see results.issuing), and
so is the deposit (its Idempotency-Key), so Temporal may retry the whole activity freely: while the result
store is down the dossier waits on it, like on any agency system, and finishes once it is back.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.result_store import ResultStoreClient
from domain.letters import IssuedLetter, LetterIssue
from domain.results import IssuedResult, IssuedResults, ResultIssue
from readmodel import results as stored
from readmodel.db import as_utc, utcnow
from readmodel.tables import IssuedResultRow
from results.issuing import ResultIssuer

log = logging.getLogger(__name__)


class ResultActivities:
    def __init__(self, engine: Engine, issuer: ResultIssuer, store: ResultStoreClient) -> None:
        self._engine = engine
        self._issuer = issuer
        self._store = store

    @activity.defn
    async def issue_results(self, issue: ResultIssue) -> IssuedResults:
        issued: list[IssuedResult] = []
        for document in issue.documents:
            # Rendering and signing are blocking work: off the worker's event loop.
            row = await asyncio.to_thread(self._issuer.issue, issue, document)
            if row.deposited_at is None and row.deposit_refusal is None:
                row = await self._deposit(row)
            issued.append(_summary(row))
        return IssuedResults(results=issued)

    async def _deposit(self, row: IssuedResultRow) -> IssuedResultRow:
        try:
            reference = await self._store.deposit(row)
        except ApplicationError as refused:
            if refused.type != "AgencyRefused":
                raise
            # The result stands (signed, downloadable, verifiable); the refusal is shown on the dossier.
            log.warning("the result store refused %s of %s: %s", row.id, row.dossier_code, refused.message)
            await asyncio.to_thread(self._mark, row.id, None, refused.message)
            row.deposit_refusal = refused.message
            return row
        at = utcnow()
        await asyncio.to_thread(self._mark, row.id, reference, None, at)
        row.deposited_at, row.store_reference = at, reference
        return row

    def _mark(self, result_id: str, reference: str | None, refusal: str | None, at: datetime | None = None) -> None:
        with Session(self._engine) as session:
            stored.mark_deposited(session, result_id, at=at or utcnow(), reference=reference, refusal=refusal)


class LetterActivities(ResultActivities):
    """Official letters (forms 02–05), issued when their event happens: rendered, signed and deposited as results
    are, and as idempotent (one per dossier and letter id; the deposit's Idempotency-Key), so retried freely."""

    @activity.defn
    async def issue_letter(self, letter: LetterIssue) -> IssuedLetter:
        row = await asyncio.to_thread(self._issuer.issue_letter, letter)
        if row.deposited_at is None and row.deposit_refusal is None:
            row = await self._deposit(row)
        return IssuedLetter(
            letter_id=row.document_id,
            form=letter.form,
            name=row.name,
            result_id=row.id,
            sha256=row.sha256,
            html_sha256=row.html_sha256,
            unit_code=row.unit_code,
            signer=row.signer,
            issued_at=as_utc(row.issued_at),
            deposited=row.deposited_at is not None,
            deposit_refusal=row.deposit_refusal,
        )


def _summary(row: IssuedResultRow) -> IssuedResult:
    return IssuedResult(
        result_id=row.id,
        document_id=row.document_id,
        name=row.name,
        sha256=row.sha256,
        html_sha256=row.html_sha256,
        unit_code=row.unit_code,
        signer=row.signer,
        issued_at=as_utc(row.issued_at),
        deposited=row.deposited_at is not None,
        store_reference=row.store_reference,
        deposit_refusal=row.deposit_refusal,
    )
