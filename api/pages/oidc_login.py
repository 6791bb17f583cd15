"""Signing in to the pages through the national SSO (officers) and VNeID (citizens): OpenID Connect's authorization
code flow with PKCE (S256), `state` and `nonce`, done with Authlib (its Starlette client, without SessionMiddleware).

`GET /sign-in/{provider}` remembers the login server-side (readmodel/sign_in_sessions.py: the state's hash, the
nonce, the PKCE verifier and where to go afterwards), bound to the browser by a short-lived HttpOnly cookie of its
own, and sends the browser to the provider. `GET /sign-in/{provider}/callback` takes that login once (a wrong or
replayed state finds nothing), exchanges the code with the verifier and the client's secret, and checks the ID
token: signature by the provider's JWKS, issuer, audience (the client id), expiry and nonce. An officer must be an
active officer of the unit registry, a citizen's token must carry a 12-digit citizen ID; then the browser gets a
server-side session like the development sign-in's, which keeps the ID token for the provider's sign-out (RP-initiated
logout with id_token_hint). Anything wrong is a 4xx page and no session.

Providers are OIDC_PROVIDERS entries with a `name` and a `client_id` (infrastructure/settings.py)."""

from __future__ import annotations

import html
import logging
import re
import secrets
from datetime import date, timedelta
from typing import Any

import httpx
from fastapi import APIRouter, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from joserfc.errors import JoseError
from sqlmodel import Session

from api import browser_session
from api.deps import CalendarDep, SessionDep, SettingsDep
from api.oidc_providers import (
    LogoutTokenInvalid,
    OAuthError,
    id_token_claims,
    oauth_client,
    provider_named,
    provider_of_issuer,
    tokens_kept,
    verify_logout_token,
)
from api.pages.errors import local_path
from api.pages.rendering import SECURITY_HEADERS
from api.rate_limits import client_of
from infrastructure.settings import OidcProvider, Settings
from infrastructure.tokens import CITIZEN_ID, TokenIdentity
from readmodel import organisation, sign_in_sessions
from readmodel.db import utcnow

log = logging.getLogger("api.oidc_login")
router = APIRouter(include_in_schema=False)

LOGIN_COOKIE = "motcua_login"
LOGIN_LIFETIME = timedelta(minutes=10)  # from the redirect to the provider until its callback
_BROWSER_ID = re.compile(r"^[A-Za-z0-9_-]{43}$")
_STATE = re.compile(r"^[A-Za-z0-9_-]{20,100}$")


def _callback_url(settings: Settings, provider: OidcProvider) -> str:
    return f"{settings.public_base_url.rstrip('/')}/sign-in/{provider.name}/callback"


def _refused(message: str, code: int = status.HTTP_400_BAD_REQUEST) -> HTTPException:
    return HTTPException(code, message)


@router.get("/sign-in/{name}")
async def begin_login(request: Request, name: str, settings: SettingsDep, session: SessionDep,
                      next: str | None = None) -> Response:  # fmt: skip
    provider = provider_named(settings, name)
    request.app.state.rate_limits.take("sign-in", client_of(request))
    client = oauth_client(provider)
    held = request.cookies.get(LOGIN_COOKIE)
    browser_id = held if held and _BROWSER_ID.match(held) else secrets.token_urlsafe(32)
    state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64)
    try:
        authorization = await client.create_authorization_url(
            _callback_url(settings, provider), state=state, nonce=nonce, code_verifier=verifier
        )
    except (httpx.HTTPError, RuntimeError, ValueError) as exc:
        log.warning("sign-in through %s unavailable: %s", provider.name, exc)
        raise _refused(f"{provider.display_name or provider.name} không trả lời; hãy thử lại sau.", 503) from None

    def remember() -> None:
        sign_in_sessions.remember_login(
            session, state=state, browser_id=browser_id, provider=name, nonce=nonce, code_verifier=verifier,
            next_path=local_path(next, ""), lifetime=LOGIN_LIFETIME,
        )  # fmt: skip
        session.commit()

    await run_in_threadpool(remember)
    response = RedirectResponse(authorization["url"], status.HTTP_303_SEE_OTHER)
    # Lax, not Strict: the provider sends the browser back to the callback from its own site.
    response.set_cookie(
        LOGIN_COOKIE, browser_id, max_age=int(LOGIN_LIFETIME.total_seconds()), path="/sign-in",
        httponly=True, samesite="lax", secure=settings.secure_cookies,
    )  # fmt: skip
    return response


