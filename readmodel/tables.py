"""SQL tables of the read model: what citizens poll and officers list, written by activities."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel


class ProcedureVersionRow(SQLModel, table=True):
    """One immutable deployed version of a procedure definition."""

    __tablename__ = "procedure_version"
    __table_args__ = (
        UniqueConstraint("code", "version", name="uq_procedure_version"),
        UniqueConstraint("code", "content_hash", name="uq_procedure_content"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40)  # looked up through uq_procedure_version, which leads with it
    version: int
    content_hash: str = Field(max_length=64)
    name: str
    body: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    deployed_at: datetime
    retired_at: datetime | None = None  # a retired procedure takes no new dossiers; running ones go on


class DossierSerialRow(SQLModel, table=True):
    """Last serial handed out per receiving agency per day (the NNNN of a dossier code)."""

    __tablename__ = "dossier_serial"

    agency_code: str = Field(primary_key=True, max_length=80)
    day: str = Field(primary_key=True, max_length=6)
    last: int


class DossierRow(SQLModel, table=True):
    __tablename__ = "dossier"

    code: str = Field(primary_key=True, max_length=100)
    procedure_code: str = Field(index=True, max_length=40)
    procedure_version: int
    procedure_name: str
    receiving_unit: str = Field(max_length=80)
    channel: int
    applicant: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    form: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    step_units: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    received_at: datetime
    appointment_date: date
    # The limit and step budgets its case of `time_limit_when` gave it at submission (None: the procedure's).
    time_limit_working_days: int | None = None
    step_budgets: dict[str, int] | None = Field(default=None, sa_column=Column(JSON))
    idempotency_key: str | None = Field(default=None, unique=True, max_length=200)
    request_hash: str = Field(max_length=64)
    workflow_started: bool = False
    parent_code: str | None = Field(default=None, index=True, max_length=100)  # an interconnected child dossier
    # Who may look the dossier up: the citizen who submitted it (token) or the applicant named in it.
    owner_citizen_id: str | None = Field(default=None, index=True, max_length=12)
    submitted_by: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))  # who submitted (ActorRef)
    # The unit competent for the procedure at the applicant's address, when another counter received it.
    handling_unit: str | None = Field(default=None, max_length=80)

    status: int = Field(index=True)
    active_steps: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    supplement_request: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    fee_request: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    fees_paid_vnd: int = 0
    # Refunded through the payment platform when the dossier did not complete (migration 0008).
    fees_refunded_vnd: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    outcome: str | None = None
    outcome_reason: str | None = None
    partial: bool = False
    results: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    completed_at: datetime | None = None
    # The legal clock and what the service-quality indicators count.
    original_appointment_date: date | None = None
    jurisdiction: str = Field(default="VN", max_length=10)
    supplement_count: int = 0
    suspended_working_hours: float = 0.0
    extended: bool = False
    apology: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    overdue: bool = False
    overdue_without_apology: bool = False
    prefilled: bool = False  # the applicant's data was reused from national databases
    last_seq: int = 0
    updated_at: datetime


class ActiveStepRow(SQLModel, table=True):
    """A step under way, one row per active step: the officers' inbox reads this table."""

    __tablename__ = "dossier_active_step"
    __table_args__ = (Index("ix_active_step_inbox", "awaiting", "unit_code", "role", "due_at", "started_at"),)

    dossier_code: str = Field(primary_key=True, max_length=100)
    step_id: str = Field(primary_key=True, max_length=63)
    name: str
    kind: str = Field(max_length=20)
    awaiting: str = Field(max_length=20)
    role: str | None = Field(default=None, max_length=20)
    unit_code: str | None = Field(default=None, max_length=80)
    due_date: date | None = None
    due_at: datetime | None = None
    warning: bool = False
    overdue: bool = False
    system: str | None = Field(default=None, index=True, max_length=63)
    started_at: datetime


