"""What applicants and officers do to a dossier under way: each message checked and built here, then relayed to the
dossier's workflow, which answers whether it applies."""

from __future__ import annotations

from datetime import date

from fastapi import HTTPException, status
from pydantic import ValidationError
from sqlmodel import Session
from temporalio.client import Client

from api.deps import Principal
from api.dossier_service import decision_766
from api.dossier_service.attachments import own_uploads
from api.dossier_service.definitions import definition_of, dossier_time_limit
from api.dossier_service.messages import relay
from api.dossier_service.schemas import ApologyIn, DecisionIn, ExtensionIn, PaymentIn, SupplementIn, WithdrawalIn
from api.errors import field_error
from domain.attachments import descriptors_in
from domain.definition import Role
from domain.dossier import (
    ActorRef,
    ApologySubmission,
    Capacity,
    ExtensionSubmission,
    MessageAccepted,
    OfficerDecision,
    OfficerRef,
    PaymentSubmission,
    SupplementSubmission,
    Withdrawal,
)
from domain.working_calendar import WorkingCalendar
from forms.eform import FormInvalid, validate_form
from infrastructure.attachment_store import UploadClaims
from infrastructure.settings import Settings
from readmodel import calendars
from readmodel.db import utcnow
from readmodel.organisation import OfficerProfile
from readmodel.tables import DossierRow
from workflows.contract import DossierUpdate

STEP_ROLES = {r.value for r in Role}


async def decide(
    session: Session, client: Client, settings: Settings, row: DossierRow, body: DecisionIn, officer: OfficerProfile
) -> MessageAccepted:
    """An officer's decision on the step awaiting it: 409 when that step is not awaiting this decision, or when it
    would count the dossier as late and `confirm_late` is not set (Decision 766); 403 when the officer does not hold
    the step's role at its unit (nor acts for someone who does)."""
    code = row.code
    decision_766.require_confirmation(row, body.decision.value, body.confirm_late)
    try:
        decision = OfficerDecision(**body.model_dump(exclude={"confirm_late"}), officer=officer_ref(officer))
    except ValidationError as exc:
        raise HTTPException(
            422,
            [{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors(include_url=False)],
        ) from None
    return await relay(session, client, settings, code, DossierUpdate.decide, decision)


async def supplement(
    session: Session, client: Client, settings: Settings, row: DossierRow, body: SupplementIn, principal: Principal
) -> MessageAccepted:
    """The applicant's answer to a supplement request; the whole form must be valid once merged."""
    try:
        merged = validate_form(definition_of(session, row).definition, {**row.form, **body.form})
    except FormInvalid as invalid:
        raise HTTPException(422, invalid.errors) from None
    # New files are the applicant's own uploads; those the dossier already cites stay as they are.
    changed = own_uploads(
        {k: merged.get(k) for k in body.form}, UploadClaims.from_settings(settings), cited=descriptors_in(row.form)
    )
    normalised = SupplementSubmission(form=changed, note=body.note, by=applicant_actor(principal, row))
    return await relay(session, client, settings, row.code, DossierUpdate.supplement, normalised)


async def pay(
    session: Session, client: Client, settings: Settings, row: DossierRow, body: PaymentIn, principal: Principal
) -> MessageAccepted:
    """A fee paid (reported for the applicant); 409 unless that fee step awaits exactly this amount. Dossiers on
    workflow revision 5 refuse it (409): their fee is paid through the payment platform, whose signed confirmation
    comes in by api/dossier_service/payment_platform.py."""
    payment = PaymentSubmission(**body.model_dump(), by=applicant_actor(principal, row))
    return await relay(session, client, settings, row.code, DossierUpdate.pay, payment)


async def apologize(
    session: Session,
    client: Client,
    settings: Settings,
    row: DossierRow,
    body: ApologyIn,
    officer: OfficerProfile,
    base_calendar: WorkingCalendar,
) -> MessageAccepted:
    """Form 04: an apology with a new appointment, owed at least one working day before the appointment. The new
    appointment comes after the current promise (the appointment, or the last apology's) and at most the procedure's
    time limit again (its extended limit, where the law has one) after it: an apology moves a promise, it does not
    lift it, so a date far off cannot switch the "missed without an apology" flag off for good."""
    definition = definition_of(session, row).definition
    decision_766.require_apology_allowed(officer, row, definition)
    calendar = calendars.calendar_for(session, row.jurisdiction, base_calendar)
    today = calendar.local_date(utcnow())
    if calendar.add_working_days(today, 1) > row.appointment_date:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"an apology letter is issued at least one working day before the appointment ({row.appointment_date})",
        )
    promised = _promised(row)
    if body.new_appointment_date <= promised:
        raise field_error(["body", "new_appointment_date"], f"the new appointment must come after {promised}")
    limit = max(dossier_time_limit(row, definition), definition.extended_time_limit_working_days or 0, 1)
    latest = calendar.add_working_days(promised, limit)
    if body.new_appointment_date > latest:
        raise field_error(
            ["body", "new_appointment_date"],
            f"the new appointment is at most the procedure's time limit ({limit} working days) after {promised}: "
            f"{latest} at the latest",
        )
    if not calendar.is_working_day(body.new_appointment_date):
        raise field_error(["body", "new_appointment_date"], "the new appointment must be a working day")
    message = ApologySubmission(
        reason=body.reason, new_appointment_date=body.new_appointment_date, officer=officer_ref(officer)
    )
    return await relay(session, client, settings, row.code, DossierUpdate.apologize, message)


