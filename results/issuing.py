"""Issue one result document: render it, sign it with the approving unit's key, and keep it, once.

A retried issue finds the document it issued before (one per dossier and document id) and never renders
or signs it again, so the bytes a citizen downloads, the bytes deposited in the result store and the
bytes that were signed are the same.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from domain.results import ResultIssue, ResultToIssue
from readmodel import organisation
from readmodel import results as stored
from readmodel.db import as_utc, utcnow
from readmodel.tables import IssuedResultRow
from results import DEFAULT_TEMPLATE
from results.pades import sign_pdf
from results.render import ResultRenderer, field_text
from results.signing import SigningAuthority

log = logging.getLogger(__name__)
MANIFEST_VERSION = 1


def new_result_id() -> str:
    return "KQ-" + base64.b32encode(secrets.token_bytes(10)).decode()


def manifest(row: IssuedResultRow) -> bytes:
    """The statement a unit signs about a result: canonical JSON, so it reads the same everywhere."""
    return json.dumps(
        {
            "version": MANIFEST_VERSION,
            "result_id": row.id,
            "dossier_code": row.dossier_code,
            "document_id": row.document_id,
            "document_name": row.name,
            "unit_code": row.unit_code,
            "signer": row.signer,
            "issued_at": as_utc(row.issued_at).isoformat(),
            "sha256_pdf": row.sha256,
            "sha256_html": row.html_sha256,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


class ResultIssuer:
    def __init__(
        self, engine: Engine, authority: SigningAuthority, renderer: ResultRenderer, *, public_base_url: str
    ) -> None:
        self._engine = engine
        self._authority = authority
        self._renderer = renderer
        self._public = public_base_url.rstrip("/")

    def issue(self, issue: ResultIssue, document: ResultToIssue) -> IssuedResultRow:
        """The issued document for this dossier and document id: the one issued before, or a new one."""
        with Session(self._engine) as session:
            existing = stored.for_document(session, issue.dossier_code, document.document_id)
            if existing is not None:
                return existing
        row = self._render_and_sign(issue, document)
        with Session(self._engine) as session:
            try:
                session.add(row)
                session.commit()
                session.refresh(row)
            except IntegrityError:
                # An earlier attempt still running got there first: its document is the one of record.
                session.rollback()
                existing = stored.for_document(session, issue.dossier_code, document.document_id)
                assert existing is not None
                return existing
        log.info(
            "issued %s (%s) for dossier %s, signed by %s", row.id, row.document_id, row.dossier_code, row.unit_code
        )
        return row

    def _render_and_sign(self, issue: ResultIssue, document: ResultToIssue) -> IssuedResultRow:
        with Session(self._engine) as session:
            unit = organisation.directory(session).units.get(issue.signing_unit)
        unit_name = unit.name if unit else issue.signing_unit
        signer = self._authority.signer(issue.signing_unit, unit_name)
        result_id = new_result_id()
        issued_at = utcnow()
        html, rendered = self._renderer.render(
            document.template, self._context(issue, document, result_id, unit_name, issued_at)
        )
        # The PDF carries the unit's PAdES signature, which any PDF reader checks; the manifest below covers
        # these signed bytes, so both signatures speak of the same file.
        pdf = sign_pdf(
            rendered,
            signer,
            self._authority.root(),
            reason=f"{document.name} ({result_id})",
            location=unit_name,
        )
        row = IssuedResultRow(
            id=result_id,
            dossier_code=issue.dossier_code,
            document_id=document.document_id,
            name=document.name,
            template=document.template or DEFAULT_TEMPLATE,
            unit_code=issue.signing_unit,
            unit_name=unit_name,
            signer=issue.signer,
            sha256=hashlib.sha256(pdf).hexdigest(),
            html_sha256=hashlib.sha256(html).hexdigest(),
            manifest="",
            signature="",
            signature_algorithm=signer.algorithm,
            certificate_chain_pem=signer.chain_pem,
            certificate_subject=signer.certificate.subject.rfc4514_string(),
            html=html,
            pdf=pdf,
            issued_at=issued_at,
        )
        signed = manifest(row)
        row.manifest = signed.decode()
        row.signature = signer.sign(signed)
        return row

    def _context(
        self, issue: ResultIssue, document: ResultToIssue, result_id: str, unit_name: str, issued_at: Any
    ) -> dict[str, Any]:
        particulars = [
            (field.label, field_text(issue.form[field.name], field.type))
            for field in issue.fields
            if issue.form.get(field.name) not in (None, "", [], {})
        ]
        return {
            "result_id": result_id,
            "verify_url": f"{self._public}/results/verify",
            "lookup_url": f"{self._public}/results/{result_id}",
            "document": {"id": document.document_id, "name": document.name},
            "dossier": {
                "code": issue.dossier_code,
                "procedure_code": issue.procedure_code,
                "procedure_name": issue.procedure_name,
                "procedure_version": issue.procedure_version,
                "received_at": issue.received_at,
                "receiving_unit": issue.receiving_unit,
            },
            "applicant": issue.applicant.model_dump(),
            "form": issue.form,
            "particulars": particulars,
            "legal_basis": issue.legal_basis,
            "references": {r.system: r.reference for r in issue.agency_results.values() if r.reference},
            "agency": {step: r.model_dump() for step, r in issue.agency_results.items()},
            "unit": {"code": issue.signing_unit, "name": unit_name},
            "signer": issue.signer,
            "issued_at": issued_at,
        }
