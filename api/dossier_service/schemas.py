"""What the dossier API takes and answers: submissions, the messages applicants and officers send, the receipt and
the dossier view."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from api.dossier_service.letters import LetterView
from domain.definition import DecisionKind
from domain.dossier import Applicant, Channel


class SubmitDossier(BaseModel):
    model_config = ConfigDict(extra="forbid")

    procedure_code: Annotated[str, Field(min_length=1, max_length=40)]
    applicant: Applicant
    form: dict[str, Any]
    # Online for citizens; a reception officer receives in person (default) or by post at their own unit.
    channel: Channel | None = None  # 1 in person, 2 online, 3 postal (the portal's codes)
    receiving_unit: Annotated[str, Field(min_length=1, max_length=80)] | None = None
    # Fields the applicant took from national databases (prefill) rather than typed: counted by the indicators.
    prefilled_fields: Annotated[list[Annotated[str, Field(max_length=63)]], Field(max_length=300)] = []


class SupplementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    form: dict[str, Any] = Field(default_factory=dict)
    note: Annotated[str, Field(max_length=2000)] | None = None


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step_id: Annotated[str, Field(min_length=1, max_length=63)]
    amount_vnd: Annotated[int, Field(ge=0)]
    receipt_reference: Annotated[str, Field(min_length=1, max_length=100)]


class WithdrawalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class Receipt(BaseModel):
    """Form 01: the receipt with the dossier code and the appointed date for the result."""

    dossier_code: str
    procedure_code: str
    procedure_version: int
    procedure_name: str
    receiving_unit: str  # the counter that received it, where the result is returned
    handling_unit: str  # the unit competent for it (the receiving unit, unless another counter received it)
    channel: str
    received_at: datetime
    appointment_date: date
    status: int
    status_name: str
    # With the dossier code, lets whoever holds the receipt follow the dossier without signing in (and act as its
    # applicant). Given to the applicant only: officers who may see the dossier get null.
    lookup_secret: str | None


class ActiveStepView(BaseModel):
    step_id: str
    name: str
    kind: str
    awaiting: str
    role: str | None
    unit_code: str | None
    due_date: date | None
    started_at: datetime
    child_dossier_code: str | None = None
    due_at: datetime | None = None
    warning: bool = False
    overdue: bool = False
    system: str | None = None


class TimelineEntry(BaseModel):
    seq: int
    at: datetime
    kind: str
    step_id: str | None
    actor: str | None
    summary: str  # the workflow's own record, in English
    # What the entry says to this reader (the applicant in plain words, officers with the detail), in the language
    # the request asks for (`Accept-Language`: vi, the default, or en).
    text: str = ""
    who: str = ""  # who acted, as this reader needs it (the applicant sees the office, not the officer)
    status: int | None
    # The audit trail: who acted, on whose behalf, at which unit, through which channel.
    actor_kind: str | None = None
    actor_id: str | None = None
    on_behalf_of: str | None = None
    unit_code: str | None = None
    channel: str | None = None


class ChildDossierView(BaseModel):
    """An interconnected dossier this one started in another agency (its own code, unit and status)."""

    dossier_code: str
    step_id: str | None  # the step of this dossier that started it
    procedure_code: str
    procedure_name: str
    receiving_unit: str
    status: int
    status_name: str
    outcome: str | None
    partial: bool
    appointment_date: date
    completed_at: datetime | None


class DossierView(Receipt):
    parent_code: str | None
    # Interconnected dossiers started in other agencies, with their progress (read model, like the rest).
    children: list[ChildDossierView] = []
    original_appointment_date: date | None
    supplement_count: int
    suspended_working_hours: float
    extended: bool
    apology: dict[str, Any] | None
    overdue: bool
    overdue_without_apology: bool
    active_steps: list[ActiveStepView]
    supplement_request: dict[str, Any] | None
    fee_request: dict[str, Any] | None
    fees_paid_vnd: int
    fees_refunded_vnd: int = 0
    partial: bool
    outcome: str | None
    outcome_reason: str | None
    results: list[dict[str, Any]]
    # Official letters (forms 02–05), each downloadable as soon as issued (GET /dossiers/{code}/letters).
    letters: list[LetterView] = []
    completed_at: datetime | None
    timeline: list[TimelineEntry]


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step_id: Annotated[str, Field(min_length=1, max_length=63)]
    decision: DecisionKind
    reason: Annotated[str, Field(max_length=2000)] | None = None
    missing: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(default_factory=list, max_length=50)
    recipient: Annotated[str, Field(max_length=300)] | None = None  # hand_over: who received the result
    # Decision 766: an action that counts the dossier as late (a second supplement request, acting after a missed
    # appointment without apology) is refused (409) until the officer confirms it knowingly.
    confirm_late: bool = False


class ApologyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    new_appointment_date: date


class ExtensionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class ApplicantTask(BaseModel):
    """What the applicant must do now, and by when: `supplement` (the missing items, asked on `requested_at`),
    `pay` (the amount, at a step), `wait` (nothing: the agency works on it, the result is due on `due_date`),
    `collect` (processed: the result is to be collected on `due_date`), `done` (finished: the outcome, and where the
    results are once returned)."""

    kind: str  # supplement | pay | wait | collect | done
    label: str  # in Vietnamese: Bổ sung hồ sơ, Nộp phí, lệ phí, Chờ cơ quan xử lý, Nhận kết quả, Đã kết thúc
    step_id: str | None = None
    due_date: date | None = None  # the step's deadline while the applicant acts; the appointment while waiting
    requested_at: datetime | None = None
    missing: list[str] = []
    reason: str | None = None
    amount_vnd: int | None = None
    pay_url: str | None = None  # `pay` on the payment platform (revision 5): where the applicant pays
    outcome: str | None = None
    outcome_reason: str | None = None
    results_url: str | None = None  # the signed results, once returned (GET /dossiers/{code}/results)


class MyDossier(BaseModel):
    dossier_code: str
    procedure_code: str
    procedure_name: str
    status: int
    status_name: str  # the portal's status name (supplement_requested, …)
    status_label: str  # the same in Vietnamese (Yêu cầu bổ sung, …)
    receiving_unit: str
    received_at: datetime
    appointment_date: date
    completed_at: datetime | None
    todo: ApplicantTask


class MyDossiers(BaseModel):
    items: list[MyDossier]
    limit: int
    offset: int
    next_offset: int | None  # where the next page begins; null on the last page
