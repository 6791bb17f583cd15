"""Dossier vocabulary shared by the API, the workflow and the activities: statuses and messages."""

from __future__ import annotations

from datetime import date, datetime
from enum import IntEnum, StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.definition import DecisionKind, ProcedureDefinition, Role, Step, StepKind
from domain.wording import mark


class PortalStatus(IntEnum):
    """Status codes synchronised to the national public-service portal."""

    registered = 1
    accepted = 2
    not_accepted = 3
    processing = 4
    supplement_requested = 5
    fee_requested = 6
    withdrawn = 7
    stopped = 8
    completed = 9
    result_returned = 10


# The statuses as the portal and the people it serves name them.
STATUS_NAMES_VI = {
    PortalStatus.registered: mark("Mới đăng ký"),
    PortalStatus.accepted: mark("Đã tiếp nhận"),
    PortalStatus.not_accepted: mark("Không được tiếp nhận"),
    PortalStatus.processing: mark("Đang xử lý"),
    PortalStatus.supplement_requested: mark("Yêu cầu bổ sung"),
    PortalStatus.fee_requested: mark("Yêu cầu thực hiện nghĩa vụ tài chính"),
    PortalStatus.withdrawn: mark("Đã rút hồ sơ"),
    PortalStatus.stopped: mark("Dừng xử lý"),
    PortalStatus.completed: mark("Đã xử lý xong"),
    PortalStatus.result_returned: mark("Đã trả kết quả"),
}


FINAL_STATUSES = frozenset(
    {PortalStatus.not_accepted, PortalStatus.withdrawn, PortalStatus.stopped, PortalStatus.result_returned}
)


class Channel(IntEnum):
    in_person = 1
    online = 2
    postal = 3


class Awaiting(StrEnum):
    officer = "officer"
    applicant = "applicant"
    system = "system"


class Applicant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    full_name: Annotated[str, Field(min_length=1, max_length=200)]
    citizen_id: Annotated[str, Field(pattern=r"^\d{12}$")] | None = None
    phone: Annotated[str, Field(pattern=r"^(0|\+84)\d{9,10}$")] | None = None
    email: Annotated[str, Field(max_length=254)] | None = None


class DefinitionSnapshot(BaseModel):
    """The immutable definition a dossier runs on, pinned at submission."""

    code: str
    version: int
    content_hash: str
    definition: ProcedureDefinition
    # The procedures its child steps start in other agencies, pinned at submission too (step id → snapshot).
    children: dict[str, DefinitionSnapshot] = Field(default_factory=dict)


class DossierInput(BaseModel):
    dossier_code: str
    snapshot: DefinitionSnapshot
    form: dict[str, Any]
    applicant: Applicant
    channel: Channel
    receiving_unit: str
    received_at: datetime
    appointment_date: date
    # The unit acting on each officer step, resolved at submission (receiving, competent or fixed unit).
    step_units: dict[str, str] = Field(default_factory=dict)
    jurisdiction: str = "VN"  # whose working calendar the deadlines follow
    received_by: ActorRef | None = None  # who submitted: the citizen online, or the counter officer
    # The limit, and the budgets of its steps, the case of `time_limit_when` that held at submission gives it
    # (domain.time_limits); none: the procedure's.
    time_limit_working_days: int | None = None
    step_budgets: dict[str, int] = Field(default_factory=dict)

    def unit_for(self, step_id: str) -> str:
        """The unit acting on a step: as resolved at submission, else the receiving unit."""
        return self.step_units.get(step_id, self.receiving_unit)

    @property
    def time_limit(self) -> int:
        return (
            self.time_limit_working_days
            if self.time_limit_working_days is not None
            else (self.snapshot.definition.time_limit_working_days)
        )

    def budget_for(self, step: Step) -> int:
        """A step's budget in working days: as the dossier's time limit gives it, else the definition's."""
        return self.step_budgets.get(step.id, step.budget_working_days)

    def first_assigned_unit(self) -> str:
        """The unit that holds the dossier as it starts: its first step's, when an officer of that unit takes it
        (it is then indexed in Temporal from the start, not upserted a moment later)."""
        definition = self.snapshot.definition
        try:
            first = definition.step(definition.start_step)
        except KeyError:
            return ""
        if not first.is_officer_step or first.skip_when:
            return ""
        return self.unit_for(first.id)


class ActorRef(BaseModel):
    """Who acted, as the audit trail keeps it: for whom, at which unit, through which channel."""

    kind: Literal["officer", "citizen", "anonymous", "portal", "system"]
    actor_id: str | None = None
    on_behalf_of: str | None = None
    unit_code: str | None = None
    channel: str = "api"


class Capacity(BaseModel):
    """A role an officer may exercise at a unit, in their own right or on behalf of a delegator."""

    role: Role
    unit_code: Annotated[str, Field(min_length=1, max_length=80)]
    on_behalf_of: str | None = None


