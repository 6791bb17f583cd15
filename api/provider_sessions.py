"""Sessions begun through an OpenID Connect provider follow the provider's: renewed with the refresh token shortly
before the provider's token expires, ended when the provider refuses (the person signed out there, an administrator
ended their sessions, the account was disabled) or has not answered for RENEWAL_GRACE past the token's expiry.

Two requests of one browser may renew at once; the tokens of whichever stores first are kept, and a refusal ends the
session only if nobody renewed it meanwhile (readmodel/sign_in_sessions.py compares the refresh token held)."""

from __future__ import annotations

import logging
from datetime import datetime

import jwt
import sqlalchemy as sa
from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session

from api.oidc_providers import (
    RENEWAL_GRACE,
    ProviderTokens,
    ProviderUnreachable,
    RenewalRefused,
    provider_of_issuer,
    renew,
)
from infrastructure.settings import Settings
from readmodel import sign_in_sessions
from readmodel.db import utcnow
from readmodel.sign_in_sessions import Renewal

log = logging.getLogger("api.provider_sessions")


async def keep_alive(engine: sa.Engine, settings: Settings, session_id: str, renewal: Renewal) -> bool:
    """Renew a provider's session that is due: False when it ended instead (the browser is then signed out)."""
    now = utcnow()
    provider = provider_of_issuer(settings, renewal.issuer)
    if provider is None or renewal.refresh_token is None:
        # A provider no longer configured, or one that gave no refresh token: the session ends with its token.
        if now < renewal.expires_at:
            return True
        return not await run_in_threadpool(_end, engine, session_id, renewal, "provider session over", now)
    try:
        tokens = await renew(provider, renewal.refresh_token, _sub_of(renewal.id_token))
    except RenewalRefused as exc:
        log.info("session of %s ended: %s refused to renew it (%s)", renewal.issuer, provider.name, exc)
        return not await run_in_threadpool(_end, engine, session_id, renewal, "provider refused renewal", now)
    except ProviderUnreachable as exc:
        if now < renewal.expires_at + RENEWAL_GRACE:
            log.warning(
                "%s did not answer a session's renewal (%s); trying again at the next request", provider.name, exc
            )
            return True
        log.warning("session of %s ended: %s has not answered since its token expired", renewal.issuer, provider.name)
        return not await run_in_threadpool(_end, engine, session_id, renewal, "provider unreachable", now)
    await run_in_threadpool(_keep, engine, session_id, renewal, tokens)
    return True


def _sub_of(id_token: str) -> str | None:
    """The `sub` of the ID token the session holds (checked when it was received)."""
    try:
        sub = jwt.decode(id_token, options={"verify_signature": False}).get("sub")
    except jwt.PyJWTError:
        return None
    return sub if isinstance(sub, str) else None


def _end(engine: sa.Engine, session_id: str, renewal: Renewal, reason: str, now: datetime) -> bool:
    with Session(engine) as session:
        ended = sign_in_sessions.end_unless_renewed(
            session, session_id, held_refresh_token=renewal.refresh_token, reason=reason, now=now
        )
        session.commit()
        return ended


def _keep(engine: sa.Engine, session_id: str, renewal: Renewal, tokens: ProviderTokens) -> None:
    with Session(engine) as session:
        sign_in_sessions.renewed(
            session, session_id, held_refresh_token=renewal.refresh_token, id_token=tokens.id_token,
            refresh_token=tokens.refresh_token, provider_expires_at=tokens.expires_at,
        )  # fmt: skip
        session.commit()