def _promised(row: DossierRow) -> date:
    """The appointment the dossier's applicant was last promised: the last apology's, else the appointment."""
    apology = row.apology or {}
    promised = apology.get("new_appointment_date")
    if isinstance(promised, str):
        return date.fromisoformat(promised)
    return promised if isinstance(promised, date) else row.appointment_date


async def extend(
    session: Session,
    client: Client,
    settings: Settings,
    row: DossierRow,
    body: ExtensionIn,
    officer: OfficerProfile,
    base_calendar: WorkingCalendar,
) -> MessageAccepted:
    """Extend to the procedure's extended limit (special cases), where its definition allows it."""
    definition = definition_of(session, row).definition
    if definition.extended_time_limit_working_days is None:
        raise HTTPException(status.HTTP_409_CONFLICT, "this procedure has no extended time limit")
    decision_766.require_extension_allowed(officer, row, definition)
    calendar = calendars.calendar_for(session, row.jurisdiction, base_calendar)
    own_limit = dossier_time_limit(row, definition)
    extra = definition.extended_time_limit_working_days - own_limit
    if extra <= 0:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"this dossier's time limit ({own_limit} working days, as its case gives it) "
            "already reaches the procedure's extended limit",
        )
    new_date = calendar.add_working_days(row.appointment_date, extra)
    message = ExtensionSubmission(reason=body.reason, new_appointment_date=new_date, officer=officer_ref(officer))
    return await relay(session, client, settings, row.code, DossierUpdate.extend, message)


async def withdraw(
    session: Session, client: Client, settings: Settings, row: DossierRow, body: WithdrawalIn, principal: Principal
) -> MessageAccepted:
    """The applicant withdraws the dossier (status 7); processing stops wherever it stands."""
    message = Withdrawal(reason=body.reason, by=applicant_actor(principal, row))
    return await relay(session, client, settings, row.code, DossierUpdate.withdraw, message)


def officer_ref(officer: OfficerProfile) -> OfficerRef:
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


def applicant_actor(principal: Principal, row: DossierRow) -> ActorRef:
    """Who acts for the applicant: the applicant online, or a reception officer (at the dossier's counter or not)."""
    if principal.officer is not None:
        at_counter = principal.officer.holds("reception", row.receiving_unit) is not None
        return principal.actor("in_person", role="reception", unit=row.receiving_unit if at_counter else None)
    return principal.actor("online")