class OfficerRef(BaseModel):
    """The officer acting. The API sends every capacity the officer holds today (registry + delegations);
    the workflow picks the one the step needs, and that capacity (role, unit, on behalf of) is recorded."""

    officer_id: Annotated[str, Field(min_length=1, max_length=100)]
    role: Role
    unit_code: Annotated[str, Field(min_length=1, max_length=80)]
    on_behalf_of: str | None = None
    capacities: list[Capacity] = Field(default_factory=list, max_length=200)

    def acting_as(self, role: Role | None, unit_code: str | None) -> OfficerRef | None:
        """This officer in the capacity of `role` at `unit_code` (any role when None), or None."""
        options = self.capacities or [
            Capacity(role=self.role, unit_code=self.unit_code, on_behalf_of=self.on_behalf_of)
        ]
        for capacity in options:
            if (role is None or capacity.role == role) and capacity.unit_code == unit_code:
                return OfficerRef(officer_id=self.officer_id, **capacity.model_dump())
        return None

    def label(self) -> str:
        behalf = f", for {self.on_behalf_of}" if self.on_behalf_of else ""
        return f"{self.officer_id} ({self.role.value}, {self.unit_code}{behalf})"

    def actor(self, channel: str) -> ActorRef:
        return ActorRef(kind="officer", actor_id=self.officer_id, on_behalf_of=self.on_behalf_of,
                        unit_code=self.unit_code, channel=channel)  # fmt: skip


class OfficerDecision(BaseModel):
    """An officer's decision on the step awaiting it."""

    model_config = ConfigDict(extra="forbid")

    step_id: Annotated[str, Field(min_length=1, max_length=63)]
    decision: DecisionKind
    reason: Annotated[str, Field(max_length=2000)] | None = None
    missing: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(default_factory=list, max_length=50)
    # Handing a result over at the counter: who received it, and the paper that showed who they are.
    recipient: Annotated[str, Field(max_length=300)] | None = None
    officer: OfficerRef

    @model_validator(mode="after")
    def _reasons_where_the_law_wants_them(self) -> OfficerDecision:
        if self.decision == DecisionKind.hand_over and not (self.recipient and self.recipient.strip()):
            raise ValueError("handing a result over names who received it")
        if self.decision in (DecisionKind.reject, DecisionKind.return_) and not (self.reason and self.reason.strip()):
            raise ValueError(f"a decision to {self.decision.value} needs a reason")
        if self.decision == DecisionKind.request_supplement and not self.missing:
            raise ValueError("a supplement request lists what is missing (one complete list, given once)")
        return self


class SupplementSubmission(BaseModel):
    """The applicant's answer to a supplement request: corrected or added form values."""

    model_config = ConfigDict(extra="forbid")

    form: dict[str, Any] = Field(default_factory=dict)
    note: Annotated[str, Field(max_length=2000)] | None = None
    by: ActorRef | None = None


class Apology(BaseModel):
    """Form 04: the apology letter with a new appointment, owed before a deadline that will be missed."""

    reason: str
    new_appointment_date: date
    previous_appointment_date: date
    issued_at: datetime
    officer: str


