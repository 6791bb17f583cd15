"""Browsers on motcua's pages: the sign-in session and the lookup secrets travel in cookies, not headers.

A browser cannot send a bearer header when it follows a link, so the pages keep the id of a server-side sign-in
session (readmodel/sign_in_sessions.py) in an HttpOnly, SameSite=Strict cookie, and the lookup secrets of the
dossiers looked up in another. The session, not the cookie, says who is signed in: signing out or a revocation ends
it for every copy of the cookie. Those cookies count for reading; for a change (any method but GET/HEAD/OPTIONS) only
when the request also proves it comes from one of our pages (CSRF): the double-submit token, sent back in the form
field `csrf_token` or the header `X-CSRF-Token`, must equal the `motcua_csrf` cookie. API clients with a bearer
header are unaffected.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from fastapi import Request, Response
from sqlmodel import Session

from api.oidc_providers import ProviderTokens
from infrastructure.settings import Settings
from infrastructure.tokens import TokenIdentity
from readmodel import sign_in_sessions

SESSION_COOKIE = "motcua_session"
CSRF_COOKIE = "motcua_csrf"
LOOKUP_COOKIE = "motcua_lookup"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOKUPS_KEPT = 10  # dossiers a browser remembers having looked up
_CSRF_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
_LOOKUP = re.compile(r"^([A-Za-z0-9.-]{1,100}):([A-Za-z0-9]{1,40})$")


def csrf_token(request: Request) -> str:
    """The browser's CSRF token (made on its first page; the page's response sets the cookie)."""
    token = getattr(request.state, "csrf_token", None) or request.cookies.get(CSRF_COOKIE, "")
    if not _CSRF_TOKEN.match(token):
        token = secrets.token_urlsafe(32)
    request.state.csrf_token = token
    return token


def renew_csrf_token(request: Request) -> str:
    """A fresh token, when who is signed in changes."""
    request.state.csrf_token = secrets.token_urlsafe(32)
    return request.state.csrf_token


def prove_csrf(request: Request, presented: str | None) -> bool:
    """Whether the token presented with a change matches the browser's cookie; remembered for the request."""
    expected = request.cookies.get(CSRF_COOKIE, "")
    proven = (
        bool(presented)
        and _CSRF_TOKEN.match(expected) is not None  # a cookie of ours, never one made up to match
        # As bytes: compare_digest refuses non-ASCII text, and such a token is as wrong as any other (403).
        and secrets.compare_digest(
            str(presented).encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape")
        )
    )
    if proven:
        request.state.csrf_proven = True
    return proven


def cookies_authorize(request: Request) -> bool:
    """Cookies speak for the browser on reads, and on changes that proved they come from our pages."""
    if request.method in SAFE_METHODS or getattr(request.state, "csrf_proven", False):
        return True
    return prove_csrf(request, request.headers.get(CSRF_HEADER))


def session_id(request: Request) -> str | None:
    """The id of the browser's sign-in session, when its cookies count for this request."""
    value = request.cookies.get(SESSION_COOKIE)
    return value if sign_in_sessions.looks_like_session_id(value) and cookies_authorize(request) else None


def lookups(request: Request) -> dict[str, str]:
    """Dossier code → lookup secret, for the dossiers this browser looked up (or submitted)."""
    found: dict[str, str] = {}
    for item in request.cookies.get(LOOKUP_COOKIE, "").split("|"):
        match = _LOOKUP.match(item)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def lookup_secret(request: Request, code: str | None) -> str | None:
    if not code or not cookies_authorize(request):
        return None
    return lookups(request).get(code)


def _cookie(response: Response, settings: Settings, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", httponly=True, samesite="strict", secure=settings.secure_cookies
    )


def keep_csrf_token(request: Request, response: Response, settings: Settings) -> None:
    token = getattr(request.state, "csrf_token", None)
    if token and token != request.cookies.get(CSRF_COOKIE):
        _cookie(response, settings, CSRF_COOKIE, token)


def sign_in(
    request: Request,
    response: Response,
    settings: Settings,
    session: Session,
    identity: TokenIdentity,
    *,
    provider_tokens: ProviderTokens | None = None,
) -> None:
    """Begin a session for `identity` and give the browser its cookie (and a new CSRF token); a session the browser
    held before ends, so that one browser holds one session. A provider's login keeps its tokens server-side."""
    _end_session(request, session, "signed in again")
    lifetime = timedelta(minutes=settings.session_lifetime_minutes)
    kept = provider_tokens
    new_id = sign_in_sessions.begin(
        session, identity, lifetime=lifetime,
        id_token=kept.id_token if kept else None, refresh_token=kept.refresh_token if kept else None,
        provider_expires_at=kept.expires_at if kept else None, provider_sid=kept.sid if kept else None,
    )  # fmt: skip
    session.commit()
    _cookie(response, settings, SESSION_COOKIE, new_id, max_age=int(lifetime.total_seconds()))
    _cookie(response, settings, CSRF_COOKIE, renew_csrf_token(request))


def sign_out(request: Request, response: Response, settings: Settings, session: Session) -> None:
    """End the browser's session, for every copy of its cookie, and forget the cookie."""
    _end_session(request, session, "signed out")
    session.commit()
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=settings.secure_cookies)
    _cookie(response, settings, CSRF_COOKIE, renew_csrf_token(request))


def _end_session(request: Request, session: Session, reason: str) -> None:
    held = session_id(request)  # the pages signing in and out prove CSRF first, so the cookie counts
    if held is not None:
        sign_in_sessions.end(session, held, reason)


def remember_lookup(request: Request, response: Response, settings: Settings, code: str, secret: str) -> None:
    kept = {k: v for k, v in lookups(request).items() if k != code}
    items = [*(f"{k}:{v}" for k, v in kept.items()), f"{code}:{secret}"][-LOOKUPS_KEPT:]
    _cookie(response, settings, LOOKUP_COOKIE, "|".join(i for i in items if _LOOKUP.match(i)))


# The receipt (form 01) a counter officer prints on receiving a dossier carries its lookup secret, for the applicant
# it is handed to; later reprints by officers do not. The secret waits for that one print in a cookie of its own,
# sent only to that receipt's address, kept minutes and taken away by the print; it opens nothing else.
RECEIPT_COOKIE = "motcua_receipt"
RECEIPT_PRINT_SECONDS = 600


def _receipt_path(code: str) -> str:
    return f"/dossiers/{code}/receipt.html"


def hold_receipt_secret(response: Response, settings: Settings, code: str, secret: str) -> None:
    response.set_cookie(
        RECEIPT_COOKIE, f"{code}:{secret}", max_age=RECEIPT_PRINT_SECONDS, path=_receipt_path(code),
        httponly=True, samesite="strict", secure=settings.secure_cookies,
    )  # fmt: skip


def receipt_secret(request: Request, code: str) -> str | None:
    """The secret held for this dossier's first print, if any (`forget_receipt_secret` once printed)."""
    match = _LOOKUP.match(request.cookies.get(RECEIPT_COOKIE, ""))
    return match.group(2) if match is not None and match.group(1) == code else None


def forget_receipt_secret(response: Response, settings: Settings, code: str) -> None:
    response.delete_cookie(
        RECEIPT_COOKIE, path=_receipt_path(code), httponly=True, samesite="strict", secure=settings.secure_cookies
    )
