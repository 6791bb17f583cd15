"""A dossier's official letters (forms 02–05) as its applicant and officers see them: listed as soon as issued (no
waiting for the result), each downloadable as its signed PDF or HTML, and verifiable like a result."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session

from domain.letters import is_letter
from readmodel import results as stored
from readmodel.db import as_utc
from readmodel.tables import IssuedResultRow


class LetterView(BaseModel):
    letter_id: str
    form: str  # 02 supplement request, 03 refusal, 04 apology, 05 processing stopped
    name: str
    result_id: str  # printed on the letter: POST /results/verify and GET /results/{id} know it
    issuer_unit_code: str | None = None
    signer: str | None = None
    issued_at: datetime | None = None
    sha256: str | None = None
    deposited: bool | None = None
    pdf_url: str
    html_url: str


def _urls(code: str, letter_id: str) -> dict[str, str]:
    return {
        "pdf_url": f"/dossiers/{code}/letters/{letter_id}.pdf",
        "html_url": f"/dossiers/{code}/letters/{letter_id}.html",
    }


def _form(letter_id: str) -> str:
    return letter_id.split("-")[1]


def letters(session: Session, code: str) -> list[LetterView]:
    """Every letter issued for the dossier, from the issued documents."""
    return [_view(code, row) for row in stored.letters_of(session, code)]


def _view(code: str, row: IssuedResultRow) -> LetterView:
    return LetterView(
        letter_id=row.document_id,
        form=_form(row.document_id),
        name=row.name,
        result_id=row.id,
        issuer_unit_code=row.unit_code,
        signer=row.signer,
        issued_at=as_utc(row.issued_at),
        sha256=row.sha256,
        deposited=row.deposited_at is not None,
        **_urls(code, row.document_id),
    )


def letters_in_timeline(code: str, timeline: list[dict[str, Any]]) -> list[LetterView]:
    """The letters as the polled dossier view lists them: from the timeline entry each leaves (no extra query)."""
    listed = []
    for entry in timeline:
        params = entry.get("params") or {}
        if entry.get("kind") == "letter_issued" and is_letter(str(params.get("letter_id", ""))):
            letter_id = params["letter_id"]
            listed.append(
                LetterView(
                    letter_id=letter_id,
                    form=_form(letter_id),
                    name=str(params.get("letter", "")),
                    result_id=str(params.get("result_id", "")),
                    issuer_unit_code=entry.get("unit_code"),
                    issued_at=entry.get("at"),
                    **_urls(code, letter_id),
                )
            )
    return listed


def letter(session: Session, code: str, letter_id: str) -> IssuedResultRow | None:
    row = stored.for_document(session, code, letter_id)
    return row if row is not None and is_letter(row.document_id) else None
