"""Officers of the registry, the roles they hold at their unit, and delegations ("acting on behalf of")."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlmodel import col, select

from api.deps import AdministratorActorDep, AdministratorDep, OfficerDep, SessionDep
from api.errors import field_error
from domain.definition import AGENCY_CODE, AgencyCode
from domain.dossier import ActorRef
from readmodel import organisation
from readmodel.db import as_utc, utcnow
from readmodel.tables import DelegationRow, OfficerRow, UnitRow

router = APIRouter(prefix="/officers", tags=["officers"])
OfficerRole = Literal["reception", "specialist", "leader", "administrator"]
OfficerId = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[\w.@:-]+$")]


class OfficerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    full_name: Annotated[str, Field(min_length=1, max_length=200)]
    unit_code: AgencyCode
    roles: Annotated[list[OfficerRole], Field(min_length=1, max_length=4)]
    active: bool = True


class OfficerOut(BaseModel):
    officer_id: str
    full_name: str
    unit_code: str
    roles: list[str]
    active: bool
    updated_at: datetime

    @classmethod
    def of(cls, row: OfficerRow) -> OfficerOut:
        return cls(**row.model_dump(exclude={"updated_at"}), updated_at=as_utc(row.updated_at))


class DelegationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delegate_id: Annotated[str, Field(min_length=1, max_length=100)]
    roles: Annotated[list[OfficerRole], Field(max_length=4)] = []  # none given: every role the delegator holds
    valid_from: date
    valid_until: date
    reason: Annotated[str, Field(min_length=1, max_length=500)]

    @model_validator(mode="after")
    def _ordered(self) -> DelegationIn:
        if self.valid_until < self.valid_from:
            raise ValueError("valid_until comes before valid_from")
        return self


class DelegationOut(BaseModel):
    id: int
    delegator_id: str
    delegate_id: str
    roles: list[str]
    valid_from: date
    valid_until: date
    reason: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: DelegationRow) -> DelegationOut:
        assert row.id is not None
        return cls(
            **row.model_dump(exclude={"created_at", "revoked_at", "id"}),
            id=row.id,
            created_at=as_utc(row.created_at),
            revoked_at=as_utc(row.revoked_at) if row.revoked_at else None,
        )


def _officer_or_404(session: SessionDep, officer_id: str) -> OfficerRow:
    row = session.get(OfficerRow, officer_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no officer {officer_id!r}")
    return row


@router.get("")
def list_officers(
    session: SessionDep, _: AdministratorDep, unit: Annotated[str | None, Query(pattern=AGENCY_CODE)] = None
) -> list[OfficerOut]:
    query = select(OfficerRow).order_by(OfficerRow.officer_id)
    if unit is not None:
        query = query.where(OfficerRow.unit_code == unit)
    return [OfficerOut.of(row) for row in session.exec(query)]


@router.get("/{officer_id}")
def get_officer(officer_id: OfficerId, session: SessionDep, _: AdministratorDep) -> OfficerOut:
    return OfficerOut.of(_officer_or_404(session, officer_id))


@router.put("/{officer_id}")
def put_officer(
    officer_id: OfficerId, body: OfficerIn, session: SessionDep, actor: AdministratorActorDep, response: Response
) -> OfficerOut:
    """Register an officer (the subject of their tokens) at a unit with roles, or change them."""
    unit = session.get(UnitRow, body.unit_code)
    if unit is None or not unit.active:
        raise field_error(["body", "unit_code"], f"no active unit {body.unit_code!r}")
    values = {**body.model_dump(), "officer_id": officer_id, "roles": sorted(set(body.roles)), "updated_at": utcnow()}
    row, created = organisation.register_or_change(
        session, OfficerRow, officer_id, values, actor, "officer", body.model_dump()
    )
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return OfficerOut.of(row)


def _may_manage_delegations(officer: OfficerDep, delegator_id: str) -> ActorRef:
    """Administrators, and the delegator for their own roles."""
    if officer.officer_id != delegator_id and officer.holds("administrator") is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only the delegator or an administrator manages delegations")
    return ActorRef(kind="officer", actor_id=officer.officer_id, unit_code=officer.unit_code)


@router.get("/{officer_id}/delegations")
def list_delegations(officer_id: OfficerId, session: SessionDep, officer: OfficerDep) -> list[DelegationOut]:
    _may_manage_delegations(officer, officer_id)
    return [DelegationOut.of(row) for row in organisation.delegations(session, officer_id)]


@router.post("/{officer_id}/delegations", status_code=status.HTTP_201_CREATED)
def delegate(officer_id: OfficerId, body: DelegationIn, session: SessionDep, officer: OfficerDep) -> DelegationOut:
    """The officer's roles at their unit pass to the delegate between the two dates (inclusive)."""
    actor = _may_manage_delegations(officer, officer_id)
    delegator = _officer_or_404(session, officer_id)
    delegate_row = session.get(OfficerRow, body.delegate_id)
    if delegate_row is None or not delegate_row.active:
        raise field_error(["body", "delegate_id"], f"no active officer {body.delegate_id!r}")
    if body.delegate_id == officer_id:
        raise field_error(["body", "delegate_id"], "an officer cannot delegate to themselves")
    roles = body.roles or [r for r in delegator.roles if r != "administrator"]
    not_held = sorted(set(roles) - set(delegator.roles))
    if not_held:
        raise field_error(["body", "roles"], f"{officer_id} does not hold {', '.join(not_held)}")
    row = DelegationRow(
        delegator_id=officer_id,
        delegate_id=body.delegate_id,
        roles=sorted(set(roles)),
        valid_from=body.valid_from,
        valid_until=body.valid_until,
        reason=body.reason,
        created_by=officer.officer_id,
        created_at=utcnow(),
    )
    session.add(row)
    organisation.audit(session, actor, "delegation_granted", officer_id, body.model_dump(mode="json"))
    session.commit()
    session.refresh(row)
    return DelegationOut.of(row)


@router.delete("/{officer_id}/delegations/{delegation_id}")
def revoke_delegation(
    officer_id: OfficerId, delegation_id: Annotated[int, Path(ge=1, le=2**31)], session: SessionDep, officer: OfficerDep
) -> DelegationOut:
    actor = _may_manage_delegations(officer, officer_id)
    row = session.exec(
        select(DelegationRow).where(col(DelegationRow.id) == delegation_id, DelegationRow.delegator_id == officer_id)
    ).first()
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no delegation {delegation_id} of {officer_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        organisation.audit(session, actor, "delegation_revoked", officer_id, {"delegation_id": delegation_id})
        session.commit()
        session.refresh(row)
    return DelegationOut.of(row)
