"""The signed results of a dossier whose result is returned, as its applicant and officers see them listed."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlmodel import Session

from readmodel import results as stored
from readmodel.db import as_utc


class ResultView(BaseModel):
    result_id: str
    document_id: str
    name: str
    dossier_code: str
    issuer_unit_code: str
    issuer_unit_name: str
    signer: str | None
    issued_at: datetime
    sha256: str
    html_sha256: str
    deposited: bool
    pdf_url: str
    html_url: str


def returned_results(session: Session, code: str) -> list[ResultView]:
    """The signed results of a returned dossier (with its interconnected child dossiers' results)."""
    return [
        ResultView(
            result_id=r.id,
            document_id=r.document_id,
            name=r.name,
            dossier_code=r.dossier_code,
            issuer_unit_code=r.unit_code,
            issuer_unit_name=r.unit_name,
            signer=r.signer,
            issued_at=as_utc(r.issued_at),
            sha256=r.sha256,
            html_sha256=r.html_sha256,
            deposited=r.deposited_at is not None,
            pdf_url=f"/dossiers/{code}/results/{r.document_id}.pdf",
            html_url=f"/dossiers/{code}/results/{r.document_id}.html",
        )
        for r in stored.of_dossier(session, code)
    ]
