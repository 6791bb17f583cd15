"""Citizens submit, poll and supplement dossiers; officers decide on them."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import uuid
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session
from temporalio.client import Client, RPCTimeoutOrCancelledError, WorkflowUpdateFailedError
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.access import ApplicantDossier, DossierCode, OfficerDossierState, check_readable, require_credentials
from api.deps import (
    CalendarDep,
    LookupSecretDep,
    LookupSecretsDep,
    OfficerDep,
    Principal,
    PrincipalDep,
    SessionDep,
    SettingsDep,
    TemporalDep,
)
from api.errors import field_error
from domain.definition import DecisionKind, Role
from domain.dossier import (
    ActorRef,
    ApologySubmission,
    Applicant,
    Capacity,
    Channel,
    DefinitionSnapshot,
    DossierInput,
    DossierLiveDetail,
    ExtensionSubmission,
    MessageAccepted,
    OfficerDecision,
    OfficerRef,
    PaymentSubmission,
    PortalStatus,
    SupplementSubmission,
    Withdrawal,
)
from domain.lookup_secret import LookupSecrets
from domain.settings import Settings
from domain.units import NoCompetentUnit, resolve_step_units
from domain.working_calendar import WorkingCalendar
from forms.eform import FormInvalid, validate_form
from readmodel import calendars, dossiers, organisation, procedures
from readmodel.db import as_utc, release, utcnow
from readmodel.organisation import OfficerProfile
from readmodel.tables import DossierRow, ProcedureVersionRow
from workflows.dossier import (
    ASSIGNED_UNIT,
    DOSSIER_STATUS,
    NOT_AWAITING,
    NOT_YOUR_STEP,
    PROCEDURE_CODE,
    DossierWorkflow,
)

log = logging.getLogger(__name__)
router = APIRouter(prefix="/dossiers", tags=["dossiers"])

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)]
# Keys motcua makes for dossiers it registers itself; a citizen's key may not take one of them.
PORTAL_KEY_PREFIX = "portal:"
RESERVED_KEY_PREFIXES = (PORTAL_KEY_PREFIX, "child:", "web:")  # web: the pages' own submissions


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


STEP_ROLES = {r.value for r in Role}


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
    # With the dossier code, lets whoever holds the receipt follow the dossier without signing in.
    lookup_secret: str


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


def _receipt(row: DossierRow, secrets: LookupSecrets) -> Receipt:
    return Receipt(
        dossier_code=row.code,
        procedure_code=row.procedure_code,
        procedure_version=row.procedure_version,
        procedure_name=row.procedure_name,
        receiving_unit=row.receiving_unit,
        handling_unit=row.handling_unit or row.receiving_unit,
        channel=Channel(row.channel).name,
        lookup_secret=secrets.for_dossier(row.code),
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
        received_by=ActorRef.model_validate(row.submitted_by) if row.submitted_by else None,
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
                    SearchAttributePair(ASSIGNED_UNIT, input.first_assigned_unit()),
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


def _submitter(
    principal: Principal, body: SubmitDossier, definition_receiving: list[str]
) -> tuple[Channel, str, ActorRef]:
    """The channel, the receiving unit and who submits: citizens submit online to a unit receiving the
    procedure; a reception officer receives at their own unit whatever the procedure or boundary."""
    if principal.officer is None:
        if body.channel not in (None, Channel.online):
            raise field_error(["body", "channel"], "dossiers in person or by post are received by a reception officer")
        receiving_unit = body.receiving_unit or definition_receiving[0]
        if receiving_unit not in definition_receiving:
            raise field_error(
                ["body", "receiving_unit"],
                f"{receiving_unit!r} does not receive this procedure online; one of: {', '.join(definition_receiving)}",
            )
        return Channel.online, receiving_unit, principal.actor(principal.channel)
    capacity = principal.officer.holds("reception", body.receiving_unit)
    if capacity is None:
        where = f" at {body.receiving_unit}" if body.receiving_unit else ""
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"only a reception officer{where} receives dossiers at the counter"
        )
    channel = body.channel or Channel.in_person
    if channel == Channel.online:
        raise field_error(["body", "channel"], "an officer receives dossiers in person or by post")
    return channel, capacity.unit_code, principal.actor(channel.name, role="reception", unit=capacity.unit_code)


def _register_submission(
    session: Session,
    body: SubmitDossier,
    idempotency_key: str | None,
    base_calendar: WorkingCalendar,
    principal: Principal,
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
    channel, receiving_unit, submitter = _submitter(principal, body, definition.receiving_units)
    try:
        form = validate_form(definition, body.form)
    except FormInvalid as invalid:
        raise HTTPException(422, invalid.errors) from None
    directory = organisation.directory(session)
    try:
        handling_unit = directory.handling_unit(definition, form, receiving_unit)
        step_units = resolve_step_units(definition, form, receiving_unit, directory, handling_unit)
    except NoCompetentUnit as exc:
        raise field_error(["body", "form", exc.field] if exc.field else ["body", "form"], str(exc)) from None

    unknown_prefilled = sorted(set(body.prefilled_fields) - definition.form.field_names)
    if unknown_prefilled:
        raise field_error(["body", "prefilled_fields"], f"not fields of the form: {', '.join(unknown_prefilled)}")
    jurisdiction = directory.jurisdiction_of(handling_unit)
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
                handling_unit=handling_unit,
                channel=int(channel),
                owner_citizen_id=principal.citizen_id or body.applicant.citizen_id,
                submitted_by=submitter.model_dump(mode="json", exclude_none=True),
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
                # Given, not left to their default factories: pydantic inspects a factory's signature each time
                # it calls one, 5 % of a submission's CPU.
                active_steps=[],
                results=[],
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
    principal: Principal,
    secrets: LookupSecrets,
) -> tuple[Receipt, bool]:
    """Register a dossier and start its processing: the one path of every channel (the API, the national portal).

    Returns the receipt, and whether the dossier is new (False: the same Idempotency-Key was seen before)."""
    row, pinned = await run_in_threadpool(
        _register_submission, session, body, idempotency_key, base_calendar, principal
    )
    await run_in_threadpool(release, session)
    if pinned is None:
        if not row.workflow_started:
            await _start_workflow(client, settings, session, row)
        return _receipt(row, secrets), False
    await _start_workflow(client, settings, session, row, pinned)
    log.info("dossier %s submitted for %s v%d", row.code, row.procedure_code, row.procedure_version)
    return _receipt(row, secrets), True


@router.post("", status_code=status.HTTP_201_CREATED)
async def submit_dossier(
    body: SubmitDossier,
    response: Response,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    base_calendar: CalendarDep,
    principal: PrincipalDep,
    secrets: LookupSecretsDep,
    idempotency_key: IdempotencyKey = None,
) -> Receipt:
    """Submit a dossier; the answer is the receipt (form 01) with the lookup secret. Anyone submits online
    (a citizen's token makes the dossier theirs); a reception officer receives at any counter for any
    procedure, and the dossier goes to the unit competent for the applicant's address.
    Resending with the same Idempotency-Key returns the same dossier."""
    if idempotency_key and idempotency_key.startswith(RESERVED_KEY_PREFIXES):
        raise field_error(
            ["header", "Idempotency-Key"], f"keys starting with {' or '.join(RESERVED_KEY_PREFIXES)} are reserved"
        )
    receipt, created = await receive_dossier(
        body, idempotency_key, session, client, settings, base_calendar, principal, secrets
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return receipt


@router.get("/{code}", response_model=DossierView)
async def get_dossier(
    code: DossierCode,
    request: Request,
    principal: PrincipalDep,
    secrets: LookupSecretsDep,
    secret: LookupSecretDep,
) -> Response:
    """Status, current step, appointment date and timeline, from the read model (never wakes the workflow).
    For the applicant (citizen token, or the receipt's lookup secret in X-Lookup-Secret) and officers
    of the units involved; anyone else gets 404."""
    # Citizens poll this: all its blocking work in one trip to the thread pool, and the view serialised once.
    engine = request.app.state.engine
    if engine.dialect.name == "sqlite":
        # Three indexed reads of a local file take less than a hop to the thread pool and back.
        return _dossier_view(engine, code, principal, secrets, secret)
    return await run_in_threadpool(_dossier_view, engine, code, principal, secrets, secret)


def _dossier_view(
    engine: Engine, code: str, principal: Principal, secrets: LookupSecrets, secret: str | None
) -> Response:
    require_credentials(principal, secret)
    with engine.connect() as connection:
        row = check_readable(dossiers.read_only(connection, code), code, principal, secrets, secret)
        view = dossier_view(connection, row, secrets)
    return Response(view.model_dump_json(), media_type="application/json")


# Whether each procedure version can start interconnected dossiers. A deployed version never changes, so each
# process asks once; most procedures start none, and a poll of their dossiers skips looking for children.
_STARTS_CHILDREN: dict[tuple[str, int], bool] = {}


def _starts_children(connection: Connection, row: DossierRow) -> bool:
    version = (row.procedure_code, row.procedure_version)
    if version not in _STARTS_CHILDREN:
        _STARTS_CHILDREN[version] = procedures.starts_children(connection, *version)
    return _STARTS_CHILDREN[version]


def dossier_view(connection: Connection, row: DossierRow, secrets: LookupSecrets) -> DossierView:
    """The dossier as the applicant and officers see it: receipt, state, children and timeline."""
    code = row.code
    return DossierView(
        **_receipt(row, secrets).model_dump(),
        parent_code=row.parent_code,
        children=[
            ChildDossierView(
                dossier_code=child["code"],
                step_id=dossiers.child_step_id(child["idempotency_key"]),
                procedure_code=child["procedure_code"],
                procedure_name=child["procedure_name"],
                receiving_unit=child["receiving_unit"],
                status=child["status"],
                status_name=PortalStatus(child["status"]).name,
                outcome=child["outcome"],
                partial=child["partial"],
                appointment_date=child["appointment_date"],
                completed_at=as_utc(child["completed_at"]) if child["completed_at"] else None,
            )
            for child in (dossiers.children(connection, code) if _starts_children(connection, row) else [])
        ],
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
        timeline=[TimelineEntry.model_validate(event) for event in dossiers.timeline(connection, code)],
    )


@router.get("/{code}/live")
async def get_live_detail(code: str, row: OfficerDossierState, client: TemporalDep) -> DossierLiveDetail:
    """Live detail from the workflow itself (a query), for officers; citizens poll GET /dossiers/{code}."""
    try:
        return await client.get_workflow_handle(code).query(DossierWorkflow.detail)
    except RPCError as exc:
        raise _rpc_http_error(code, exc) from exc


@router.post("/{code}/decisions")
async def decide(
    code: str,
    body: DecisionIn,
    row: OfficerDossierState,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    officer: OfficerDep,
) -> MessageAccepted:
    """An officer's decision on the step awaiting it: 409 when that step is not awaiting this decision,
    403 when the officer does not hold the step's role at its unit (nor acts for someone who does)."""
    try:
        decision = OfficerDecision(**body.model_dump(), officer=_officer_ref(officer))
    except ValidationError as exc:
        raise HTTPException(
            422,
            [{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors(include_url=False)],
        ) from None
    return await _update(session, client, settings, code, DossierWorkflow.decide, decision)


@router.post("/{code}/supplements")
async def supplement(
    code: str,
    body: SupplementIn,
    row: ApplicantDossier,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    principal: PrincipalDep,
) -> MessageAccepted:
    """The applicant's answer to a supplement request; the whole form must be valid once merged."""
    try:
        merged = validate_form(_definition_of(session, row).definition, {**row.form, **body.form})
    except FormInvalid as invalid:
        raise HTTPException(422, invalid.errors) from None
    normalised = SupplementSubmission(
        form={k: merged.get(k) for k in body.form}, note=body.note, by=_applicant_actor(principal, row)
    )
    return await _update(session, client, settings, code, DossierWorkflow.supplement, normalised)


@router.post("/{code}/payments")
async def pay(
    code: str,
    body: PaymentIn,
    row: ApplicantDossier,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    principal: PrincipalDep,
) -> MessageAccepted:
    """A fee paid (reported for the applicant); 409 unless that fee step awaits exactly this amount."""
    payment = PaymentSubmission(**body.model_dump(), by=_applicant_actor(principal, row))
    return await _update(session, client, settings, code, DossierWorkflow.pay, payment)


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
    row: OfficerDossierState,
    base_calendar: CalendarDep,
) -> MessageAccepted:
    """Form 04: an apology with a new appointment, owed at least one working day before the appointment."""
    calendar = calendars.calendar_for(session, row.jurisdiction, base_calendar)
    today = calendar.local_date(utcnow())
    if calendar.add_working_days(today, 1) > row.appointment_date:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"an apology letter is issued at least one working day before the appointment ({row.appointment_date})",
        )
    if not calendar.is_working_day(body.new_appointment_date):
        raise field_error(["body", "new_appointment_date"], "the new appointment must be a working day")
    message = ApologySubmission(
        reason=body.reason, new_appointment_date=body.new_appointment_date, officer=_officer_ref(officer)
    )
    return await _update(session, client, settings, code, DossierWorkflow.apologize, message)


@router.post("/{code}/extensions")
async def extend(
    code: str,
    body: ExtensionIn,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    officer: OfficerDep,
    row: OfficerDossierState,
    base_calendar: CalendarDep,
) -> MessageAccepted:
    """Extend to the procedure's extended limit (special cases), where its definition allows it."""
    definition = _definition_of(session, row).definition
    if definition.extended_time_limit_working_days is None:
        raise HTTPException(status.HTTP_409_CONFLICT, "this procedure has no extended time limit")
    calendar = calendars.calendar_for(session, row.jurisdiction, base_calendar)
    extra = definition.extended_time_limit_working_days - definition.time_limit_working_days
    new_date = calendar.add_working_days(row.appointment_date, extra)
    message = ExtensionSubmission(reason=body.reason, new_appointment_date=new_date, officer=_officer_ref(officer))
    return await _update(session, client, settings, code, DossierWorkflow.extend, message)


@router.post("/{code}/withdrawal")
async def withdraw(
    code: str,
    body: WithdrawalIn,
    row: ApplicantDossier,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    principal: PrincipalDep,
) -> MessageAccepted:
    """The applicant withdraws the dossier (status 7); processing stops wherever it stands."""
    message = Withdrawal(reason=body.reason, by=_applicant_actor(principal, row))
    return await _update(session, client, settings, code, DossierWorkflow.withdraw, message)


def _officer_ref(officer: OfficerProfile) -> OfficerRef:
    """Every capacity the officer holds today; the workflow uses the one the step needs."""
    capacities = [
        Capacity(role=Role(c.role), unit_code=c.unit_code, on_behalf_of=c.on_behalf_of)
        for c in officer.capacities
        if c.role in STEP_ROLES
    ]
    first = capacities[0] if capacities else None
    return OfficerRef(
        officer_id=officer.officer_id,
        role=first.role if first else Role.specialist,
        unit_code=first.unit_code if first else officer.unit_code,
        on_behalf_of=first.on_behalf_of if first else None,
        # An officer without a step role (an administrator) gets a capacity that matches no step.
        capacities=capacities or [Capacity(role=Role.specialist, unit_code="-")],
    )


def _applicant_actor(principal: Principal, row: DossierRow) -> ActorRef:
    if principal.officer is not None:
        at_counter = principal.officer.holds("reception", row.receiving_unit) is not None
        return principal.actor("in_person", role="reception", unit=row.receiving_unit if at_counter else None)
    return principal.actor("online")


async def _update(
    session: Session, client: Client, settings: Settings, code: str, update: Any, message: Any
) -> MessageAccepted:
    """Send a message to the dossier's workflow and answer with its outcome. The request's database connection goes
    back to the pool first: an update takes a workflow task or two, and with dozens of decisions in flight held
    connections ran the pool dry (every submission then opened a connection of its own)."""
    release(session)
    handle = client.get_workflow_handle(code)
    deadline = time.monotonic() + settings.update_timeout_seconds
    update_id = str(uuid.uuid4())  # the same message each time it is sent again, applied at most once
    pause = 0.1
    while True:
        try:
            return await handle.execute_update(
                update, message, id=update_id, rpc_timeout=timedelta(seconds=max(deadline - time.monotonic(), 1))
            )
        except WorkflowUpdateFailedError as failed:
            cause = failed.cause
            if not isinstance(cause, ApplicationError):
                raise HTTPException(status.HTTP_409_CONFLICT, str(cause)) from None
            if cause.type == NOT_YOUR_STEP:
                raise HTTPException(status.HTTP_403_FORBIDDEN, cause.message) from None
            if time.monotonic() + pause > deadline or not await _behind_its_read_model(session, code, cause):
                raise HTTPException(status.HTTP_409_CONFLICT, cause.message) from None
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)
        except RPCTimeoutOrCancelledError:
            # The message may still be applied (e.g. once a worker is back): the client asks again or looks.
            raise HTTPException(
                status.HTTP_504_GATEWAY_TIMEOUT, f"dossier {code} did not answer in time; send it again or look at it"
            ) from None
        except RPCError as exc:
            raise _rpc_http_error(code, exc) from exc


async def _behind_its_read_model(session: Session, code: str, refusal: ApplicationError) -> bool:
    """Whether the workflow refused at a transition older than the read model shows: a workflow task whose worker
    died is being redone (what it published stays; the workflow reaches it again within moments)."""
    reached = refusal.details[0] if refusal.type == NOT_AWAITING and refusal.details else None
    if not isinstance(reached, int):
        return False
    published = await run_in_threadpool(_published_seq, session, code)
    if published > reached:
        log.info("dossier %s refused at transition %d, published %d: asking again", code, reached, published)
    return published > reached


def _published_seq(session: Session, code: str) -> int:
    try:
        return dossiers.published_seq(session, code)
    finally:
        release(session)


def _rpc_http_error(code: str, exc: RPCError) -> HTTPException:
    if exc.status == RPCStatusCode.NOT_FOUND:
        # The workflow has closed (or was never started): nothing awaits a message.
        return HTTPException(status.HTTP_409_CONFLICT, f"dossier {code} is not being processed: {exc.message}")
    if exc.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
        return HTTPException(status.HTTP_504_GATEWAY_TIMEOUT, f"dossier {code} did not answer in time; try again")
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"workflow engine error: {exc.message}")
