"""FastAPI dependencies: settings, database session, Temporal client, who is calling."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import Depends, Header, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session
from temporalio.client import Client

from api import browser_session, provider_sessions
from api.oidc_providers import RENEW_AHEAD
from domain.dossier import ActorRef
from domain.working_calendar import WorkingCalendar, parse_cutoff
from infrastructure.lookup_secret import LookupSecrets
from infrastructure.population import PopulationClient
from infrastructure.settings import Settings, get_settings
from infrastructure.temporal import connect, ensure_search_attributes
from infrastructure.tokens import InvalidToken, TokenIdentity, UnknownClient
from infrastructure.translations import from_accept_language
from readmodel import organisation, sign_in_sessions
from readmodel.db import utcnow
from readmodel.organisation import OfficerProfile
from readmodel.sign_in_sessions import Renewal

# Cheap dependencies are coroutines: a sync one costs every request a hop to the thread pool.


async def current_settings() -> Settings:
    return get_settings()


SettingsDep = Annotated[Settings, Depends(current_settings)]


async def get_session(request: Request) -> AsyncIterator[Session]:
    # Creating a session does no I/O (it connects on first use, in the thread pool with the blocking work).
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


async def get_calendar(settings: SettingsDep) -> WorkingCalendar:
    return _calendar(settings.timezone, settings.receipt_cutoff)


_calendars: dict[tuple[str, str], WorkingCalendar] = {}


def _calendar(timezone: str, cutoff: str) -> WorkingCalendar:
    key = (timezone, cutoff)
    if key not in _calendars:
        _calendars[key] = WorkingCalendar(timezone, parse_cutoff(cutoff))
    return _calendars[key]


CalendarDep = Annotated[WorkingCalendar, Depends(get_calendar)]


@dataclass(frozen=True)
class Principal:
    """Who is calling: an officer (from the registry), a citizen (by citizen ID), a machine client (by client id,
    with the scopes it may use: only at routes asking for one, see require_scope), or nobody in particular."""

    kind: Literal["officer", "citizen", "anonymous", "portal", "client"]
    officer: OfficerProfile | None = None
    citizen_id: str | None = None
    client_id: str | None = None
    scopes: frozenset[str] = frozenset()

    @property
    def channel(self) -> str:
        """Where an applicant's submission comes from when no counter officer receives it."""
        return "portal" if self.kind == "portal" else "online"

    def actor(self, channel: str = "api", *, role: str | None = None, unit: str | None = None) -> ActorRef:
        """Who acts, for the audit trail; an officer in the capacity of `role` (at `unit`, when given)."""
        if self.officer is not None:
            capacity = self.officer.holds(role, unit) if role else None
            return ActorRef(
                kind="officer",
                actor_id=self.officer.officer_id,
                on_behalf_of=capacity.on_behalf_of if capacity else None,
                unit_code=capacity.unit_code if capacity else self.officer.unit_code,
                channel=channel,
            )
        if self.citizen_id is not None:
            return ActorRef(kind="citizen", actor_id=self.citizen_id, channel=channel)
        return ActorRef(kind=self.kind, channel=channel)


ANONYMOUS = Principal(kind="anonymous")
PORTAL = Principal(kind="portal")  # the national portal pushing a dossier submitted there
BearerHeader = Annotated[str | None, Header(alias="Authorization", max_length=8000, include_in_schema=False)]


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"})


async def current_principal(request: Request, settings: SettingsDep, authorization: BearerHeader = None) -> Principal:
    """The caller named by the bearer token or the pages' sign-in session (see calling_principal); a machine client's
    token is refused here (403): it acts only where a route asks for a scope (require_scope), never as an officer, a
    citizen or an anonymous caller."""
    principal = await calling_principal(request, settings, authorization)
    if principal.kind == "client":
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"machine client {principal.client_id!r} acts only where a scope is required"
        )
    return principal


async def calling_principal(request: Request, settings: SettingsDep, authorization: BearerHeader = None) -> Principal:
    """The caller named by the bearer token, else by the pages' sign-in session (its cookie counts for reading, and
    for changes that prove they come from our pages: see api/browser_session.py); anonymous without either.
    Officers' units and roles (and the delegations they hold today) come from the registry, not from the token or
    the session."""
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("the Authorization header takes a bearer token")
        # Verifying may fetch a provider's keys, and the registry is read from the database.
        return await run_in_threadpool(_principal_of_token, request, settings, token.strip())
    session_id = browser_session.session_id(request)
    if session_id is None:
        return ANONYMOUS
    found = await run_in_threadpool(_principal_of_sign_in, request, settings, session_id, True)
    if isinstance(found, Renewal):  # a provider's session whose token is about to expire
        if not await provider_sessions.keep_alive(request.app.state.engine, settings, session_id, found):
            return ANONYMOUS
        found = await run_in_threadpool(_principal_of_sign_in, request, settings, session_id, False)
    assert isinstance(found, Principal)
    return found


