"""A session begun through the national SSO or VNeID lasts only as long as the provider keeps the person signed in:
renewed with the refresh token before the provider's token expires, ended when the provider refuses to renew it, and
ended at once when the provider signs the person out (back-channel logout). Against a real Keycloak (`oidc_server`)
and an API process configured with its realms (`provider_api`)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import rsa

from devstack.oidc_realms import APP_CLIENT_ID, APP_CLIENT_SECRET, DEMO_CITIZENS, VNEID
from devstack.oidc_server import OidcServer
from devstack.stack import Stack
from readmodel.db import engine_for
from readmodel.tables import SignInSessionRow
from tests.test_sign_in_through_the_national_providers import provider_login, session_cookie, who

SESSIONS = SignInSessionRow.__table__
CITIZEN = DEMO_CITIZENS[1]  # not the one the other provider tests sign in and out


@pytest.fixture
def database(stack: Stack) -> Iterator[sa.Engine]:
    engine = engine_for(stack.config.sqlalchemy_url)
    yield engine
    engine.dispose()


def signed_in_citizen(provider_api: str) -> str:
    """A citizen signed in through VNeID, with a fresh provider session: the motcua session cookie."""
    with httpx.Client(timeout=30) as browser:
        arrival = provider_login(browser, provider_api, VNEID, CITIZEN.username)
        assert arrival.answer.status_code == 200, arrival.answer.text
        cookie = session_cookie(browser)
    assert cookie is not None
    assert who(provider_api, cookie)["citizen_id"] == CITIZEN.citizen_id
    return cookie


def row_of(database: sa.Engine, cookie: str) -> Any:
    with database.connect() as connection:
        return connection.execute(
            sa.select(SESSIONS).where(SESSIONS.c.id_hash == hashlib.sha256(cookie.encode()).hexdigest())
        ).one()


def age_providers_token(database: sa.Engine, cookie: str) -> None:
    """As if the provider's access token had just expired."""
    with database.begin() as connection:
        changed = connection.execute(
            sa.update(SESSIONS)
            .where(SESSIONS.c.id_hash == hashlib.sha256(cookie.encode()).hexdigest())
            .values(provider_expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        assert changed.rowcount == 1


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_the_session_keeps_what_renewing_it_takes(provider_api: str, database: sa.Engine) -> None:
    started = datetime.now(UTC)
    row = row_of(database, signed_in_citizen(provider_api))
    assert row.refresh_token and row.id_token and row.provider_sid
    # The realm's access tokens last 10 minutes.
    assert started + timedelta(minutes=9) < aware(row.provider_expires_at) < started + timedelta(minutes=11)


def test_a_session_is_renewed_when_the_providers_token_expires(provider_api: str, database: sa.Engine) -> None:
    cookie = signed_in_citizen(provider_api)
    before = row_of(database, cookie)
    age_providers_token(database, cookie)
    assert who(provider_api, cookie)["citizen_id"] == CITIZEN.citizen_id  # still signed in, renewed on the way
    after = row_of(database, cookie)
    assert after.ended_at is None
    assert aware(after.provider_expires_at) > datetime.now(UTC) + timedelta(minutes=9)
    assert after.refresh_token != before.refresh_token and after.id_token != before.id_token
    # Not due again: the next request renews nothing.
    assert who(provider_api, cookie)["citizen_id"] == CITIZEN.citizen_id
    assert row_of(database, cookie).refresh_token == after.refresh_token


def test_a_session_the_provider_refuses_to_renew_ends(
    provider_api: str, oidc_server: OidcServer, database: sa.Engine
) -> None:
    cookie = signed_in_citizen(provider_api)
    # The provider stops honouring the session's refresh token (OAuth 2.0 token revocation, RFC 7009) ...
    revoked = httpx.post(
        f"{oidc_server.issuer(VNEID)}/protocol/openid-connect/revoke",
        data={"token": row_of(database, cookie).refresh_token, "token_type_hint": "refresh_token"},
        auth=(APP_CLIENT_ID, APP_CLIENT_SECRET),
        timeout=30,
    )
    assert revoked.status_code == 200, revoked.text
    # ... which motcua learns at the next renewal.
    assert who(provider_api, cookie)["citizen_id"] == CITIZEN.citizen_id
    age_providers_token(database, cookie)
    assert who(provider_api, cookie)["kind"] == "anonymous"
    row = row_of(database, cookie)
    assert row.ended_at is not None and row.end_reason == "provider refused renewal"


def test_a_session_ended_at_the_provider_ends_here_at_once(
    provider_api: str, oidc_server: OidcServer, database: sa.Engine
) -> None:
    cookie = signed_in_citizen(provider_api)
    oidc_server.end_sessions_of(VNEID, CITIZEN.username)  # VNeID's administrator signs the citizen out
    # Keycloak calls motcua's back-channel logout before it answers; allow a moment anyway.
    deadline = time.monotonic() + 10
    while who(provider_api, cookie)["kind"] != "anonymous":
        assert time.monotonic() < deadline, "the session outlived the provider's"
        time.sleep(0.2)
    row = row_of(database, cookie)
    assert row.end_reason == "signed out at the provider"
    assert aware(row.provider_expires_at) > datetime.now(UTC)  # ended by the provider's word, not by expiry


def _logout_token(key: rsa.RSAPrivateKey, **claims: Any) -> str:
    now = int(time.time())
    return jwt.encode({"iat": now, "exp": now + 60, "jti": str(now), **claims}, key, algorithm="RS256")


def test_a_back_channel_logout_is_believed_only_from_the_provider(
    provider_api: str, oidc_server: OidcServer, database: sa.Engine
) -> None:
    cookie = signed_in_citizen(provider_api)
    row = row_of(database, cookie)
    url = f"{provider_api}/sign-in/{VNEID}/back-channel-logout"
    event = {"http://schemas.openid.net/event/backchannel-logout": {}}
    forged = _logout_token(
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        iss=oidc_server.issuer(VNEID), aud=APP_CLIENT_ID, sid=row.provider_sid, events=event,
    )  # fmt: skip
    refused = {
        "no token": {},
        "a token signed by someone else": {"logout_token": forged},
        # The session's own ID token is the provider's, for motcua, but no logout token: no event, and a nonce.
        "an ID token": {"logout_token": row.id_token},
        "not a token": {"logout_token": "x" * 40},
    }
    for what, form in refused.items():
        answer = httpx.post(url, data=form, timeout=30)
        assert answer.status_code == 400, (what, answer.text)
        assert answer.json()["error"] == "invalid_request", what
    assert who(provider_api, cookie)["citizen_id"] == CITIZEN.citizen_id  # none of them ended the session
    assert httpx.post(f"{provider_api}/sign-in/elsewhere/back-channel-logout", timeout=30).status_code == 404
