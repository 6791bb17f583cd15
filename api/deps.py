"""FastAPI dependencies: settings, database session, Temporal client, the acting officer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status
from sqlmodel import Session
from temporalio.client import Client

from activities.population import PopulationClient
from domain.definition import Role
from domain.dossier import OfficerRef
from domain.settings import Settings, get_settings
from domain.temporal import connect, ensure_search_attributes
from domain.working_calendar import WorkingCalendar, parse_cutoff

SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


async def get_temporal(request: Request, settings: SettingsDep) -> Client:
    state = request.app.state
    if state.temporal is None:
        async with state.temporal_lock:
            if state.temporal is None:
                try:
                    client = await asyncio.wait_for(connect(settings, attempts=1), timeout=10)
                    # Dossiers are started with search attributes, which an existing cluster may lack.
                    await ensure_search_attributes(client, settings.temporal_namespace)
                    state.temporal = client
                except Exception as exc:
                    raise HTTPException(
                        status.HTTP_503_SERVICE_UNAVAILABLE, f"workflow engine unavailable: {exc}"
                    ) from exc
    return state.temporal


TemporalDep = Annotated[Client, Depends(get_temporal)]


def get_calendar(settings: SettingsDep) -> WorkingCalendar:
    return _calendar(settings.timezone, settings.receipt_cutoff)


_calendars: dict[tuple[str, str], WorkingCalendar] = {}


def _calendar(timezone: str, cutoff: str) -> WorkingCalendar:
    key = (timezone, cutoff)
    if key not in _calendars:
        _calendars[key] = WorkingCalendar(timezone, parse_cutoff(cutoff))
    return _calendars[key]


CalendarDep = Annotated[WorkingCalendar, Depends(get_calendar)]


def development_officer(
    settings: SettingsDep,
    officer_id: Annotated[str | None, Header(alias="X-Dev-Officer", max_length=100)] = None,
    role: Annotated[Role | None, Header(alias="X-Dev-Role")] = None,
    unit: Annotated[str | None, Header(alias="X-Dev-Unit", max_length=80)] = None,
) -> OfficerRef:
    """DEVELOPMENT IDENTITY: the officer named in X-Dev-* headers, trusted as stated.

    It stands in until real authentication (JWT/OIDC) lands and is refused in production.
    """
    if not settings.allows_development_identity:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "development identity is disabled in production")
    if not (officer_id and role and unit):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "officer identity required: X-Dev-Officer, X-Dev-Role and X-Dev-Unit headers (development identity)",
        )
    return OfficerRef(officer_id=officer_id, role=role, unit_code=unit)


OfficerDep = Annotated[OfficerRef, Depends(development_officer)]


def get_population(request: Request, settings: SettingsDep) -> PopulationClient:
    return PopulationClient(request.app.state.http, settings.population_base_url)


PopulationDep = Annotated[PopulationClient, Depends(get_population)]
