"""Activities that keep the SQL read model in step with each dossier's workflow."""

from __future__ import annotations

import hashlib
import logging

from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.dossier import ChildDossier, ChildRegistration, TransitionBatch
from domain.time_limits import time_limit_for
from domain.units import NoCompetentUnit, resolve_step_units
from domain.working_calendar import WorkingCalendar
from readmodel import calendars, dossiers, organisation
from readmodel.db import utcnow

log = logging.getLogger(__name__)


class ReadModelActivities:
    def __init__(self, engine: Engine, calendar: WorkingCalendar) -> None:
        self._engine = engine
        self._calendar = calendar

    @activity.defn
    def record_transitions(self, batch: TransitionBatch) -> None:
        """Apply a dossier's queued transitions in order, in one database transaction."""
        self.write_transitions(batch)

    def write_transitions(self, batch: TransitionBatch) -> None:
        with self._engine.begin() as connection:
            applied = dossiers.apply_transitions(connection, batch.transitions)
        for transition, fresh in zip(batch.transitions, applied, strict=True):
            log.info(
                "dossier %s #%d %s%s",
                transition.dossier_code,
                transition.seq,
                transition.event.summary,
                "" if fresh else " (already recorded)",
            )

    @activity.defn
    def register_child_dossier(self, registration: ChildRegistration) -> ChildDossier:
        """Give an interconnected child its own dossier in the other agency (once, however often retried)."""
        definition = registration.snapshot.definition
        key = dossiers.child_key(registration.parent_code, registration.step_id, registration.visit)
        received_at = utcnow()
        with Session(self._engine) as session:
            directory = organisation.directory(session)
            # The child keeps the calendar of the agency that handles it (its province's days off).
            jurisdiction = directory.jurisdiction_of(registration.receiving_unit)
            calendar = calendars.calendar_for(session, jurisdiction, self._calendar)
            time_limit = time_limit_for(definition, registration.form)
            appointment = calendar.appointment_date(received_at, time_limit.working_days)
            try:
                step_units = resolve_step_units(definition, registration.form, registration.receiving_unit, directory)
            except NoCompetentUnit as exc:
                raise ApplicationError(str(exc), type="NoCompetentUnit", non_retryable=True) from None
            parent = dossiers.get(session, registration.parent_code)
            try:
                row = dossiers.register(
                    session,
                    agency_code=registration.receiving_unit,
                    day=calendar.local_date(received_at),
                    idempotency_key=key,
                    build=lambda code: dossiers.new_dossier_row(
                        code,
                        procedure_code=definition.code,
                        procedure_version=registration.snapshot.version,
                        procedure_name=definition.name,
                        receiving_unit=registration.receiving_unit,
                        channel=registration.channel,
                        applicant=registration.applicant,
                        # The parent's account, if it joined one: a citizen ID typed into the form joins none.
                        owner_citizen_id=parent.owner_citizen_id if parent is not None else None,
                        submitted_by={"kind": "system", "channel": "system", "actor_id": registration.parent_code},
                        form=registration.form,
                        step_units=step_units,
                        received_at=received_at,
                        appointment_date=appointment,
                        time_limit=time_limit,
                        jurisdiction=jurisdiction,
                        idempotency_key=key,
                        request_hash=hashlib.sha256(key.encode()).hexdigest(),
                        workflow_started=True,  # the parent starts it as its child workflow next
                        parent_code=registration.parent_code,
                    ),
                )
            except dossiers.IdempotencyConflict as conflict:
                row = conflict.existing
        log.info("child dossier %s of %s (%s)", row.code, registration.parent_code, definition.code)
        return ChildDossier(
            dossier_code=row.code,
            received_at=row.received_at,
            appointment_date=row.appointment_date,
            step_units=row.step_units,
            jurisdiction=directory.jurisdiction_of(row.receiving_unit),
            time_limit_working_days=row.time_limit_working_days,
            step_budgets=row.step_budgets or {},
        )
