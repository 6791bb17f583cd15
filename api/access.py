"""Who may see and act on a dossier. A dossier one may not see answers 404, exactly like one that does
not exist, so nobody learns that a code exists elsewhere."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, status
from sqlmodel import Session

from api.deps import LookupSecretDep, LookupSecretsDep, OfficerDep, Principal, PrincipalDep, SessionDep
from infrastructure.lookup_secret import LookupSecrets
from readmodel import dossiers
from readmodel.db import release
from readmodel.organisation import OfficerProfile
from readmodel.tables import DossierRow

DossierCode = Annotated[str, Path(min_length=1, max_length=100)]


def involved_units(row: DossierRow) -> set[str]:
    """The counter that received the dossier, the unit handling it and every unit a step is assigned to."""
    return {row.receiving_unit, *([row.handling_unit] if row.handling_unit else []), *row.step_units.values()}


def officer_involved(officer: OfficerProfile, row: DossierRow) -> bool:
    return not officer.units.isdisjoint(involved_units(row))


def _secret_opens(secrets: LookupSecrets, row: DossierRow, secret: str | None) -> bool:
    """The receipt's secret opens its dossier, and the interconnected dossiers it started in other agencies."""
    if not secret:
        return False
    return secrets.matches(row.code, secret) or (
        row.parent_code is not None and secrets.matches(row.parent_code, secret)
    )


def is_applicant(row: DossierRow, principal: Principal, secrets: LookupSecrets, secret: str | None) -> bool:
    """The applicant: the citizen whose own token submitted it (or who applied at a counter), or whoever holds the
    receipt's lookup secret. Officers who may see a dossier are not its applicant: they never see the secret."""
    if _secret_opens(secrets, row, secret):
        return True
    return principal.citizen_id is not None and principal.citizen_id == row.owner_citizen_id


def _load(session: Session, code: str) -> DossierRow | None:
    row = dossiers.get(session, code)
    release(session)  # the caller may go on to await the workflow engine
    return row


def _not_found(code: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no dossier {code!r}")


def readable_dossier(
    code: DossierCode,
    session: SessionDep,
    principal: PrincipalDep,
    secrets: LookupSecretsDep,
    secret: LookupSecretDep,
) -> DossierRow:
    """The applicant (citizen token or the receipt's lookup secret) and officers of the units involved."""
    return authorize_read(session, code, principal, secrets, secret)


def authorize_read(
    session: Session, code: str, principal: Principal, secrets: LookupSecrets, secret: str | None
) -> DossierRow:
    require_credentials(principal, secret)
    return check_readable(_load(session, code), code, principal, secrets, secret)


def require_credentials(principal: Principal, secret: str | None) -> None:
    if principal.kind == "anonymous" and not secret:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "sign in, or give the lookup secret printed on the receipt (X-Lookup-Secret header)",
            headers={"WWW-Authenticate": "Bearer"},
        )


def check_readable(
    row: DossierRow | None, code: str, principal: Principal, secrets: LookupSecrets, secret: str | None
) -> DossierRow:
    """The row, if the caller may read it; else 404 as for a dossier that does not exist."""
    if row is None:
        raise _not_found(code)
    if _secret_opens(secrets, row, secret):
        return row
    if principal.citizen_id is not None and principal.citizen_id == row.owner_citizen_id:
        return row
    if principal.officer is not None and officer_involved(principal.officer, row):
        return row
    raise _not_found(code)


ReadableDossier = Annotated[DossierRow, Depends(readable_dossier)]


def applicant_dossier(row: ReadableDossier, principal: PrincipalDep, secrets: LookupSecretsDep,
                      secret: LookupSecretDep) -> DossierRow:  # fmt: skip
    """What the applicant does (supplement, pay, withdraw): the applicant, signed in or holding the receipt. A counter
    officer helping them types the receipt's secret; seeing the dossier is not enough to act as its applicant."""
    if not is_applicant(row, principal, secrets, secret):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "only the applicant acts here: signed in, or with the lookup secret printed on their receipt",
        )
    return row


ApplicantDossier = Annotated[DossierRow, Depends(applicant_dossier)]


def officer_dossier(code: DossierCode, session: SessionDep, officer: OfficerDep) -> DossierRow:
    """A dossier an officer of one of the units involved works on; the workflow checks the exact step."""
    row = _load(session, code)
    if row is None or not officer_involved(officer, row):
        raise _not_found(code)
    return row


OfficerDossier = Annotated[DossierRow, Depends(officer_dossier)]


def officer_dossier_state(code: DossierCode, session: SessionDep, officer: OfficerDep) -> DossierRow:
    """`officer_dossier` without the application (applicant, form, submitted by), read without the ORM: what the
    API's messages to the workflow need (who is involved, the dossier's dates), cheaply: every decision reads it."""
    row = dossiers.read_only(session.connection(), code)
    release(session)  # the caller goes on to await the workflow engine
    if row is None or not officer_involved(officer, row):
        raise _not_found(code)
    return row


OfficerDossierState = Annotated[DossierRow, Depends(officer_dossier_state)]