@router.get("/sign-in/{name}/callback")
async def finish_login(
    request: Request,
    name: str,
    settings: SettingsDep,
    session: SessionDep,
    calendar: CalendarDep,
    state: str | None = None,
    code: str | None = None,
    error: str | None = None,
    iss: str | None = None,
) -> Response:
    provider = provider_named(settings, name)
    provider_name = provider.display_name or provider.name
    browser_id = request.cookies.get(LOGIN_COOKIE, "")
    if not state or not _STATE.match(state) or not _BROWSER_ID.match(browser_id):
        raise _refused("Phiên đăng nhập không hợp lệ hoặc đã hết hạn; hãy đăng nhập lại.")

    def take() -> Any:
        login = sign_in_sessions.take_login(session, state=state, browser_id=browser_id, provider=name)
        session.commit()
        return login

    login = await run_in_threadpool(take)
    if login is None:
        raise _refused("Phiên đăng nhập không hợp lệ, đã dùng hoặc đã hết hạn; hãy đăng nhập lại.")
    if error:
        raise _refused(f"{provider_name} không cho đăng nhập ({error[:100]}).")
    if iss is not None and iss != provider.issuer:  # RFC 9207: an answer of another provider (mix-up)
        raise _refused("Câu trả lời không đến từ nhà cung cấp đăng nhập đã chọn.")
    if not code:
        raise _refused("Nhà cung cấp đăng nhập không trả mã xác thực.")
    client = oauth_client(provider)
    try:
        tokens = await client.fetch_access_token(
            redirect_uri=_callback_url(settings, provider), code=code, code_verifier=login.code_verifier
        )
        claims = await id_token_claims(client, provider, tokens, login.nonce)
    except (OAuthError, JoseError, ValueError, KeyError, TypeError) as exc:
        log.info("sign-in through %s refused: %s", provider.name, exc)
        raise _refused(f"{provider_name} không xác nhận được việc đăng nhập; hãy đăng nhập lại.") from None
    except httpx.HTTPError as exc:
        log.warning("sign-in through %s unavailable: %s", provider.name, exc)
        raise _refused(f"{provider_name} không trả lời; hãy thử lại sau.", 503) from None
    if claims is None or not tokens.get("id_token"):
        raise _refused(f"{provider_name} không trả mã định danh (ID token).")
    kept = tokens_kept(tokens, claims)
    today = calendar.local_date(utcnow())
    identity, home = await run_in_threadpool(_identity, session, settings, provider, claims, today)
    target = local_path(login.next_path, home)
    # A page that moves on, not a redirect: the browser arrives here from the provider's site, and a redirect would
    # keep that cross-site navigation going, so the SameSite=Strict session cookie would not reach the next page.
    response = continue_page(target, "Đã đăng nhập.")
    await run_in_threadpool(
        browser_session.sign_in, request, response, settings, session, identity, provider_tokens=kept
    )
    response.delete_cookie(LOGIN_COOKIE, path="/sign-in", httponly=True, samesite="lax", secure=settings.secure_cookies)
    return response


def _identity(
    session: Session, settings: Settings, provider: OidcProvider, claims: dict[str, Any], today: date
) -> tuple[TokenIdentity, str]:
    """Who the ID token names, as a session names them, and their home page; 403 for no one motcua knows."""
    if provider.principal == "citizen":
        citizen_id = claims.get(provider.citizen_id_claim)
        if not isinstance(citizen_id, str) or not CITIZEN_ID.match(citizen_id):
            raise _refused("Tài khoản VNeID không có số định danh cá nhân hợp lệ (12 chữ số).", 403)
        identity = TokenIdentity(
            principal="citizen", subject=str(claims["sub"]), issuer=provider.issuer, citizen_id=citizen_id
        )
        return identity, "/citizen/procedures"
    subject = claims.get(provider.subject_claim)
    if not isinstance(subject, str) or not subject:
        raise _refused(f"Mã định danh không có trường {provider.subject_claim}.", 403)
    bootstrap = settings.bootstrap_administrator if provider.issuer == settings.bootstrap_administrator_issuer else None
    profile = organisation.officer_profile(session, subject, today, bootstrap_administrator=bootstrap)
    session.rollback()  # nothing written: the read's transaction ends here
    if profile is None:
        raise _refused(
            f"Tài khoản {subject} không phải cán bộ đang làm việc trong danh bạ đơn vị; hãy liên hệ quản trị hệ thống.",
            403,
        )
    home = "/admin/procedures" if profile.holds("administrator") else "/officer/inbox"
    return TokenIdentity(principal="officer", subject=subject, issuer=provider.issuer), home


