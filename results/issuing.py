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
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from domain.letters import LETTER_TEMPLATES, LetterIssue
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
        return self._once(issue.dossier_code, document.document_id, lambda: self._render_and_sign(issue, document))

    def issue_letter(self, letter: LetterIssue) -> IssuedResultRow:
        """An official letter (forms 02–05), issued once per dossier and letter id like a result: the same
        rendering, signature and record, so /results/verify knows it by the id printed on it."""
        document = ResultToIssue(
            document_id=letter.document_id, name=letter.name, template=LETTER_TEMPLATES[letter.form]
        )

        def context(result_id: str, unit_name: str, issued_at: Any) -> dict[str, Any]:
            return {
                **self._common_context(document, result_id, unit_name, issued_at, letter.signing_unit, letter.signer),
                "dossier": {
                    "code": letter.dossier_code,
                    "procedure_code": letter.procedure_code,
                    "procedure_name": letter.procedure_name,
                    "procedure_version": letter.procedure_version,
                    "received_at": letter.received_at,
                    "receiving_unit": letter.receiving_unit,
                    "appointment_date": letter.appointment_date,
                },
                "applicant": letter.applicant.model_dump(),
                "letter": {**letter.model_dump(), "name": letter.name},
            }

        return self._once(
            letter.dossier_code,
            letter.document_id,
            lambda: self._sign(letter.dossier_code, document, letter.signing_unit, letter.signer, context),
        )

    def _once(self, dossier_code: str, document_id: str, make: Callable[[], IssuedResultRow]) -> IssuedResultRow:
        with Session(self._engine) as session:
            existing = stored.for_document(session, dossier_code, document_id)
            if existing is not None:
                return existing
        row = make()
        with Session(self._engine) as session:
            try:
                session.add(row)
                session.commit()
                session.refresh(row)
            except IntegrityError:
                # An earlier attempt still running got there first: its document is the one of record.
                session.rollback()
                existing = stored.for_document(session, dossier_code, document_id)
                assert existing is not None
                return existing
        log.info(
            "issued %s (%s) for dossier %s, signed by %s", row.id, row.document_id, row.dossier_code, row.unit_code
        )
        return row

    def _render_and_sign(self, issue: ResultIssue, document: ResultToIssue) -> IssuedResultRow:
        def context(result_id: str, unit_name: str, issued_at: Any) -> dict[str, Any]:
            return self._context(issue, document, result_id, unit_name, issued_at)

        return self._sign(issue.dossier_code, document, issue.signing_unit, issue.signer, context)

    def _sign(
        self,
        dossier_code: str,
        document: ResultToIssue,
        signing_unit: str,
        signer_id: str | None,
        context: Callable[[str, str, Any], dict[str, Any]],
    ) -> IssuedResultRow:
        with Session(self._engine) as session:
            unit = organisation.directory(session).units.get(signing_unit)
        unit_name = unit.name if unit else signing_unit
        signer = self._authority.signer(signing_unit, unit_name)
        result_id = new_result_id()
        issued_at = utcnow()
        html, rendered = self._renderer.render(document.template, context(result_id, unit_name, issued_at))
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
            dossier_code=dossier_code,
            document_id=document.document_id,
            name=document.name,
            template=document.template or DEFAULT_TEMPLATE,
            unit_code=signing_unit,
            unit_name=unit_name,
            signer=signer_id,
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
            **self._common_context(document, result_id, unit_name, issued_at, issue.signing_unit, issue.signer),
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
        }

    def _common_context(
        self, document: ResultToIssue, result_id: str, unit_name: str, issued_at: Any, unit: str, signer: str | None
    ) -> dict[str, Any]:
        """What the layout prints on every signed document: its id, where to verify it, the unit and signer."""
        return {
            "result_id": result_id,
            "verify_url": f"{self._public}/results/verify",
            "lookup_url": f"{self._public}/results/{result_id}",
            "document": {"id": document.document_id, "name": document.name},
            "unit": {"code": unit, "name": unit_name},
            "signer": signer,
            "issued_at": issued_at,
        }