class ApologySubmission(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    new_appointment_date: date
    officer: OfficerRef


class ExtensionSubmission(BaseModel):
    """An extension to the extended legal limit, where the definition allows one (special cases)."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    new_appointment_date: date
    officer: OfficerRef


class Withdrawal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    by: ActorRef | None = None


class PaymentSubmission(BaseModel):
    """The applicant paid a fee step's financial obligation (reported by the payment service)."""

    model_config = ConfigDict(extra="forbid")

    step_id: Annotated[str, Field(min_length=1, max_length=63)]
    amount_vnd: Annotated[int, Field(ge=0)]
    receipt_reference: Annotated[str, Field(min_length=1, max_length=100)]
    by: ActorRef | None = None
    # Paid through the payment platform (revision 5): the request it pays, the platform's transaction and channel.
    payment_id: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    transaction_id: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    channel: Annotated[str, Field(max_length=40)] | None = None


class MessageAccepted(BaseModel):
    dossier_code: str
    step_id: str
    status: PortalStatus
    active_step_ids: list[str]


class SupplementRequest(BaseModel):
    step_id: str
    missing: list[str]
    requested_at: datetime
    reason: str | None = None


class FeeRequest(BaseModel):
    step_id: str
    amount_vnd: int
    requested_at: datetime
    description: str | None = None
    # The payment platform's request (revision 5): the applicant pays at pay_url before expires_at.
    payment_id: str | None = None
    pay_url: str | None = None
    expires_at: datetime | None = None


class ActiveStep(BaseModel):
    """A step under way: several at once inside parallel branches."""

    step_id: str
    name: str
    kind: StepKind
    awaiting: Awaiting
    role: Role | None = None
    unit_code: str | None = None
    due_date: date | None = None
    started_at: datetime
    child_dossier_code: str | None = None
    due_at: datetime | None = None
    warn_at: datetime | None = None
    warning: bool = False  # the step has used its early-warning share of the budget
    overdue: bool = False
    system: str | None = None  # the external system an adapter or notification step is waiting for


class DossierState(BaseModel):
    """The mutable part of a dossier, as the read model shows it."""

    status: PortalStatus
    active_steps: list[ActiveStep] = Field(default_factory=list)
    appointment_date: date
    supplement_request: SupplementRequest | None = None
    fee_request: FeeRequest | None = None
    fees_paid_vnd: int = 0
    fees_refunded_vnd: int = 0  # paid through the payment platform, refunded when the dossier did not complete
    outcome: Literal["completed", "refused", "stopped", "withdrawn"] | None = None
    outcome_reason: str | None = None
    partial: bool = False  # a branch was refused and the definition let the dossier go on
    results: list[dict[str, Any]] = Field(default_factory=list)
    completed_at: datetime | None = None
    # The legal clock. appointment_date moves only by suspended supplement time and lawful extension;
    # an apology promises a later date but does not make a late dossier on time.
    original_appointment_date: date | None = None
    supplement_count: int = 0
    suspended_working_hours: float = 0.0
    extended: bool = False
    apology: Apology | None = None
    overdue: bool = False
    overdue_without_apology: bool = False


EventKind = Literal[
    "submitted",
    "step_started",
    "step_skipped",
    "decision",
    "supplement_requested",
    "supplemented",
    "fee_requested",
    "fee_paid",
    "fee_expired",
    "fee_refunded",
    "fee_cancelled",
    "agency_called",
    "notified",
    "branch_started",
    "branch_finished",
    "child_finished",
    "early_warning",
    "overdue",
    "escalated",
    "apology",
    "extension",
    "letter_issued",
    "withdrawn",
    "result_issued",
    "finished",
    "message_refused",
]


class DossierEvent(BaseModel):
    kind: EventKind
    at: datetime
    step_id: str | None = None
    actor: str | None = None
    summary: str  # in English, for logs and the portal; readers see `message` rendered (domain/timeline_messages.py)
    detail: dict[str, Any] = Field(default_factory=dict)
    by: ActorRef | None = None
    # What the timeline says, per reader and language: a key of domain/timeline_messages.MESSAGES and its values.
    # Events recorded before messages existed have none, and show their summary.
    message: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class Transition(BaseModel):
    """One entry of the dossier's history plus, usually, its state afterwards.

    `seq` orders transitions per dossier; the read model applies each once and never lets an
    older state overwrite a newer one, so retried activities are harmless.
    """

    dossier_code: str
    seq: int
    event: DossierEvent
    state: DossierState | None = None
    form: dict[str, Any] | None = None


class TransitionBatch(BaseModel):
    transitions: list[Transition]


class PortalStatusPush(BaseModel):
    dossier_code: str
    seq: int
    status: PortalStatus
    at: datetime
    procedure_code: str
    note: str | None = None


class PublishBatch(BaseModel):
    """Transitions for the read model and, riding along, the portal pushes queued with them."""

    transitions: list[Transition]
    portal_pushes: list[PortalStatusPush] = []


class Published(BaseModel):
    portal_pushed: int  # how many of the batch's portal pushes, from the first, the portal took


class SystemCall(BaseModel):
    dossier_code: str
    system: str
    operation: str
    idempotency_key: str
    payload: dict[str, Any]
    callback: bool = False  # the agency acknowledges now and answers later (AgencyAnswer)


class AgencyAnswer(BaseModel):
    """An agency's later answer to an adapter step's call (answer: callback), correlated by the call's id."""

    step_id: Annotated[str, Field(min_length=1, max_length=63)]
    call_id: Annotated[str, Field(min_length=1, max_length=200)]  # the call's idempotency key, as it was sent
    outcome: Literal["answered", "refused"] = "answered"
    reference: Annotated[str, Field(max_length=100)] | None = None
    reason: Annotated[str, Field(max_length=1000)] | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class SystemCallResult(BaseModel):
    system: str
    operation: str
    reference: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class DossierOutcome(BaseModel):
    dossier_code: str
    status: PortalStatus
    outcome: Literal["completed", "refused", "stopped", "withdrawn"]
    reason: str | None = None
    results: list[dict[str, Any]] = Field(default_factory=list)


class ChildRegistration(BaseModel):
    """A child step asks for its dossier in the other agency: a code from that agency's counter."""

    parent_code: str
    step_id: str
    visit: int
    snapshot: DefinitionSnapshot
    receiving_unit: str
    form: dict[str, Any]
    applicant: Applicant
    channel: Channel


class ChildDossier(BaseModel):
    dossier_code: str
    received_at: datetime
    appointment_date: date
    step_units: dict[str, str]
    jurisdiction: str = "VN"
    time_limit_working_days: int | None = None
    step_budgets: dict[str, int] = Field(default_factory=dict)


class RefusedMessage(BaseModel):
    at: datetime
    # The name the message came by: one the dossier takes, or (refused for that) any name a sender chose, shortened.
    message: str
    reason: str


class DossierLiveDetail(BaseModel):
    """What a workflow query answers: the live state and what the workflow holds in memory."""

    dossier_code: str
    procedure_code: str
    procedure_version: int
    state: DossierState
    form: dict[str, Any]
    visits: dict[str, int]
    agency_results: dict[str, SystemCallResult]
    refused_messages: list[RefusedMessage]
    portal_pushes_pending: int