def _principal_of_token(request: Request, settings: Settings, token: str) -> Principal:
    try:
        identity = request.app.state.token_verifier.verify(token)
    except InvalidToken as exc:
        raise _unauthorized(f"invalid token: {exc}") from None
    except UnknownClient as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None
    if identity.principal == "client":
        return Principal(kind="client", client_id=identity.subject, scopes=identity.scopes)
    if identity.principal == "citizen":
        return Principal(kind="citizen", citizen_id=identity.citizen_id)
    # A session of its own, not the request's SessionDep: citizens polling anonymously then pay for no session
    # (a generator dependency costs each request an exit stack).
    with Session(request.app.state.engine) as session:
        return _officer(session, settings, identity)


def _principal_of_sign_in(request: Request, settings: Settings, session_id: str, renew: bool) -> Principal | Renewal:
    """Who the session names, or (when `renew`) the renewal its provider's token needs first."""
    with Session(request.app.state.engine) as session:
        identity = sign_in_sessions.identity_of(
            session, session_id, idle=timedelta(minutes=settings.session_idle_minutes)
        )
        if identity is None:
            return ANONYMOUS  # signed out, revoked, expired or idle: the pages ask the browser to sign in again
        renewal = sign_in_sessions.renewal_due(session, session_id, ahead=RENEW_AHEAD) if renew else None
        if renewal is not None:
            return renewal
        if identity.principal == "citizen":
            return Principal(kind="citizen", citizen_id=identity.citizen_id)
        return _officer(session, settings, identity)


def _officer(session: Session, settings: Settings, identity: TokenIdentity) -> Principal:
    today = _calendar(settings.timezone, settings.receipt_cutoff).local_date(utcnow())
    profile = organisation.officer_profile(
        session, identity.subject, today, bootstrap_administrator=_bootstrap_administrator(settings, identity)
    )
    if profile is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"{identity.subject!r} is not an officer in the unit registry")
    return Principal(kind="officer", officer=profile)


def _bootstrap_administrator(settings: Settings, identity: TokenIdentity) -> str | None:
    """The bootstrap administrator, if this identity comes from the one issuer that may name them."""
    if identity.issuer != (settings.bootstrap_administrator_issuer or settings.token_issuer):
        return None
    return settings.bootstrap_administrator


PrincipalDep = Annotated[Principal, Depends(current_principal)]


async def reader_language(request: Request) -> str:
    """The language the request reads in: its `Accept-Language` among ours (Vietnamese unless it prefers English)."""
    return from_accept_language(request.headers.get("accept-language"))


ReaderLanguageDep = Annotated[str, Depends(reader_language)]
CallerDep = Annotated[Principal, Depends(calling_principal)]


def require_scope(scope: str):
    """A route dependency: the caller is a configured machine client whose token carries `scope` (401 without a
    token; 403 naming the scope for anyone else, officers and citizens included). Returns the client principal."""

    async def scoped_client(caller: CallerDep) -> Principal:
        return check_scope(caller, scope)

    return scoped_client


def check_scope(caller: Principal, scope: str) -> Principal:
    if caller.kind == "anonymous":
        raise _unauthorized(f"a machine client's bearer token with the scope {scope!r} is required")
    if caller.kind != "client" or scope not in caller.scopes:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"the scope {scope!r} is required")
    return caller


async def current_officer(principal: PrincipalDep) -> OfficerProfile:
    if principal.officer is None:
        if principal.kind == "anonymous":
            raise _unauthorized("an officer's bearer token is required")
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this is for officers")
    return principal.officer


OfficerDep = Annotated[OfficerProfile, Depends(current_officer)]


async def current_administrator(officer: OfficerDep) -> OfficerProfile:
    if officer.holds("administrator") is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this is for administrators")
    return officer


AdministratorDep = Annotated[OfficerProfile, Depends(current_administrator)]


async def administrator_actor(administrator: AdministratorDep) -> ActorRef:
    capacity = administrator.holds("administrator")
    return ActorRef(
        kind="officer",
        actor_id=administrator.officer_id,
        on_behalf_of=capacity.on_behalf_of if capacity else None,
        unit_code=capacity.unit_code if capacity else administrator.unit_code,
    )


AdministratorActorDep = Annotated[ActorRef, Depends(administrator_actor)]


async def get_lookup_secrets(request: Request) -> LookupSecrets:
    return request.app.state.lookup_secrets


LookupSecretsDep = Annotated[LookupSecrets, Depends(get_lookup_secrets)]
LookupSecretHeader = Annotated[str | None, Header(alias="X-Lookup-Secret", max_length=40)]


async def lookup_secret(request: Request, header: LookupSecretHeader = None) -> str | None:
    """The receipt's lookup secret: the X-Lookup-Secret header, else the one a browser keeps for this dossier."""
    return header or browser_session.lookup_secret(request, request.path_params.get("code"))


LookupSecretDep = Annotated[str | None, Depends(lookup_secret)]


async def get_population(request: Request, settings: SettingsDep) -> PopulationClient:
    return PopulationClient(request.app.state.http, settings.population_base_url)


PopulationDep = Annotated[PopulationClient, Depends(get_population)]
