"""The unit registry, asked by a dossier: who an officer is today and in which capacities they may act.

The API asks the registry before it relays an officer's message; a Signal sent straight to Temporal passes no API,
so the workflow asks here itself and takes the registry's answer over whatever capacities the message claims.
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio import activity

from domain.definition import Role
from domain.dossier import Capacity
from domain.working_calendar import WorkingCalendar
from readmodel import organisation
from readmodel.db import utcnow
from readmodel.tables import OfficerRow

STEP_ROLES = {role.value for role in Role}


class OfficerStanding(BaseModel):
    """What the registry says of an officer today: known, active, and every step role they hold, at their own unit
    or on behalf of a delegator by a delegation in force today."""

    officer_id: str
    registered: bool
    active: bool
    capacities: list[Capacity] = Field(default_factory=list)


class RegistryActivities:
    def __init__(self, engine: Engine, calendar: WorkingCalendar) -> None:
        self._engine = engine
        self._calendar = calendar

    @activity.defn
    def officer_standing(self, officer_id: str) -> OfficerStanding:
        # Today as the API reckons it for the officer's own requests: the installation's local date.
        today = self._calendar.local_date(utcnow())
        with Session(self._engine) as session:
            row = session.get(OfficerRow, officer_id)
            if row is None or not row.active:
                return OfficerStanding(officer_id=officer_id, registered=row is not None, active=False)
            profile = organisation.officer_profile(session, officer_id, today)
        capacities = [
            Capacity(role=Role(c.role), unit_code=c.unit_code, on_behalf_of=c.on_behalf_of)
            for c in (profile.capacities if profile is not None else ())
            if c.role in STEP_ROLES
        ]
        return OfficerStanding(
            officer_id=officer_id, registered=True, active=profile is not None, capacities=capacities
        )