class DossierEventRow(SQLModel, table=True):
    """Append-only history of a dossier; (dossier, seq) makes every write idempotent."""

    __tablename__ = "dossier_event"
    __table_args__ = (UniqueConstraint("dossier_code", "seq", name="uq_dossier_event_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    dossier_code: str = Field(max_length=100)  # looked up through uq_dossier_event_seq, which leads with it
    seq: int
    kind: str = Field(max_length=40)
    at: datetime
    step_id: str | None = None
    actor: str | None = None
    summary: str
    status: int | None = None
    detail: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    # The audit trail of the dossier: who acted, for whom, at which unit, through which channel.
    actor_kind: str | None = Field(default=None, max_length=20)
    actor_id: str | None = Field(default=None, max_length=100)
    on_behalf_of: str | None = Field(default=None, max_length=100)
    unit_code: str | None = Field(default=None, max_length=80)
    channel: str | None = Field(default=None, max_length=20)
    # What the timeline says, rendered per reader and language (domain/timeline_messages.py); none before them.
    message: str | None = Field(default=None, max_length=60)
    params: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class CalendarDayRow(SQLModel, table=True):
    """An administrator's change to a jurisdiction's calendar: an extra day off, or a make-up working day."""

    __tablename__ = "calendar_day"

    jurisdiction: str = Field(primary_key=True, max_length=10)  # VN (national) or a province code
    day: date = Field(primary_key=True)
    kind: str = Field(max_length=20)  # day_off | working_day
    reason: str = Field(max_length=300)
    changed_at: datetime


class UnitRow(SQLModel, table=True):
    """An administrative unit: the nation, a ministry, a province, a department, a commune/ward, an office."""

    __tablename__ = "unit"

    code: str = Field(primary_key=True, max_length=80)  # the agency code printed in dossier codes
    name: str = Field(max_length=300)
    kind: str = Field(max_length=20)
    parent_code: str | None = Field(default=None, index=True, max_length=80)
    # The administrative-area code of a province or commune/ward (which address it is competent for).
    area_code: str | None = Field(default=None, index=True, max_length=10)
    province_code: str | None = Field(default=None, max_length=10)  # the province whose calendar the unit keeps
    # The sectors (a procedure's `sector`) the unit is competent for: what `select: by_sector` looks for.
    sectors: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    active: bool = True
    updated_at: datetime


class OfficerRow(SQLModel, table=True):
    """An officer of a unit with the roles they hold there. `officer_id` is the subject of their tokens."""

    __tablename__ = "officer"

    officer_id: str = Field(primary_key=True, max_length=100)
    full_name: str = Field(max_length=200)
    unit_code: str = Field(index=True, max_length=80)
    roles: list[str] = Field(sa_column=Column(JSON, nullable=False))
    active: bool = True
    updated_at: datetime


class DelegationRow(SQLModel, table=True):
    """An officer acting on behalf of another (their roles at their unit) between two dates."""

    __tablename__ = "delegation"

    id: int | None = Field(default=None, primary_key=True)
    delegator_id: str = Field(index=True, max_length=100)
    delegate_id: str = Field(index=True, max_length=100)
    roles: list[str] = Field(sa_column=Column(JSON, nullable=False))
    valid_from: date
    valid_until: date
    reason: str = Field(max_length=500)
    created_by: str = Field(max_length=100)
    created_at: datetime
    revoked_at: datetime | None = None


class AuditEntryRow(SQLModel, table=True):
    """Append-only: every state-changing act outside a dossier's own history (which `dossier_event` keeps)."""

    __tablename__ = "audit_entry"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    actor_kind: str = Field(max_length=20)  # officer | citizen | anonymous | portal | system
    actor_id: str | None = Field(default=None, index=True, max_length=100)
    on_behalf_of: str | None = Field(default=None, max_length=100)
    unit_code: str | None = Field(default=None, max_length=80)
    channel: str = Field(max_length=20)  # api | cli | online | in_person | postal | portal | system
    action: str = Field(max_length=60)
    target: str = Field(index=True, max_length=200)  # what was acted on: dossier code, procedure code, unit …
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class IssuedResultRow(SQLModel, table=True):
    """A result document issued electronically: rendered, signed by its unit, deposited in the result store.

    Written once per dossier and document (a retried issue finds it here); the signed manifest is kept
    verbatim so verification never depends on how a database round-trips times or text."""

    __tablename__ = "issued_result"
    __table_args__ = (UniqueConstraint("dossier_code", "document_id", name="uq_issued_result_document"),)

    id: str = Field(primary_key=True, max_length=40)  # the result id printed on the document
    dossier_code: str = Field(max_length=100)  # looked up through uq_issued_result_document, which leads with it
    document_id: str = Field(max_length=63)
    name: str = Field(max_length=300)
    template: str = Field(max_length=200)
    unit_code: str = Field(max_length=80)
    unit_name: str = Field(max_length=300)
    signer: str | None = Field(default=None, max_length=100)
    sha256: str = Field(index=True, max_length=64)  # of the PDF, the document of record
    html_sha256: str = Field(index=True, max_length=64)
    manifest: str  # the exact bytes signed (canonical JSON), naming both hashes
    signature: str  # base64
    signature_algorithm: str = Field(max_length=40)
    certificate_chain_pem: str
    certificate_subject: str = Field(max_length=500)
    html: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    pdf: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    issued_at: datetime
    deposited_at: datetime | None = None
    store_reference: str | None = Field(default=None, max_length=200)
    deposit_refusal: str | None = None


class SignInSessionRow(SQLModel, table=True):
    """A browser signed in to the pages, and who it is signed in as.

    The browser's cookie carries a random id; only its SHA-256 is kept, so that a copy of the database opens no
    session. A session ends at sign-out or revocation (ended_at), at expires_at, or after an idle time without a
    request (last_seen_at, refreshed at most once a minute)."""

    __tablename__ = "sign_in_session"

    id_hash: str = Field(primary_key=True, max_length=64)  # hex SHA-256 of the cookie's id
    principal: str = Field(max_length=20)  # officer | citizen
    subject: str = Field(index=True, max_length=200)  # as the issuer names them: revocation ends all of theirs
    issuer: str = Field(max_length=300)
    citizen_id: str | None = Field(default=None, max_length=12)
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime = Field(index=True)  # pruning deletes by it
    ended_at: datetime | None = None
    end_reason: str | None = Field(default=None, max_length=40)
    # A provider's session (OpenID Connect login): its ID token, the id_token_hint of the provider's sign-out.
    id_token: str | None = None
    # Renewing it (the provider's refresh token, and when the provider's access token expires), and the provider's
    # own session id, which the provider's back-channel sign-out names.
    refresh_token: str | None = None
    provider_expires_at: datetime | None = None
    provider_sid: str | None = Field(default=None, index=True, max_length=200)


class OidcLoginRow(SQLModel, table=True):
    """A sign-in through an OpenID Connect provider under way, from the redirect to the provider until its callback
    takes it (once). Keyed by the SHA-256 of its `state`; bound to the browser that began it by the SHA-256 of a
    short-lived cookie's id."""

    __tablename__ = "oidc_login"

    state_hash: str = Field(primary_key=True, max_length=64)
    browser_hash: str = Field(max_length=64)
    provider: str = Field(max_length=40)
    nonce: str = Field(max_length=100)
    code_verifier: str = Field(max_length=200)
    next_path: str = Field(max_length=2000)
    expires_at: datetime = Field(index=True)  # pruning deletes by it