def continue_page(target: str, said: str) -> HTMLResponse:
    """A page that moves the browser on to `target` at once (a meta refresh, and a link)."""
    escaped = html.escape(target, quote=True)
    body = (
        '<!doctype html><html lang="vi"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="0;url={escaped}"><title>{html.escape(said)}</title></head>'
        f'<body><p>{html.escape(said)} <a href="{escaped}">Tiếp tục</a></p></body></html>'
    )
    return HTMLResponse(body, headers={**SECURITY_HEADERS, "Cache-Control": "no-store"})


def sign_out_page(target: str) -> HTMLResponse:
    """Signing out of a provider's session goes on at the provider through a page, not a redirect: the pages' CSP
    (form-action 'self') stops a form's post from being redirected to another site."""
    return continue_page(target, "Đã đăng xuất khỏi motcua; đang đăng xuất khỏi nhà cung cấp đăng nhập.")


async def sign_out_target(request: Request, session: Session, settings: Settings) -> str | None:
    """Where a browser signing out goes next when its session came from a provider: the provider's end-session
    endpoint, with the session's ID token as id_token_hint and back to the home page afterwards (RP-initiated
    logout). None for any other session, or when the provider cannot be reached (the session ends here anyway)."""
    held = browser_session.session_id(request)
    if held is None:
        return None
    found = await run_in_threadpool(sign_in_sessions.provider_session_of, session, held)
    if found is None:
        return None
    issuer, id_token = found
    provider = provider_of_issuer(settings, issuer)
    if provider is None:
        return None
    try:
        logout = await oauth_client(provider).create_logout_url(
            post_logout_redirect_uri=f"{settings.public_base_url.rstrip('/')}/", id_token_hint=id_token
        )
    except (httpx.HTTPError, RuntimeError, ValueError) as exc:
        log.warning("sign-out at %s unavailable: %s", provider.name, exc)
        return None
    return str(logout["url"])


@router.post("/sign-in/{name}/back-channel-logout")
async def back_channel_logout(request: Request, name: str, settings: SettingsDep, session: SessionDep) -> Response:
    """The provider says a person's session there is over (they signed out elsewhere, an administrator ended it):
    the motcua sessions begun from it end at once (OpenID Connect Back-Channel Logout 1.0). Called by the provider,
    not by a browser."""
    provider = provider_named(settings, name)
    form = await request.form()
    token = form.get("logout_token")
    if not isinstance(token, str) or not token or len(token) > 16_384:
        return JSONResponse({"error": "invalid_request", "error_description": "logout_token is missing"}, 400)
    try:
        claims = await run_in_threadpool(verify_logout_token, provider, token)
    except LogoutTokenInvalid as exc:
        log.info("back-channel logout from %s refused: %s", provider.name, exc)
        return JSONResponse({"error": "invalid_request", "error_description": str(exc)}, 400)
    sid, sub = claims.get("sid"), claims.get("sub")

    def end() -> int:
        ended = sign_in_sessions.end_provider_sessions(
            session, provider.issuer, sid=sid if isinstance(sid, str) else None,
            subject=sub if isinstance(sub, str) else None, reason="signed out at the provider",
        )  # fmt: skip
        session.commit()
        return ended

    ended = await run_in_threadpool(end)
    log.info("back-channel logout from %s ended %d session(s)", provider.name, ended)
    return Response(status_code=200, headers={"Cache-Control": "no-store"})
