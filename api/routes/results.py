"""Signed electronic results: the applicant downloads them once returned; anyone verifies a document.

The dossier's results are listed and downloaded only once its status is 10 (result returned). Each
route takes the dossier from `returned_dossier`, the one place where who may see it is decided.
Verification and the public metadata of a result show nothing personal: no dossier code, no applicant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, HTTPException, Path, Response, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from api.access import ReadableDossier
from api.deps import SessionDep, SettingsDep
from api.dossier_service.results import ResultView, returned_results
from api.uploads import TOO_LARGE, bounded_upload_route
from domain.definition import IDENTIFIER
from domain.dossier import PortalStatus
from domain.results import RESULT_ID_PATTERN
from readmodel import results as stored
from readmodel.db import as_utc
from readmodel.tables import DossierRow, IssuedResultRow
from results.signing import SigningAuthority, SigningUnavailable
from results.verification import Verification, signature_problem, verify_document

router = APIRouter(tags=["results"])

DocumentId = Annotated[str, Path(pattern=IDENTIFIER, max_length=63)]
ResultId = Annotated[str, Path(pattern=RESULT_ID_PATTERN)]


class PublicResult(BaseModel):
    """What anyone may know of a result id: who issued what, when, and its fingerprints."""

    result_id: str
    document_name: str
    issuer_unit_code: str
    issuer_unit_name: str
    issued_at: datetime
    sha256: str
    html_sha256: str
    signature_algorithm: str
    certificate_subject: str
    signature_valid: bool


_authorities: dict[tuple[object, ...], SigningAuthority] = {}


def get_authority(settings: SettingsDep) -> SigningAuthority:
    key = (settings.signing_folder, settings.signing_root_certificate, settings.signing_root_key)
    if key not in _authorities:
        _authorities[key] = SigningAuthority.from_settings(settings)
    return _authorities[key]


AuthorityDep = Annotated[SigningAuthority, Depends(get_authority)]


def returned_dossier(row: ReadableDossier) -> DossierRow:
    """The dossier, for those who may see it (as GET /dossiers/{code}), once its result is returned (status 10)."""
    code = row.code
    if row.status != PortalStatus.result_returned:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"dossier {code} has no result returned yet")
    return row


ReturnedDossier = Annotated[DossierRow, Depends(returned_dossier)]


def _document(session: SessionDep, dossier: DossierRow, document_id: str) -> IssuedResultRow:
    # The dossier's own document first; an interconnected child's result is returned with its parent.
    rows = [r for r in stored.of_dossier(session, dossier.code) if r.document_id == document_id]
    rows.sort(key=lambda r: r.dossier_code != dossier.code)
    if not rows:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"dossier {dossier.code} has no result {document_id!r}")
    return rows[0]


@router.get("/dossiers/{code}/results")
def list_results(dossier: ReturnedDossier, session: SessionDep) -> list[ResultView]:
    """The signed results of a returned dossier (with its interconnected child dossiers' results)."""
    return returned_results(session, dossier.code)


def _download(row: IssuedResultRow, content: bytes, media_type: str, suffix: str) -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{row.id}.{suffix}"',
            "ETag": f'"{row.sha256 if suffix == "pdf" else row.html_sha256}"',
            "X-Result-Id": row.id,
            # The document is data, never a page of this site: no scripts, nothing fetched.
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get(
    "/dossiers/{code}/results/{document_id}.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The signed PDF"}},
)
def download_pdf(dossier: ReturnedDossier, document_id: DocumentId, session: SessionDep) -> Response:
    row = _document(session, dossier, document_id)
    return _download(row, row.pdf, "application/pdf", "pdf")


@router.get(
    "/dossiers/{code}/results/{document_id}.html",
    response_class=Response,
    responses={200: {"content": {"text/html": {}}, "description": "The signed HTML rendering"}},
)
def download_html(dossier: ReturnedDossier, document_id: DocumentId, session: SessionDep) -> Response:
    row = _document(session, dossier, document_id)
    return _download(row, row.html, "text/html; charset=utf-8", "html")


@router.get("/results/{result_id}")
def public_result(result_id: ResultId, session: SessionDep, authority: AuthorityDep) -> PublicResult:
    """Public metadata of a result id printed on a document: no personal data."""
    row = stored.get(session, result_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no result {result_id}")
    try:
        valid = signature_problem(authority, row) is None
    except SigningUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"signatures cannot be checked now: {exc}") from exc
    return PublicResult(
        result_id=row.id,
        document_name=row.name,
        issuer_unit_code=row.unit_code,
        issuer_unit_name=row.unit_name,
        issued_at=as_utc(row.issued_at),
        sha256=row.sha256,
        html_sha256=row.html_sha256,
        signature_algorithm=row.signature_algorithm,
        certificate_subject=row.certificate_subject,
        signature_valid=valid,
    )


verification = APIRouter(tags=["results"], route_class=bounded_upload_route(lambda s: s.result_upload_max_bytes))


@verification.post("/results/verify")
async def verify_result(
    session: SessionDep,
    authority: AuthorityDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="The document to check: a result's PDF or HTML")],
    result_id: Annotated[str | None, Form(pattern=RESULT_ID_PATTERN)] = None,
) -> Verification:
    """Anyone checks a document: `valid` (issued by us, unaltered, signature good), `tampered`, or `unknown`.

    A signed PDF's embedded PAdES signature is validated too, trusting our root alone (`pdf_signature`)."""
    content = await file.read(settings.result_upload_max_bytes + 1)
    if len(content) > settings.result_upload_max_bytes:
        raise HTTPException(TOO_LARGE, f"files are limited to {settings.result_upload_max_bytes} bytes")
    try:
        return await run_in_threadpool(verify_document, session, authority, content, result_id)
    except SigningUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"signatures cannot be checked now: {exc}") from exc
