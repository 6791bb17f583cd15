"""Browsers' sign-in sessions: begun at sign-in, looked up on every request the browser makes, ended at sign-out or
by revocation, and over after an absolute lifetime or an idle time.

The browser's cookie carries a random id; only its SHA-256 is stored, so that a copy of the database opens no session.
A session names an identity the way a verified token does (TokenIdentity: principal, subject, issuer, citizen ID), so
that any sign-in (the development one, an OpenID Connect login) begins one the same way; officers' units
and roles are still read from the registry on every request, never kept here.

Writes join the caller's transaction (the caller commits), except the refresh of last_seen_at, which happens while
reading who the browser is."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import delete, update
from sqlmodel import Session, col

from infrastructure.tokens import TokenIdentity
from readmodel.db import as_utc, utcnow
from readmodel.tables import OidcLoginRow, SignInSessionRow

SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)
# last_seen_at is refreshed at most this often: a browser's every request reads its session, and a write each time
# would cost more than the read. The idle time is therefore measured to within this much.
REFRESH_LAST_SEEN_EVERY = timedelta(minutes=1)
# Rows are deleted this long after their session expired (however it ended before), so the table stays bounded.
KEEP_AFTER_EXPIRY = timedelta(days=1)


def looks_like_session_id(value: str | None) -> bool:
    """Whether a cookie's value could be one of ours (anything else is not looked up at all)."""
    return value is not None and SESSION_ID.match(value) is not None


def id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("ascii")).hexdigest()


def begin(
    session: Session,
    identity: TokenIdentity,
    *,
    lifetime: timedelta,
    now: datetime | None = None,
    id_token: str | None = None,
    refresh_token: str | None = None,
    provider_expires_at: datetime | None = None,
    provider_sid: str | None = None,
) -> str:
    """A new session for `identity`: the id for the browser's cookie, which is stored nowhere. A provider's session
    keeps its ID token (for the provider's sign-out), its refresh token and when the provider's token expires (for
    renewing it) and the provider's session id (which the provider's back-channel sign-out names)."""
    now = now or utcnow()
    prune(session, now)  # on sign-in: often enough to keep the table bounded, rare enough to cost nothing
    session_id = secrets.token_urlsafe(32)
    session.add(
        SignInSessionRow(
            id_hash=id_hash(session_id),
            principal=identity.principal,
            subject=identity.subject,
            issuer=identity.issuer,
            citizen_id=identity.citizen_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
            id_token=id_token,
            refresh_token=refresh_token,
            provider_expires_at=provider_expires_at,
            provider_sid=provider_sid,
        )
    )
    return session_id


def identity_of(
    session: Session, session_id: str, *, idle: timedelta, now: datetime | None = None
) -> TokenIdentity | None:
    """Who the session names, while it lasts: None once ended, expired, idle too long, or never ours.

    One read by primary key; a session last seen over a minute ago is also marked seen now (and committed)."""
    now = now or utcnow()
    row = session.get(SignInSessionRow, id_hash(session_id))
    if row is None or row.ended_at is not None:
        return None
    last_seen = as_utc(row.last_seen_at)
    if as_utc(row.expires_at) <= now or last_seen + idle <= now:
        return None
    identity = TokenIdentity(
        principal=cast(Literal["officer", "citizen"], row.principal),
        subject=row.subject,
        issuer=row.issuer,
        citizen_id=row.citizen_id,
    )
    if now - last_seen >= REFRESH_LAST_SEEN_EVERY:
        session.connection().execute(
            update(SignInSessionRow)
            .where(col(SignInSessionRow.id_hash) == row.id_hash, col(SignInSessionRow.ended_at).is_(None))
            .values(last_seen_at=now)
        )
        session.commit()
    return identity


def end(session: Session, session_id: str, reason: str, *, now: datetime | None = None) -> bool:
    """End one session (a browser signing out); False if it was not open."""
    result = session.connection().execute(
        update(SignInSessionRow)
        .where(col(SignInSessionRow.id_hash) == id_hash(session_id), col(SignInSessionRow.ended_at).is_(None))
        .values(ended_at=now or utcnow(), end_reason=reason)
    )
    return bool(result.rowcount)


def end_every_session_of(
    session: Session, subject: str, reason: str, *, issuer: str | None = None, now: datetime | None = None
) -> int:
    """End every open session naming `subject` (of `issuer`, if given), in every browser at once: how many ended."""
    now = now or utcnow()
    query = (
        update(SignInSessionRow)
        .where(
            col(SignInSessionRow.subject) == subject,
            col(SignInSessionRow.ended_at).is_(None),
            col(SignInSessionRow.expires_at) > now,
        )
        .values(ended_at=now, end_reason=reason)
    )
    if issuer is not None:
        query = query.where(col(SignInSessionRow.issuer) == issuer)
    return int(session.connection().execute(query).rowcount)


def prune(session: Session, now: datetime | None = None) -> int:
    """Delete the sessions expired over a day ago (ended or not): how many."""
    cutoff = (now or utcnow()) - KEEP_AFTER_EXPIRY
    deleted = session.connection().execute(delete(SignInSessionRow).where(col(SignInSessionRow.expires_at) < cutoff))
    return int(deleted.rowcount)


