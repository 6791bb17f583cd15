"""Issuing results: what the workflow's result step asks for, and what it gets back."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from domain.dossier import Applicant, SystemCallResult

# The electronic result store (kho kết quả điện tử), as the external system a result step waits for.
RESULT_STORE = "result_store"
# Printed on every document: "KQ" (kết quả) and 80 random bits, so result ids cannot be enumerated.
RESULT_ID = re.compile(r"KQ-[A-Z2-7]{16}")
RESULT_ID_PATTERN = r"^KQ-[A-Z2-7]{16}$"


class ResultToIssue(BaseModel):
    document_id: str
    name: str
    template: str | None = None  # the definition's template; None: the generic result


class ResultField(BaseModel):
    name: str
    label: str
    type: str


class ResultIssue(BaseModel):
    """One result step: the documents to issue for a dossier, signed by the unit that approved it."""

    dossier_code: str
    procedure_code: str
    procedure_name: str
    procedure_version: int
    receiving_unit: str
    received_at: datetime
    signing_unit: str  # the unit of the last approval before the result step (else the receiving unit)
    signer: str | None = None  # the officer who approved
    legal_basis: list[str] = Field(default_factory=list)
    applicant: Applicant
    form: dict[str, Any] = Field(default_factory=dict)
    fields: list[ResultField] = Field(default_factory=list)  # the eForm's fields, for the generic templates
    # Adapter steps' answers (an extract number from the civil-status system, …) for the templates.
    agency_results: dict[str, SystemCallResult] = Field(default_factory=dict)
    documents: list[ResultToIssue]


class IssuedResult(BaseModel):
    result_id: str
    document_id: str
    name: str
    sha256: str  # of the PDF
    html_sha256: str
    unit_code: str
    signer: str | None = None
    issued_at: datetime
    deposited: bool
    store_reference: str | None = None
    deposit_refusal: str | None = None  # the result store refused the deposit (the result stands)


class IssuedResults(BaseModel):
    results: list[IssuedResult]
