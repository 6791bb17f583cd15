"""The registry of units, officers and delegations, and the append-only audit trail."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import bindparam, func, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from domain.dossier import ActorRef
from domain.units import Unit, UnitDirectory, shipped_units
from readmodel.db import utcnow
from readmodel.tables import AuditEntryRow, DelegationRow, OfficerRow, UnitRow

Entry = TypeVar("Entry", UnitRow, OfficerRow)


def seed_units(engine: Engine, units: list[Unit] | None = None) -> None:
    """Load the shipped registry into a fresh installation; units already there (and changes made through
    the admin API) are kept. Safe when several processes start at once."""
    units = units if units is not None else shipped_units()
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    now = utcnow()
    rows = [
        {"code": u.code, "name": u.name, "kind": u.kind, "parent_code": u.parent_code, "area_code": u.area_code,
         "province_code": u.province_code, "sectors": list(u.sectors) or None, "active": True, "updated_at": now}
        for u in units
    ]  # fmt: skip
    with engine.begin() as connection:
        if connection.execute(select(func.count()).select_from(UnitRow)).scalar_one() == 0:
            connection.execute(dialect.insert(UnitRow).values(rows).on_conflict_do_nothing())


def _unit(row: UnitRow) -> Unit:
    return Unit(
        code=row.code,
        name=row.name,
        kind=row.kind,
        parent_code=row.parent_code,
        area_code=row.area_code,
        province_code=row.province_code,
        sectors=tuple(row.sectors or ()),
    )


_directory_lock = threading.Lock()
_directory_cache: dict[str, tuple[tuple[Any, ...], UnitDirectory]] = {}


def directory(session: Session) -> UnitDirectory:
    """The registry's active units, rebuilt only when it changed (one cheap query per call)."""
    stamp = tuple(session.exec(select(func.count(), func.max(UnitRow.updated_at)).where(UnitRow.active)).one())
    key = str(session.get_bind().url)
    with _directory_lock:
        cached = _directory_cache.get(key)
        if cached and cached[0] == stamp:
            return cached[1]
    built = UnitDirectory.of([_unit(row) for row in session.exec(select(UnitRow).where(UnitRow.active))])
    with _directory_lock:
        _directory_cache[key] = (stamp, built)
    return built


def register_or_change(
    session: Session,
    model: type[Entry],
    key: str,
    values: dict[str, Any],
    actor: ActorRef,
    kind: str,
    detail: dict[str, Any],
) -> tuple[Entry, bool]:
    """Register one registry entry (a unit, an officer) or change it, audited in the same transaction.
    When two requests register the same entry at once, the later one becomes a change of it."""
    for attempt in range(2):
        row = session.get(model, key)
        created = row is None
        if row is None:
            row = model(**values)
        else:
            row.sqlmodel_update(values)
        session.add(row)
        audit(session, actor, f"{kind}_registered" if created else f"{kind}_changed", key, detail)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            if attempt:
                raise
            continue
        session.refresh(row)
        return row, created
    raise AssertionError("unreachable")


def units(session: Session, *, parent: str | None = None, kind: str | None = None) -> list[UnitRow]:
    query = select(UnitRow).order_by(UnitRow.code)
    if parent is not None:
        query = query.where(UnitRow.parent_code == parent)
    if kind is not None:
        query = query.where(UnitRow.kind == kind)
    return list(session.exec(query))


# ----------------------------------------------------------------------------- officers and capacities


@dataclass(frozen=True)
class Capacity:
    """A role an officer may exercise at a unit, in their own right or on behalf of a delegator."""

    role: str
    unit_code: str
    on_behalf_of: str | None = None


@dataclass(frozen=True)
class OfficerProfile:
    officer_id: str
    full_name: str
    unit_code: str
    roles: tuple[str, ...]
    capacities: tuple[Capacity, ...]

    def holds(self, role: str, unit_code: str | None = None) -> Capacity | None:
        for capacity in self.capacities:
            if capacity.role == role and (unit_code is None or capacity.unit_code == unit_code):
                return capacity
        return None

    @property
    def units(self) -> frozenset[str]:
        return frozenset(c.unit_code for c in self.capacities)


