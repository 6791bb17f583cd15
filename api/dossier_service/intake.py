"""Intake: a submission checked, registered with its dossier code and started on its workflow, whichever the
channel (a citizen online, a reception officer at the counter, the national portal, the pages)."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from fastapi import HTTPException, status
from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from api.deps import Principal
from api.dossier_service.attachments import own_uploads
from api.dossier_service.definitions import pinned_for
from api.dossier_service.schemas import Receipt, SubmitDossier
from api.dossier_service.views import receipt
from api.errors import field_error
from domain.definition import ProcedureDefinition
from domain.dossier import ActorRef, Applicant, Channel, DefinitionSnapshot, DossierInput, DossierOutcome, PortalStatus
from domain.time_limits import time_limit_for
from domain.units import NoCompetentUnit, UnitDirectory, resolve_step_units
from domain.working_calendar import WorkingCalendar
from forms.eform import FormInvalid, validate_form
from infrastructure.attachment_store import UploadClaims
from infrastructure.lookup_secret import LookupSecrets
from infrastructure.settings import Settings
from readmodel import calendars, dossiers, organisation, procedures
from readmodel.db import as_utc, release, utcnow
from readmodel.tables import DossierRow
from workflows.contract import ASSIGNED_UNIT, DOSSIER_STATUS, PROCEDURE_CODE, WORKFLOW_TYPE

# The dossier API's logger: log searches select the dossiers' lines by its name.
log = logging.getLogger("api.routes.dossiers")

# Keys motcua makes for dossiers it registers itself; a citizen's key may not take one of them.
PORTAL_KEY_PREFIX = "portal:"
RESERVED_KEY_PREFIXES = (PORTAL_KEY_PREFIX, "child:", "web:")  # web: the pages' own submissions


def refuse_reserved_key(idempotency_key: str | None) -> None:
    """A caller's Idempotency-Key may not take one of the keys motcua makes itself."""
    if idempotency_key and idempotency_key.startswith(RESERVED_KEY_PREFIXES):
        raise field_error(
            ["header", "Idempotency-Key"], f"keys starting with {' or '.join(RESERVED_KEY_PREFIXES)} are reserved"
        )


