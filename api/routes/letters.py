"""Official letters (forms 02–05 of Circular 01/2018/TT-VPCP) issued for a dossier: listed and downloaded by whoever
may see the dossier (its applicant, the officers of the units involved) from the moment each is issued. They are
signed documents like results: POST /results/verify and GET /results/{id} take them by the id printed on them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response, status

from api.access import ReadableDossier
from api.deps import SessionDep
from api.dossier_service.letters import LetterView, letter, letters
from api.routes.results import _download
from readmodel.tables import IssuedResultRow

router = APIRouter(tags=["letters"])

LetterId = Annotated[str, Path(pattern=r"^letter-0[2-5]-[0-9]{1,4}$")]


@router.get("/dossiers/{code}/letters")
def list_letters(dossier: ReadableDossier, session: SessionDep) -> list[LetterView]:
    """The dossier's official letters, in the order they were issued."""
    return letters(session, dossier.code)


def _letter(session: SessionDep, code: str, letter_id: str) -> IssuedResultRow:
    row = letter(session, code, letter_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"dossier {code} has no letter {letter_id!r}")
    return row


@router.get(
    "/dossiers/{code}/letters/{letter_id}.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The signed PDF"}},
)
def download_letter_pdf(dossier: ReadableDossier, letter_id: LetterId, session: SessionDep) -> Response:
    row = _letter(session, dossier.code, letter_id)
    return _download(row, row.pdf, "application/pdf", "pdf")


@router.get(
    "/dossiers/{code}/letters/{letter_id}.html",
    response_class=Response,
    responses={200: {"content": {"text/html": {}}, "description": "The signed HTML rendering"}},
)
def download_letter_html(dossier: ReadableDossier, letter_id: LetterId, session: SessionDep) -> Response:
    row = _letter(session, dossier.code, letter_id)
    return _download(row, row.html, "text/html; charset=utf-8", "html")
