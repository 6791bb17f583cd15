"""Official letters (Circular 01/2018/TT-VPCP): what the workflow asks to issue when the event happens, and what it
gets back.

A letter is a signed document like a result (rendered, PAdES-signed, kept and deposited by the same machinery), but
it is issued on the way, not at the end: form 02 when an officer asks for a supplement, 03 when the dossier is refused
(at reception or during handling), 04 with an apology and its new appointment, 05 when processing stops otherwise
(an agency's refusal, the applicant's withdrawal, a stop with the parent dossier). Its document id, `letter-<form>-<n>`,
cannot clash with a definition's result documents (their ids take no hyphen), and tells letters from results.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from domain.dossier import Applicant
from domain.wording import mark

LetterForm = Literal["02", "03", "04", "05"]
LETTER_PREFIX = "letter-"

# Each form's name as the Circular titles it, and its template (results/templates/letters/).
# Readers see the names in their language (the timeline and the pages translate them).
LETTER_NAMES: dict[str, str] = {
    "02": mark("Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ"),
    "03": mark("Phiếu từ chối tiếp nhận, giải quyết hồ sơ"),
    "04": mark("Phiếu xin lỗi và hẹn lại ngày trả kết quả"),
    "05": mark("Phiếu thông báo dừng giải quyết hồ sơ"),
}
LETTER_TEMPLATES: dict[str, str] = {form: f"letters/form_{form}.html" for form in LETTER_NAMES}


def letter_id(form: str, number: int) -> str:
    """The letter's document id within its dossier: the n-th letter of that form."""
    return f"{LETTER_PREFIX}{form}-{number}"


def is_letter(document_id: str) -> bool:
    return document_id.startswith(LETTER_PREFIX)


class LetterIssue(BaseModel):
    """One letter to issue for a dossier, signed by the unit whose officer acted (else the receiving unit)."""

    dossier_code: str
    form: LetterForm
    number: int = 1
    procedure_code: str
    procedure_name: str
    procedure_version: int
    receiving_unit: str
    received_at: datetime
    appointment_date: date
    signing_unit: str
    signer: str | None = None
    applicant: Applicant
    step_name: str | None = None  # the step at which it happened (02, 03)
    at_reception: bool = False  # 03: refused at reception (not received), else refused during handling
    reason: str | None = None
    missing: list[str] = Field(default_factory=list)  # 02
    new_appointment_date: date | None = None  # 04
    previous_appointment_date: date | None = None  # 04

    @property
    def document_id(self) -> str:
        return letter_id(self.form, self.number)

    @property
    def name(self) -> str:
        return LETTER_NAMES[self.form]


class IssuedLetter(BaseModel):
    letter_id: str
    form: LetterForm
    name: str
    result_id: str  # the id printed on it, which /results/verify and /results/{id} know
    sha256: str
    html_sha256: str
    unit_code: str
    signer: str | None = None
    issued_at: datetime
    deposited: bool
    deposit_refusal: str | None = None
