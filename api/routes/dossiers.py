"""Citizens submit, poll and supplement dossiers; officers decide on them."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import Session
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import CalendarDep, OfficerDep, SessionDep, SettingsDep, TemporalDep
from api.errors import field_error
from domain.definition import DecisionKind
from domain.dossier import (
    ApologySubmission,
    Applicant,
    Channel,
    DefinitionSnapshot,
    DossierInput,
    DossierLiveDetail,
    ExtensionSubmission,
    MessageAccepted,
    OfficerDecision,
    PaymentSubmission,
    PortalStatus,
    SupplementSubmission,
    Withdrawal,
)
from domain.settings import Settings
from domain.units import NoCompetentUnit, resolve_step_units, unit_directory
from domain.working_calendar import WorkingCalendar
from forms.eform import FormInvalid, validate_form
from readmodel import calendars, dossiers, procedures
from readmodel.db import as_utc, release, utcnow
from readmodel.tables import DossierRow, ProcedureVersionRow
from workflows.dossier import ASSIGNED_UNIT, DOSSIER_STATUS, NOT_YOUR_STEP, PROCEDURE_CODE, DossierWorkflow

log = logging.getLogger(__name__)
router = APIRouter(prefix="/dossiers", tags=["dossiers"])

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)]
# Keys motcua makes for dossiers it registers itself; a citizen's key may not take one of them.
PORTAL_KEY_PREFIX = "portal:"
RESERVED_KEY_PREFIXES = (PORTAL_KEY_PREFIX, "child:")


class SubmitDossier(BaseModel):
    model_config = ConfigDict(extra="forbid")

    procedure_code: Annotated[str, Field(min_length=1, max_length=40)]
    applicant: Applicant
    form: dict[str, Any]
    channel: Channel = Channel.online
    receiving_unit: Annotated[str, Field(min_length=1, max_length=80)] | None = None
    # Fields the applicant took from national databases (prefill) rather than typed: counted by the indicators.
    prefilled_fields: Annotated[list[Annotated[str, Field(max_length=63)]], Field(max_length=300)] = []


class Receipt(BaseModel):
    """Form 01: the receipt with the dossier code and the appointed date for the result."""

    dossier_code: str
    procedure_code: str
    procedure_version: int
    procedure_name: str
    receiving_unit: str
    received_at: datetime
    appointment_date: date
    status: int
    status_name: str


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
    summary: str
    status: int | None


class DossierView(Receipt):
    parent_code: str | None
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
    partial: bool
    outcome: str | None
    outcome_reason: str | None
    results: list[dict[str, Any]]
    completed_at: datetime | None
    timeline: list[TimelineEntry]


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step_id: Annotated[str, Field(min_length=1, max_length=63)]
    decision: DecisionKind
    reason: Annotated[str, Field(max_length=2000)] | None = None
    missing: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(default_factory=list, max_length=50)


def _receipt(row: DossierRow) -> Receipt:
    return Receipt(
        dossier_code=row.code,
        procedure_code=row.procedure_code,
        procedure_version=row.procedure_version,
        procedure_name=row.procedure_name,
        receiving_unit=row.receiving_unit,
        received_at=as_utc(row.received_at),
        appointment_date=row.appointment_date,
        status=row.status,
        status_name=PortalStatus(row.status).name,
    )


def _request_hash(body: SubmitDossier) -> str:
    return hashlib.sha256(json.dumps(body.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()


async def _start_workflow(
    client: Client, settings: Settings, session: Session, row: DossierRow, pinned: DefinitionSnapshot | None = None
) -> None:
    """Start the dossier's workflow (idempotent: an existing run with this id is kept)."""
    if pinned is None:
        pinned = await run_in_threadpool(_pinned_for, session, row)
    input = DossierInput(
        dossier_code=row.code,
        snapshot=pinned,
        form=row.form,
        applicant=Applicant.model_validate(row.applicant),
        channel=Channel(row.channel),
        receiving_unit=row.receiving_unit,
        received_at=as_utc(row.received_at),
        appointment_date=row.appointment_date,
        step_units=row.step_units,
        jurisdiction=row.jurisdiction,
    )
    try:
        await client.start_workflow(
            DossierWorkflow.run,
            input,
            id=row.code,
            task_queue=settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(PROCEDURE_CODE, row.procedure_code),
                    SearchAttributePair(DOSSIER_STATUS, PortalStatus.registered.name),
                    SearchAttributePair(ASSIGNED_UNIT, ""),
                ]
            ),
        )
    except RPCError as exc:
        if exc.status != RPCStatusCode.ALREADY_EXISTS:
            log.error("could not start workflow for %s: %s", row.code, exc)
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                f"dossier {row.code} is registered but processing could not start yet; "
                "send the same request with the same Idempotency-Key again",
            ) from exc
    await run_in_threadpool(dossiers.mark_workflow_started, session, row.code)