_OFFICER = OfficerRow.__table__.c  # type: ignore[attr-defined]
_DELEGATION = DelegationRow.__table__.c  # type: ignore[attr-defined]
_DELEGATORS = OfficerRow.__table__.alias("delegator")  # type: ignore[attr-defined]
_DELEGATOR = _DELEGATORS.c
_OFFICER_BY_ID = select(
    _OFFICER.officer_id, _OFFICER.full_name, _OFFICER.unit_code, _OFFICER.roles, _OFFICER.active
).where(_OFFICER.officer_id == bindparam("officer_id"))
# Only what the delegator holds now passes on (a role they lost is no longer delegated), hence their roles too.
_DELEGATED_TODAY = (
    select(_DELEGATION.roles, _DELEGATOR.officer_id, _DELEGATOR.unit_code, _DELEGATOR.roles.label("delegator_roles"))
    .join_from(DelegationRow.__table__, _DELEGATORS, _DELEGATOR.officer_id == _DELEGATION.delegator_id)
    .where(
        _DELEGATION.delegate_id == bindparam("officer_id"),
        _DELEGATION.revoked_at.is_(None),
        _DELEGATION.valid_from <= bindparam("today"),
        _DELEGATION.valid_until >= bindparam("today"),
        _DELEGATOR.active.is_(True),
    )
)


def officer_profile(session: Session, officer_id: str, today: date, *, bootstrap_administrator: str | None = None
                    ) -> OfficerProfile | None:  # fmt: skip
    """The officer's own roles at their unit plus the roles delegated to them today; None when unknown.

    Read on every request an officer makes, so with plain statements: the ORM's identity map and objects would cost
    more than the queries themselves."""
    connection = session.connection()
    officer = connection.execute(_OFFICER_BY_ID, {"officer_id": officer_id}).first()
    if officer is None or not officer.active:
        if officer_id != bootstrap_administrator:
            return None
        full_name, unit_code, roles = officer_id, "VN", []
    else:
        full_name, unit_code, roles = officer.full_name, officer.unit_code, list(officer.roles)
    if officer_id == bootstrap_administrator and "administrator" not in roles:
        roles.append("administrator")
    capacities = [Capacity(role=r, unit_code=unit_code) for r in roles]
    for delegation in connection.execute(_DELEGATED_TODAY, {"officer_id": officer_id, "today": today}):
        for role in delegation.roles:
            if role in delegation.delegator_roles:
                capacities.append(
                    Capacity(role=role, unit_code=delegation.unit_code, on_behalf_of=delegation.officer_id)
                )
    return OfficerProfile(
        officer_id=officer_id,
        full_name=full_name,
        unit_code=unit_code,
        roles=tuple(roles),
        capacities=tuple(capacities),
    )


def delegations(session: Session, officer_id: str | None = None) -> list[DelegationRow]:
    query = select(DelegationRow).order_by(col(DelegationRow.id))
    if officer_id is not None:
        query = query.where(or_(DelegationRow.delegator_id == officer_id, DelegationRow.delegate_id == officer_id))
    return list(session.exec(query))


# ----------------------------------------------------------------------------- audit trail


def audit(session: Session, actor: ActorRef, action: str, target: str, detail: dict[str, Any] | None = None,
          at: datetime | None = None) -> None:  # fmt: skip
    """Add an audit entry to the session's transaction, so the act and its record commit together."""
    session.add(
        AuditEntryRow(
            at=at or utcnow(),
            actor_kind=actor.kind,
            actor_id=actor.actor_id,
            on_behalf_of=actor.on_behalf_of,
            unit_code=actor.unit_code,
            channel=actor.channel,
            action=action,
            target=target,
            detail=detail or {},
        )
    )


def audit_entries(
    session: Session, *, target: str | None = None, actor_id: str | None = None, limit: int = 100, offset: int = 0
) -> list[AuditEntryRow]:
    query = select(AuditEntryRow).order_by(col(AuditEntryRow.id).desc()).limit(limit).offset(offset)
    if target is not None:
        query = query.where(AuditEntryRow.target == target)
    if actor_id is not None:
        query = query.where(AuditEntryRow.actor_id == actor_id)
    return list(session.exec(query))