def _request_hash(body: SubmitDossier) -> str:
    return hashlib.sha256(json.dumps(body.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()


async def _start_workflow(
    client: Client, settings: Settings, session: Session, row: DossierRow, pinned: DefinitionSnapshot | None = None
) -> None:
    """Start the dossier's workflow (idempotent: an existing run with this id is kept)."""
    if pinned is None:
        pinned = await run_in_threadpool(pinned_for, session, row)
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
        time_limit_working_days=row.time_limit_working_days,
        step_budgets=row.step_budgets or {},
        received_by=ActorRef.model_validate(row.submitted_by) if row.submitted_by else None,
    )
    try:
        await client.start_workflow(
            WORKFLOW_TYPE,
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
            result_type=DossierOutcome,
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


def _submitter(principal: Principal, body: SubmitDossier) -> tuple[Channel, str | None, ActorRef]:
    """The channel, the receiving unit and who submits: citizens submit online (to the unit they name, if any, which
    `_online_receiving_unit` checks); a reception officer receives at their own unit whatever the procedure or
    boundary."""
    if principal.officer is None:
        if body.channel not in (None, Channel.online):
            raise field_error(["body", "channel"], "dossiers in person or by post are received by a reception officer")
        return Channel.online, body.receiving_unit, principal.actor(principal.channel)
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


def _online_receiving_unit(
    definition: ProcedureDefinition, form: dict[str, Any], directory: UnitDirectory, named: str | None
) -> str:
    """The unit an online submission goes to: only a competent one. When the form decides (the address that decides
    competence, or the first step's unit chosen by address or sector), a named unit that is not competent is refused
    and a submission naming none goes to the competent unit; otherwise any unit receiving the procedure (the first
    by default)."""
    receiving = definition.receiving_units
    try:
        address_field, competent = directory.competent_receiving_units(definition, form)
    except NoCompetentUnit as exc:
        raise field_error(["body", "form", exc.field] if exc.field else ["body", "form"], str(exc)) from None
    if competent is None:
        unit = named or receiving[0]
        if unit not in receiving:
            raise field_error(
                ["body", "receiving_unit"],
                f"{unit!r} does not receive this procedure online; one of: {', '.join(receiving)}",
            )
        return unit
    if not competent:
        raise field_error(
            ["body", "form", address_field],
            f"none of the units receiving this procedure ({', '.join(receiving)}) is competent for this address",
        )
    if named is None:
        return competent[0]
    if named not in competent:
        raise field_error(
            ["body", "receiving_unit"],
            f"{named!r} is not competent for this dossier ({address_field}); the competent unit is {competent[0]}",
            "not_competent",
        )
    return named


def _account_of(principal: Principal, body: SubmitDossier) -> str | None:
    """Whose account the dossier joins (the citizen who then follows it signed in, and acts as its applicant): the
    citizen whose own token submits it; the applicant a counter officer receives it for (their identity paper is
    checked at the counter) or the national portal pushes (its citizens sign in with VNeID). A citizen ID typed into
    an anonymous submission joins nobody's account: the receipt's lookup secret is the applicant's way in."""
    if principal.citizen_id is not None:
        return principal.citizen_id
    if principal.officer is not None or principal.kind == "portal":
        return body.applicant.citizen_id
    return None


def _register_submission(
    session: Session,
    body: SubmitDossier,
    idempotency_key: str | None,
    base_calendar: WorkingCalendar,
    principal: Principal,
    claims: UploadClaims,
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
    if definition.interconnection_only:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"procedure {body.procedure_code!r} is interconnection-only: it is received only as part of another "
            "dossier, which starts it; submit that procedure instead",
        )
    channel, named_unit, submitter = _submitter(principal, body)
    try:
        form = validate_form(definition, body.form)
    except FormInvalid as invalid:
        raise HTTPException(422, invalid.errors) from None
    form = own_uploads(form, claims)  # a dossier cites only files its submitter uploaded
    directory = organisation.directory(session)
    if channel == Channel.online:
        receiving_unit = _online_receiving_unit(definition, form, directory, named_unit)
    else:
        receiving_unit = named_unit or ""
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
    time_limit = time_limit_for(definition, form)
    request_hash = _request_hash(body)
    received_at = utcnow()
    try:
        row = dossiers.register(
            session,
            agency_code=receiving_unit,
            day=calendar.local_date(received_at),
            idempotency_key=idempotency_key,
            build=lambda code: dossiers.new_dossier_row(
                code,
                procedure_code=version.code,
                procedure_version=version.version,
                procedure_name=version.name,
                receiving_unit=receiving_unit,
                handling_unit=handling_unit,
                channel=channel,
                owner_citizen_id=_account_of(principal, body),
                submitted_by=submitter.model_dump(mode="json", exclude_none=True),
                applicant=body.applicant,
                form=form,
                step_units=step_units,
                received_at=received_at,
                appointment_date=calendar.appointment_date(received_at, time_limit.working_days),
                time_limit=time_limit,
                jurisdiction=jurisdiction,
                prefilled=bool(body.prefilled_fields),
                idempotency_key=idempotency_key,
                request_hash=request_hash,
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
        _register_submission,
        session,
        body,
        idempotency_key,
        base_calendar,
        principal,
        UploadClaims.from_settings(settings),
    )
    await run_in_threadpool(release, session)
    if pinned is None:
        if not row.workflow_started:
            await _start_workflow(client, settings, session, row)
        return receipt(row, secrets), False
    await _start_workflow(client, settings, session, row, pinned)
    log.info("dossier %s submitted for %s v%d", row.code, row.procedure_code, row.procedure_version)
    return receipt(row, secrets), True