def _version_of(session: Session, row: DossierRow) -> ProcedureVersionRow:
    version = procedures.version(session, row.procedure_code, row.procedure_version)
    assert version is not None, "a dossier always references a deployed version"
    return version


def _definition_of(session: Session, row: DossierRow) -> DefinitionSnapshot:
    """The definition version the dossier runs on (without its child procedures)."""
    return procedures.snapshot(_version_of(session, row))


def _pinned_for(session: Session, row: DossierRow) -> DefinitionSnapshot:
    version = _version_of(session, row)
    try:
        return procedures.pinned_snapshot(session, version)
    except procedures.ChildNotInService as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    finally:
        release(session)


def _register_submission(
    session: Session, body: SubmitDossier, idempotency_key: str | None, base_calendar: WorkingCalendar
) -> tuple[DossierRow, DefinitionSnapshot | None]:
    """Validate a submission and store it with its dossier code (blocking database work, run off the event loop).

    Returns the pinned snapshot for a new dossier, None for a resubmission with the same Idempotency-Key."""
    version = procedures.latest(session, body.procedure_code)
    if version is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no procedure {body.procedure_code!r} is deployed")
    if version.retired_at is not None:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"procedure {body.procedure_code!r} is retired and takes no new dossiers"
        )
    try:
        pinned = procedures.pinned_snapshot(session, version)
    except procedures.ChildNotInService as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    definition = pinned.definition
    receiving_unit = body.receiving_unit or definition.receiving_units[0]
    if receiving_unit not in definition.receiving_units:
        raise field_error(
            ["body", "receiving_unit"],
            f"{receiving_unit!r} does not receive this procedure; one of: {', '.join(definition.receiving_units)}",
        )
    try:
        form = validate_form(definition, body.form)
    except FormInvalid as invalid:
        raise HTTPException(422, invalid.errors) from None
    try:
        step_units = resolve_step_units(definition, form, receiving_unit)
    except NoCompetentUnit as exc:
        raise field_error(["body", "form", exc.field], str(exc)) from None

    unknown_prefilled = sorted(set(body.prefilled_fields) - definition.form.field_names)
    if unknown_prefilled:
        raise field_error(["body", "prefilled_fields"], f"not fields of the form: {', '.join(unknown_prefilled)}")
    jurisdiction = unit_directory().jurisdiction_of(receiving_unit)
    calendar = calendars.calendar_for(session, jurisdiction, base_calendar)
    request_hash = _request_hash(body)
    received_at = utcnow()
    try:
        row = dossiers.register(
            session,
            agency_code=receiving_unit,
            day=calendar.local_date(received_at),
            idempotency_key=idempotency_key,
            build=lambda code: DossierRow(
                code=code,
                procedure_code=version.code,
                procedure_version=version.version,
                procedure_name=version.name,
                receiving_unit=receiving_unit,
                channel=int(body.channel),
                applicant=body.applicant.model_dump(mode="json", exclude_none=True),
                form=form,
                step_units=step_units,
                received_at=received_at,
                appointment_date=calendar.appointment_date(received_at, definition.time_limit_working_days),
                original_appointment_date=calendar.appointment_date(received_at, definition.time_limit_working_days),
                jurisdiction=jurisdiction,
                prefilled=bool(body.prefilled_fields),
                idempotency_key=idempotency_key,
                request_hash=request_hash,
                status=int(PortalStatus.registered),
                updated_at=received_at,
            ),
        )
    except dossiers.IdempotencyConflict as conflict:
        if conflict.existing.request_hash != request_hash:
            raise HTTPException(
                status.HTTP_409_CONFLICT, "this Idempotency-Key was already used for a different submission"
            ) from None
        return conflict.existing, None
    return row, pinned


