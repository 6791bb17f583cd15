"""Is this document one we issued, unaltered? Anyone may ask, with the file in hand.

- valid: its SHA-256 is that of an issued result, the unit's signature over the result's manifest holds,
  and the unit's certificate chains to our root;
- tampered: the file claims to be a result we know (the result id given, or printed in it) but its bytes
  differ, or the stored signature no longer holds;
- unknown: nothing we issued.

A PDF issued since results carry a PAdES signature (see results.pades) must also hold that signature: pyHanko
validates it, trusting our root alone, and its signer must be the unit that signed the manifest. PDFs issued
before carry none and verify by their manifest, as they always did; HTML renderings only ever by the manifest.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Literal

from pydantic import BaseModel
from sqlmodel import Session

from domain.results import RESULT_ID
from readmodel import results as stored
from readmodel.db import as_utc
from readmodel.tables import IssuedResultRow
from results.issuing import manifest
from results.pades import PdfSignatureCheck, check_pdf, has_signature
from results.signing import SigningAuthority

Verdict = Literal["valid", "tampered", "unknown"]


class PdfSignature(BaseModel):
    """The PDF's embedded (PAdES) signature as pyHanko found it, trusting only our root."""

    signer_subject: str
    intact: bool
    valid: bool
    trusted: bool
    covers_whole_file: bool
    signed_at: datetime | None = None


class Verification(BaseModel):
    verdict: Verdict
    reason: str
    sha256: str
    result_id: str | None = None
    document_name: str | None = None
    issuer_unit_code: str | None = None
    issuer_unit_name: str | None = None
    issued_at: str | None = None
    pdf_signature: PdfSignature | None = None


def verify_document(
    session: Session, authority: SigningAuthority, content: bytes, claimed_id: str | None = None
) -> Verification:
    digest = hashlib.sha256(content).hexdigest()
    embedded = _embedded_signature(authority, content)
    row = stored.by_digest(session, digest)
    if row is not None:
        if claimed_id is not None and claimed_id != row.id:
            return _about(row, "tampered", digest, f"this document is result {row.id}, not {claimed_id}", embedded)
        problem = signature_problem(authority, row, digest)
        if problem is None and embedded is not None:
            check, _ = embedded
            problem = check.problem
            if problem is None and check.signer_subject != row.certificate_subject:
                problem = f"the PDF is signed by {check.signer_subject}, not by the unit that issued {row.id}"
        if problem:
            return _about(row, "tampered", digest, problem, embedded)
        kind = "PDF" if digest == row.sha256 else "HTML"
        reason = f"the {kind} rendering of {row.id}, signed by {row.unit_code}"
        return _about(row, "valid", digest, reason, embedded)
    claimed = claimed_id or _printed_result_id(content)
    if claimed is not None:
        known = stored.get(session, claimed)
        if known is not None:
            reason = f"the file differs from the document issued as {known.id}"
            if embedded is not None and embedded[0].problem:
                reason = f"{reason}: {embedded[0].problem}"
            return _about(known, "tampered", digest, reason, embedded)
    return Verification(
        verdict="unknown",
        reason="no result we issued has this content",
        sha256=digest,
        pdf_signature=embedded[1] if embedded else None,
    )


def _embedded_signature(authority: SigningAuthority, content: bytes) -> tuple[PdfSignatureCheck, PdfSignature] | None:
    """The PDF's embedded signature checked against our root (the first that fails, else the first), if any."""
    if not has_signature(content):
        return None
    checks = check_pdf(content, authority.root())
    if not checks:
        return None
    check = next((c for c in checks if not c.holds), checks[0])
    return check, PdfSignature(
        signer_subject=check.signer_subject,
        intact=check.intact,
        valid=check.valid,
        trusted=check.trusted,
        covers_whole_file=check.covers_whole_file,
        signed_at=check.signed_at,
    )


def signature_problem(authority: SigningAuthority, row: IssuedResultRow, digest: str | None = None) -> str | None:
    """Why the stored result no longer stands, or None: the signed manifest must be the one the row
    describes, name this digest, and carry the unit's good signature under a certificate from our root."""
    signed = row.manifest.encode()
    if signed != manifest(row):
        return "the stored result no longer matches what was signed"
    if digest is not None and digest not in (json.loads(signed)["sha256_pdf"], json.loads(signed)["sha256_html"]):
        return "the document is not the one that was signed"
    return authority.verify(signed, row.signature, row.certificate_chain_pem, as_utc(row.issued_at))


def _printed_result_id(content: bytes) -> str | None:
    """The result id printed on the document (in the HTML text, or the PDF's information dictionary)."""
    found = RESULT_ID.search(content.decode("latin-1"))
    return found.group(0) if found else None


def _about(
    row: IssuedResultRow,
    verdict: Verdict,
    digest: str,
    reason: str,
    embedded: tuple[PdfSignatureCheck, PdfSignature] | None = None,
) -> Verification:
    return Verification(
        verdict=verdict,
        reason=reason,
        sha256=digest,
        result_id=row.id,
        document_name=row.name,
        issuer_unit_code=row.unit_code,
        issuer_unit_name=row.unit_name,
        issued_at=as_utc(row.issued_at).isoformat(),
        pdf_signature=embedded[1] if embedded else None,
    )
