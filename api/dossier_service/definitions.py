"""Which procedure definition applies: the latest deployed version, or the version a dossier was pinned to when it
was registered."""

from __future__ import annotations

from fastapi import HTTPException, status
from sqlmodel import Session

from domain.definition import ProcedureDefinition
from domain.dossier import DefinitionSnapshot
from readmodel import procedures
from readmodel.db import release
from readmodel.tables import DossierRow, ProcedureVersionRow


def latest_version(session: Session, code: str) -> ProcedureVersionRow:
    row = procedures.latest(session, code)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no procedure {code!r} is deployed")
    return row


def version_of(session: Session, row: DossierRow) -> ProcedureVersionRow:
    version = procedures.version(session, row.procedure_code, row.procedure_version)
    assert version is not None, "a dossier always references a deployed version"
    return version


def definition_of(session: Session, row: DossierRow) -> DefinitionSnapshot:
    """The definition version the dossier runs on (without its child procedures)."""
    return procedures.snapshot(version_of(session, row))


def pinned_for(session: Session, row: DossierRow) -> DefinitionSnapshot:
    """The definition version the dossier runs on with the child procedures it may start, as its workflow takes it."""
    version = version_of(session, row)
    try:
        return procedures.pinned_snapshot(session, version)
    except procedures.ChildNotInService as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    finally:
        release(session)


def dossier_time_limit(row: DossierRow, definition: ProcedureDefinition) -> int:
    """The time limit a dossier is held to, in working days: its case's, decided at submission, else the
    procedure's (dossiers registered before cases existed)."""
    return (
        row.time_limit_working_days if row.time_limit_working_days is not None else definition.time_limit_working_days
    )