async def receive_dossier(
    body: SubmitDossier,
    idempotency_key: str | None,
    session: Session,
    client: Client,
    settings: Settings,
    base_calendar: WorkingCalendar,
) -> tuple[Receipt, bool]:
    """Register a dossier and start its processing: the one path of every channel (the API, the national portal).

    Returns the receipt, and whether the dossier is new (False: the same Idempotency-Key was seen before)."""
    row, pinned = await run_in_threadpool(_register_submission, session, body, idempotency_key, base_calendar)
    await run_in_threadpool(release, session)
    if pinned is None:
        if not row.workflow_started:
            await _start_workflow(client, settings, session, row)
        return _receipt(row), False
    await _start_workflow(client, settings, session, row, pinned)
    log.info("dossier %s submitted for %s v%d", row.code, row.procedure_code, row.procedure_version)
    return _receipt(row), True


@router.post("", status_code=status.HTTP_201_CREATED)
async def submit_dossier(
    body: SubmitDossier,
    response: Response,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    base_calendar: CalendarDep,
    idempotency_key: IdempotencyKey = None,
) -> Receipt:
    """Submit a dossier; the answer is the receipt. Resending with the same Idempotency-Key returns the same dossier."""
    if idempotency_key and idempotency_key.startswith(RESERVED_KEY_PREFIXES):
        raise field_error(
            ["header", "Idempotency-Key"], f"keys starting with {' or '.join(RESERVED_KEY_PREFIXES)} are reserved"
        )
    receipt, created = await receive_dossier(body, idempotency_key, session, client, settings, base_calendar)
    if not created:
        response.status_code = status.HTTP_200_OK
    return receipt


def _row_or_404(session: Session, code: str) -> DossierRow:
    row = dossiers.get(session, code)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no dossier {code!r}")
    release(session)
    return row


@router.get("/{code}")
def get_dossier(code: str, session: SessionDep) -> DossierView:
    """Status, current step, appointment date and timeline, from the read model (never wakes the workflow)."""
    row = _row_or_404(session, code)
    return DossierView(
        **_receipt(row).model_dump(),
        parent_code=row.parent_code,
        original_appointment_date=row.original_appointment_date,
        supplement_count=row.supplement_count,
        suspended_working_hours=row.suspended_working_hours,
        extended=row.extended,
        apology=row.apology,
        overdue=row.overdue,
        overdue_without_apology=row.overdue_without_apology,
        active_steps=[ActiveStepView.model_validate(step) for step in row.active_steps],
        supplement_request=row.supplement_request,
        fee_request=row.fee_request,
        fees_paid_vnd=row.fees_paid_vnd,
        partial=row.partial,
        outcome=row.outcome,
        outcome_reason=row.outcome_reason,
        results=row.results,
        completed_at=as_utc(row.completed_at) if row.completed_at else None,
        timeline=[
            TimelineEntry(
                seq=e.seq,
                at=as_utc(e.at),
                kind=e.kind,
                step_id=e.step_id,
                actor=e.actor,
                summary=e.summary,
                status=e.status,
            )
            for e in dossiers.events(session, code)
        ],
    )


@router.get("/{code}/live")
async def get_live_detail(
    code: str, session: SessionDep, client: TemporalDep, officer: OfficerDep
) -> DossierLiveDetail:
    """Live detail from the workflow itself (a query), for officers; citizens poll GET /dossiers/{code}."""
    await run_in_threadpool(_row_or_404, session, code)
    try:
        return await client.get_workflow_handle(code).query(DossierWorkflow.detail)
    except RPCError as exc:
        raise _rpc_http_error(code, exc) from exc


@router.post("/{code}/decisions")
async def decide(
    code: str, body: DecisionIn, session: SessionDep, client: TemporalDep, settings: SettingsDep, officer: OfficerDep
) -> MessageAccepted:
    """An officer's decision on the step awaiting it: 409 when that step is not awaiting this decision."""
    await run_in_threadpool(_row_or_404, session, code)
    try:
        decision = OfficerDecision(**body.model_dump(), officer=officer)
    except ValidationError as exc:
        raise HTTPException(
            422,
            [{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors(include_url=False)],
        ) from None
    return await _update(client, settings, code, DossierWorkflow.decide, decision)


@router.post("/{code}/supplements")
async def supplement(
    code: str, body: SupplementSubmission, session: SessionDep, client: TemporalDep, settings: SettingsDep
) -> MessageAccepted:
    """The applicant's answer to a supplement request; the whole form must be valid once merged."""
    row = await run_in_threadpool(_row_or_404, session, code)
    try:
        merged = validate_form(_definition_of(session, row).definition, {**row.form, **body.form})
    except FormInvalid as invalid:
        raise HTTPException(422, invalid.errors) from None
    normalised = SupplementSubmission(form={k: merged.get(k) for k in body.form}, note=body.note)
    release(session)
    return await _update(client, settings, code, DossierWorkflow.supplement, normalised)


@router.post("/{code}/payments")
async def pay(
    code: str, body: PaymentSubmission, session: SessionDep, client: TemporalDep, settings: SettingsDep
) -> MessageAccepted:
    """The payment service reports a fee paid; 409 unless that fee step awaits exactly this amount."""
    await run_in_threadpool(_row_or_404, session, code)
    return await _update(client, settings, code, DossierWorkflow.pay, body)


class ApologyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    new_appointment_date: date


class ExtensionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(min_length=1, max_length=2000)]


