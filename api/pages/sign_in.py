"""The home page, the development sign-in and signing out.

Development sign-in (own issuer on: development and tests) begins a sign-in session naming an officer of the
registry or a 12-digit citizen ID, as a token of motcua's own issuer would name them, and gives the browser the
session's HttpOnly, SameSite=Strict cookie (api/browser_session.py); signing out ends the session. In production the
page is off: officers and citizens sign in through the national SSO and VNeID (OpenID Connect, api/pages/oidc_login.py),
into the same sessions, which the sign-in page offers beside the development form, or alone."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from api import browser_session
from api.deps import CalendarDep, PrincipalDep, SessionDep, SettingsDep
from api.oidc_providers import login_providers
from api.pages import oidc_login
from api.pages.errors import csrf_protected, local_path
from api.pages.rendering import render
from api.rate_limits import client_of
from domain.wording import mark
from infrastructure.tokens import TokenIdentity
from readmodel import organisation
from readmodel.db import utcnow

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protected)])
CITIZEN_ID = re.compile(r"^\d{12}$")
Text = Annotated[str, Form(max_length=200)]


@router.get("/")
def home(request: Request, principal: PrincipalDep) -> Response:
    return render(request, "home.html", principal=principal)


@router.get("/sign-in")
def sign_in_page(request: Request, principal: PrincipalDep, settings: SettingsDep, next: str | None = None) -> Response:
    providers = login_providers(settings)
    if not settings.issues_own_tokens and not providers:
        return render(request, "sign_in_off.html", principal=principal, status_code=status.HTTP_404_NOT_FOUND)
    return render(request, "sign_in.html", {"next": local_path(next, ""), "errors": {}, "values": {},
                  "providers": providers}, principal=principal)  # fmt: skip


@router.post("/sign-in")
def sign_in(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    calendar: CalendarDep,
    principal: PrincipalDep,
    kind: Annotated[str, Form(pattern="^(officer|citizen)$")],
    officer_id: Text = "",
    citizen_id: Text = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    issuer = request.app.state.token_issuer
    if not settings.issues_own_tokens or issuer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "development sign-in is off in this installation")
    request.app.state.rate_limits.take("sign-in", client_of(request))
    if kind == "officer":
        profile = organisation.officer_profile(
            session, officer_id.strip(), calendar.local_date(utcnow()),
            bootstrap_administrator=settings.bootstrap_administrator,
        )  # fmt: skip
        problem = None if profile else ("officer_id", mark("Không có cán bộ này trong danh bạ đơn vị."))
    else:
        profile = None
        problem = (
            None
            if CITIZEN_ID.match(citizen_id.strip())
            else ("citizen_id", mark("Số định danh cá nhân gồm 12 chữ số."))
        )
    if problem is not None:
        values = {"officer_id": officer_id, "citizen_id": citizen_id}
        return render(request, "sign_in.html", {"next": local_path(next, ""), "errors": {problem[0]: [problem[1]]},
                      "values": values}, principal=principal, status_code=422)  # fmt: skip
    if profile is not None:
        identity = TokenIdentity(principal="officer", subject=profile.officer_id, issuer=issuer.issuer)
        home = "/admin/procedures" if profile.holds("administrator") else "/officer/inbox"
    else:
        # The subject and issuer a citizen token of motcua's own issuer would carry.
        citizen = citizen_id.strip()
        identity = TokenIdentity(principal="citizen", subject=f"citizen:{citizen}", issuer=issuer.issuer,
                                 citizen_id=citizen)  # fmt: skip
        home = "/citizen/procedures"
    response = RedirectResponse(local_path(next, home), status.HTTP_303_SEE_OTHER)
    browser_session.sign_in(request, response, settings, session, identity)
    return response


@router.post("/sign-out")
async def sign_out(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    # A session begun at a provider ends there too (its end-session endpoint), then the browser comes back home.
    target = await oidc_login.sign_out_target(request, session, settings)
    response = oidc_login.sign_out_page(target) if target else RedirectResponse("/", status.HTTP_303_SEE_OTHER)
    await run_in_threadpool(browser_session.sign_out, request, response, settings, session)
    return response
