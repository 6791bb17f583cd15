"""A dossier as its applicant and officers see it, from the read model: the receipt (form 01) and the dossier view."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from api.access import check_readable, is_applicant, require_credentials
from api.deps import Principal
from api.dossier_service.letters import letters_in_timeline
from api.dossier_service.schemas import ActiveStepView, ChildDossierView, DossierView, Receipt, TimelineEntry
from api.timeline_text import UNIT_NAMES, timeline_text, timeline_who
from domain.dossier import Channel, PortalStatus
from infrastructure.lookup_secret import LookupSecrets
from infrastructure.translations import DEFAULT_LANGUAGE
from readmodel import dossiers, procedures
from readmodel.db import as_utc
from readmodel.tables import DossierRow


def receipt(row: DossierRow, secrets: LookupSecrets, *, with_secret: bool = True) -> Receipt:
    """Form 01. With the lookup secret for the applicant (and for whoever receives the dossier, to hand the receipt
    over); without it for anyone else, officers included, so that seeing a dossier never lets one act as its
    applicant."""
    return Receipt(
        dossier_code=row.code,
        procedure_code=row.procedure_code,
        procedure_version=row.procedure_version,
        procedure_name=row.procedure_name,
        receiving_unit=row.receiving_unit,
        handling_unit=row.handling_unit or row.receiving_unit,
        channel=Channel(row.channel).name,
        lookup_secret=secrets.for_dossier(row.code) if with_secret else None,
        received_at=as_utc(row.received_at),
        appointment_date=row.appointment_date,
        status=row.status,
        status_name=PortalStatus(row.status).name,
    )


def dossier_view_json(
    engine: Engine, code: str, principal: Principal, secrets: LookupSecrets, secret: str | None, language: str
) -> str:
    """The dossier view as JSON, for whoever may read it (404 for anyone else), its timeline in `language`."""
    require_credentials(principal, secret)
    try:
        return _view_json(engine, code, principal, secrets, secret, language)
    except DBAPIError as exc:
        # The pool's connections died with a restarted database server: the pool is renewed, read again.
        if not exc.connection_invalidated:
            raise
        return _view_json(engine, code, principal, secrets, secret, language)


def _view_json(
    engine: Engine, code: str, principal: Principal, secrets: LookupSecrets, secret: str | None, language: str
) -> str:
    with engine.connect() as connection:
        found, timeline = dossiers.read_with_timeline(connection, code)
        row = check_readable(found, code, principal, secrets, secret)
        applicant = is_applicant(row, principal, secrets, secret)
        view = dossier_view(connection, row, secrets, timeline, applicant=applicant, language=language)
        return view.model_dump_json()


# Whether each procedure version can start interconnected dossiers. A deployed version never changes, so each
# process asks once; most procedures start none, and a poll of their dossiers skips looking for children.
_STARTS_CHILDREN: dict[tuple[str, int], bool] = {}


def _starts_children(connection: Connection, row: DossierRow) -> bool:
    version = (row.procedure_code, row.procedure_version)
    if version not in _STARTS_CHILDREN:
        _STARTS_CHILDREN[version] = procedures.starts_children(connection, *version)
    return _STARTS_CHILDREN[version]


def dossier_view(
    connection: Connection,
    row: DossierRow,
    secrets: LookupSecrets,
    timeline: list[dict[str, Any]] | None = None,
    *,
    applicant: bool,
    language: str = DEFAULT_LANGUAGE,
) -> DossierView:
    """The dossier as the applicant and officers see it: receipt (the lookup secret for the applicant only), state,
    children and timeline (read here unless given; each entry's text in the applicant's or the officers' words, in
    `language`)."""
    code = row.code
    unit_name = UNIT_NAMES.lookup(connection)
    events = timeline if timeline is not None else dossiers.timeline(connection, code)
    return DossierView(
        **receipt(row, secrets, with_secret=applicant).model_dump(),
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
        fees_refunded_vnd=row.fees_refunded_vnd,
        partial=row.partial,
        outcome=row.outcome,
        outcome_reason=row.outcome_reason,
        results=row.results,
        letters=letters_in_timeline(code, events),
        completed_at=as_utc(row.completed_at) if row.completed_at else None,
        timeline=[
            TimelineEntry.model_validate(
                {
                    **event,
                    "text": timeline_text(event, language=language, applicant=applicant, unit_name=unit_name),
                    "who": timeline_who(event, language=language, applicant=applicant, unit_name=unit_name),
                }
            )
            for event in events
        ],
    )