@router.post("/{code}/apologies")
async def apologize(
    code: str,
    body: ApologyIn,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    officer: OfficerDep,
    base_calendar: CalendarDep,
) -> MessageAccepted:
    """Form 04: an apology with a new appointment, owed at least one working day before the appointment."""
    row = await run_in_threadpool(_row_or_404, session, code)
    calendar = calendars.calendar_for(session, row.jurisdiction, base_calendar)
    today = calendar.local_date(utcnow())
    if calendar.add_working_days(today, 1) > row.appointment_date:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"an apology letter is issued at least one working day before the appointment ({row.appointment_date})",
        )
    if not calendar.is_working_day(body.new_appointment_date):
        raise field_error(["body", "new_appointment_date"], "the new appointment must be a working day")
    message = ApologySubmission(reason=body.reason, new_appointment_date=body.new_appointment_date, officer=officer)
    release(session)
    return await _update(client, settings, code, DossierWorkflow.apologize, message)


@router.post("/{code}/extensions")
async def extend(
    code: str,
    body: ExtensionIn,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    officer: OfficerDep,
    base_calendar: CalendarDep,
) -> MessageAccepted:
    """Extend to the procedure's extended limit (special cases), where its definition allows it."""
    row = await run_in_threadpool(_row_or_404, session, code)
    definition = _definition_of(session, row).definition
    if definition.extended_time_limit_working_days is None:
        raise HTTPException(status.HTTP_409_CONFLICT, "this procedure has no extended time limit")
    calendar = calendars.calendar_for(session, row.jurisdiction, base_calendar)
    extra = definition.extended_time_limit_working_days - definition.time_limit_working_days
    new_date = calendar.add_working_days(row.appointment_date, extra)
    message = ExtensionSubmission(reason=body.reason, new_appointment_date=new_date, officer=officer)
    release(session)
    return await _update(client, settings, code, DossierWorkflow.extend, message)


@router.post("/{code}/withdrawal")
async def withdraw(
    code: str, body: Withdrawal, session: SessionDep, client: TemporalDep, settings: SettingsDep
) -> MessageAccepted:
    """The applicant withdraws the dossier (status 7); processing stops wherever it stands."""
    await run_in_threadpool(_row_or_404, session, code)
    return await _update(client, settings, code, DossierWorkflow.withdraw, body)


async def _update(client: Client, settings: Settings, code: str, update: Any, message: Any) -> MessageAccepted:
    handle = client.get_workflow_handle(code)
    try:
        return await handle.execute_update(
            update, message, rpc_timeout=timedelta(seconds=settings.update_timeout_seconds)
        )
    except WorkflowUpdateFailedError as failed:
        cause = failed.cause
        if isinstance(cause, ApplicationError):
            code_ = status.HTTP_403_FORBIDDEN if cause.type == NOT_YOUR_STEP else status.HTTP_409_CONFLICT
            raise HTTPException(code_, cause.message) from None
        raise HTTPException(status.HTTP_409_CONFLICT, str(cause)) from None
    except RPCError as exc:
        raise _rpc_http_error(code, exc) from exc


def _rpc_http_error(code: str, exc: RPCError) -> HTTPException:
    if exc.status == RPCStatusCode.NOT_FOUND:
        # The workflow has closed (or was never started): nothing awaits a message.
        return HTTPException(status.HTTP_409_CONFLICT, f"dossier {code} is not being processed: {exc.message}")
    if exc.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
        return HTTPException(status.HTTP_504_GATEWAY_TIMEOUT, f"dossier {code} did not answer in time; try again")
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"workflow engine error: {exc.message}")