def provider_session_of(session: Session, session_id: str) -> tuple[str, str] | None:
    """The issuer and ID token of an open session begun through an OpenID Connect provider, else None."""
    row = session.get(SignInSessionRow, id_hash(session_id))
    if row is None or row.ended_at is not None or not row.id_token:
        return None
    return row.issuer, row.id_token


@dataclass(frozen=True)
class Renewal:
    """A provider's session whose token is about to expire, with what renewing it takes."""

    issuer: str
    refresh_token: str | None
    id_token: str
    expires_at: datetime  # the provider's token's


def renewal_due(session: Session, session_id: str, *, ahead: timedelta, now: datetime | None = None) -> Renewal | None:
    """The renewal an open provider's session needs when its provider's token expires within `ahead`, else None.
    Read after identity_of in the same database session, it costs no query (the row is in the identity map)."""
    row = session.get(SignInSessionRow, id_hash(session_id))
    if row is None or row.ended_at is not None or row.id_token is None or row.provider_expires_at is None:
        return None
    expires_at = as_utc(row.provider_expires_at)
    if expires_at - ahead > (now or utcnow()):
        return None
    return Renewal(row.issuer, row.refresh_token, row.id_token, expires_at)


def renewed(
    session: Session,
    session_id: str,
    *,
    held_refresh_token: str | None,
    id_token: str,
    refresh_token: str | None,
    provider_expires_at: datetime | None,
) -> bool:
    """Keep a provider's renewed tokens, unless another request renewed the session first (the refresh token held is
    no longer the stored one) or it ended meanwhile: whether they were kept."""
    values = {"id_token": id_token, "refresh_token": refresh_token, "provider_expires_at": provider_expires_at}
    return _update_still_held(session, session_id, held_refresh_token, values)


def end_unless_renewed(
    session: Session, session_id: str, *, held_refresh_token: str | None, reason: str, now: datetime | None = None
) -> bool:
    """End a provider's session whose renewal failed, unless another request renewed it meanwhile: whether it ended."""
    values = {"ended_at": now or utcnow(), "end_reason": reason[:40]}
    return _update_still_held(session, session_id, held_refresh_token, values)


def _update_still_held(session: Session, session_id: str, held: str | None, values: dict[str, Any]) -> bool:
    """Change an open session whose refresh token is still the one held (nobody renewed it meanwhile)."""
    token = col(SignInSessionRow.refresh_token)
    result = session.connection().execute(
        update(SignInSessionRow)
        .where(
            col(SignInSessionRow.id_hash) == id_hash(session_id),
            col(SignInSessionRow.ended_at).is_(None),
            token.is_(None) if held is None else token == held,
        )
        .values(**values)
    )
    return bool(result.rowcount)


def end_provider_sessions(
    session: Session, issuer: str, *, sid: str | None, subject: str | None, reason: str, now: datetime | None = None
) -> int:
    """End the open sessions a provider's back-channel sign-out names: by the provider's session id, else every
    session of the subject through that provider. How many ended."""
    now = now or utcnow()
    query = update(SignInSessionRow).where(
        col(SignInSessionRow.issuer) == issuer,
        col(SignInSessionRow.ended_at).is_(None),
        col(SignInSessionRow.expires_at) > now,
    )
    if sid is not None:
        query = query.where(col(SignInSessionRow.provider_sid) == sid)
    elif subject is not None:
        query = query.where(col(SignInSessionRow.subject) == subject)
    else:
        return 0
    return int(session.connection().execute(query.values(ended_at=now, end_reason=reason[:40])).rowcount)


# ------------------------------------------------------------------------------------------------ logins under way


def remember_login(
    session: Session,
    *,
    state: str,
    browser_id: str,
    provider: str,
    nonce: str,
    code_verifier: str,
    next_path: str,
    lifetime: timedelta,
    now: datetime | None = None,
) -> None:
    """A login through `provider` begun by the browser holding `browser_id`, until its callback (within `lifetime`)."""
    now = now or utcnow()
    session.connection().execute(delete(OidcLoginRow).where(col(OidcLoginRow.expires_at) < now))
    session.add(
        OidcLoginRow(
            state_hash=id_hash(state),
            browser_hash=id_hash(browser_id),
            provider=provider,
            nonce=nonce,
            code_verifier=code_verifier,
            next_path=next_path,
            expires_at=now + lifetime,
        )
    )


def take_login(
    session: Session, *, state: str, browser_id: str, provider: str, now: datetime | None = None
) -> OidcLoginRow | None:
    """The login `state` names, taken once (a replayed callback finds nothing): None unless it was begun by this
    browser, through this provider, and has not expired."""
    row = session.get(OidcLoginRow, id_hash(state))
    if row is None:
        return None
    taken = session.connection().execute(delete(OidcLoginRow).where(col(OidcLoginRow.state_hash) == row.state_hash))
    if not taken.rowcount:
        return None  # another request took it first
    session.expunge(row)
    if (
        not secrets.compare_digest(row.browser_hash, id_hash(browser_id))
        or row.provider != provider
        or as_utc(row.expires_at) <= (now or utcnow())
    ):
        return None
    return row
