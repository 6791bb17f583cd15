"""Is this document one we issued, unaltered? Anyone may ask, with the file in hand.

- valid: its SHA-256 is that of an issued result, the unit's signature over the result's manifest holds,
  and the unit's certificate chains to our root;
- tampered: the file claims to be a result we know (the result id given, or printed in it) but its bytes
  differ, or the stored signature no longer holds;
- unknown: nothing we issued.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel
from sqlmodel import Session

from domain.results import RESULT_ID
from readmodel import results as stored
from readmodel.db import as_utc
from readmodel.tables import IssuedResultRow
from results.issuing import manifest
from results.signing import SigningAuthority

Verdict = Literal["valid", "tampered", "unknown"]


class Verification(BaseModel):
    verdict: Verdict
    reason: str
    sha256: str
    result_id: str | None = None
    document_name: str | None = None
    issuer_unit_code: str | None = None
    issuer_unit_name: str | None = None
    issued_at: str | None = None


def verify_document(
    session: Session, authority: SigningAuthority, content: bytes, claimed_id: str | None = None
) -> Verification:
    digest = hashlib.sha256(content).hexdigest()
    row = stored.by_digest(session, digest)
    if row is not None:
        if claimed_id is not None and claimed_id != row.id:
            return _about(row, "tampered", digest, f"this document is result {row.id}, not {claimed_id}")
        problem = signature_problem(authority, row, digest)
        if problem:
            return _about(row, "tampered", digest, problem)
        kind = "PDF" if digest == row.sha256 else "HTML"
        return _about(row, "valid", digest, f"the {kind} rendering of {row.id}, signed by {row.unit_code}")
    claimed = claimed_id or _printed_result_id(content)
    if claimed is not None:
        known = stored.get(session, claimed)
        if known is not None:
            return _about(known, "tampered", digest, f"the file differs from the document issued as {known.id}")
    return Verification(verdict="unknown", reason="no result we issued has this content", sha256=digest)


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


def _about(row: IssuedResultRow, verdict: Verdict, digest: str, reason: str) -> Verification:
    return Verification(
        verdict=verdict,
        reason=reason,
        sha256=digest,
        result_id=row.id,
        document_name=row.name,
        issuer_unit_code=row.unit_code,
        issuer_unit_name=row.unit_name,
        issued_at=as_utc(row.issued_at).isoformat(),
    )
