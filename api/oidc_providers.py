"""The OpenID Connect providers browsers sign in through (the national SSO, VNeID), as Authlib clients: the login
(api/pages/oidc_login.py) and the renewal of a provider's session on later requests (api/deps.py) share them.

A session begun through a provider lasts, on motcua's side, only as long as the provider keeps the person signed in:
shortly before the provider's access token expires, the next request renews it with the refresh token. A provider
that refuses (the person signed out there, an administrator ended their sessions, the account was disabled) ends
motcua's session at once; one that cannot be reached is given a short grace (RENEWAL_GRACE) past the token's expiry,
then the session ends too."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import jwt
from fastapi import HTTPException, status
from joserfc.errors import JoseError
from jwt import PyJWKClient

from infrastructure.settings import OidcProvider, Settings
from readmodel.db import utcnow

with warnings.catch_warnings():
    # Authlib 1.9.10 warns that it falls back to httpx when httpx2 is not installed; httpx is what motcua uses.
    import authlib.deprecate  # noqa: F401  (its own filter, "always", goes in first, so that this one wins)

    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.base_client import OAuthError
    from authlib.integrations.starlette_client import OAuth, StarletteOAuth2App

log = logging.getLogger("api.oidc_providers")

# A session is renewed this long before the provider's token expires, so that no request meets an expired one.
RENEW_AHEAD = timedelta(seconds=30)
# How long past the provider token's expiry a session outlives a provider that does not answer.
RENEWAL_GRACE = timedelta(minutes=5)
_oauth = OAuth()
_clients: dict[str, StarletteOAuth2App] = {}


def login_providers(settings: Settings) -> list[OidcProvider]:
    """The providers the sign-in page offers, in the order configured."""
    return [p for p in settings.oidc_providers if p.offers_login]


def provider_named(settings: Settings, name: str) -> OidcProvider:
    for provider in login_providers(settings):
        if provider.name == name:
            return provider
    raise HTTPException(status.HTTP_404_NOT_FOUND, "Không có nhà cung cấp đăng nhập này.")


def provider_of_issuer(settings: Settings, issuer: str) -> OidcProvider | None:
    return next((p for p in login_providers(settings) if p.issuer == issuer), None)


def oauth_client(provider: OidcProvider) -> StarletteOAuth2App:
    """Authlib's client of the provider (its discovery document and keys are fetched once, on first use)."""
    assert provider.name is not None
    if provider.name not in _clients:
        _clients[provider.name] = _oauth.register(
            provider.name,
            overwrite=True,
            client_id=provider.client_id,
            client_secret=provider.client_secret.get_secret_value() if provider.client_secret else None,
            server_metadata_url=provider.metadata_url,
            client_kwargs={"scope": provider.scopes, "code_challenge_method": "S256", "timeout": 10},
        )
    return _clients[provider.name]


async def id_token_claims(
    client: StarletteOAuth2App, provider: OidcProvider, tokens: dict[str, Any], nonce: str | None
) -> dict[str, Any] | None:
    """The ID token's claims, once its signature (the provider's JWKS), issuer, audience (our client id), expiry and
    nonce (when given) are checked (joserfc's errors otherwise); None without an ID token."""
    options: dict[str, Any] = {
        "iss": {"essential": True, "values": [provider.issuer]},
        "aud": {"essential": True, "values": [provider.client_id]},
    }
    if nonce is not None:
        options["nonce"] = {"essential": True, "values": [nonce]}
    claims = await client.parse_id_token(tokens, nonce=nonce, claims_options=options, leeway=30)
    return None if claims is None else dict(claims)


@dataclass(frozen=True)
class ProviderTokens:
    """What a provider's session keeps of the provider's answer: the ID token (the sign-out's id_token_hint), the
    refresh token, when the access token expires, and the provider's session id (`sid`, which its back-channel
    sign-out names)."""

    id_token: str
    refresh_token: str | None
    expires_at: datetime | None
    sid: str | None = None


def tokens_kept(answer: dict[str, Any], claims: dict[str, Any], now: datetime | None = None) -> ProviderTokens:
    expires_in = answer.get("expires_in")
    expires_at = (now or utcnow()) + timedelta(seconds=int(expires_in)) if isinstance(expires_in, int | float) else None
    sid = claims.get("sid")
    return ProviderTokens(
        id_token=str(answer["id_token"]),
        refresh_token=answer.get("refresh_token") if isinstance(answer.get("refresh_token"), str) else None,
        expires_at=expires_at,
        sid=sid if isinstance(sid, str) else None,
    )


class RenewalRefused(Exception):
    """The provider no longer keeps the person signed in (or answered with tokens that are not theirs)."""


class ProviderUnreachable(Exception):
    """The provider did not answer: nothing is known either way."""


async def renew(provider: OidcProvider, refresh_token: str, subject_sub: str | None) -> ProviderTokens:
    """Renew a provider's session with its refresh token: the new tokens, once the new ID token (if any) is checked
    and names the same person (`subject_sub`, the `sub` the session began with)."""
    client = oauth_client(provider)
    try:
        answer = await client.fetch_access_token(grant_type="refresh_token", refresh_token=refresh_token)
    except OAuthError as exc:  # invalid_grant: the provider's session is over
        raise RenewalRefused(f"{exc.error}: {exc.description or ''}"[:200]) from None
    except (httpx.HTTPError, RuntimeError) as exc:
        raise ProviderUnreachable(str(exc)[:200]) from None
    if not isinstance(answer, dict) or not answer.get("id_token"):
        raise RenewalRefused("the provider's answer carries no ID token")
    try:
        claims = await id_token_claims(client, provider, answer, None)
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise RenewalRefused(f"the renewed ID token does not verify: {exc}"[:200]) from None
    if claims is None or subject_sub is None or claims.get("sub") != subject_sub:
        raise RenewalRefused("the renewed ID token names someone else")
    kept = tokens_kept(answer, claims)
    # A provider that does not rotate refresh tokens answers without one: the one held goes on.
    return kept if kept.refresh_token else ProviderTokens(kept.id_token, refresh_token, kept.expires_at, kept.sid)


# ------------------------------------------------------------------------------------------------ back-channel sign-out

BACK_CHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
_jwks: dict[str, PyJWKClient] = {}


class LogoutTokenInvalid(Exception):
    pass


def verify_logout_token(provider: OidcProvider, token: str) -> dict[str, Any]:
    """A back-channel logout token's claims (OpenID Connect Back-Channel Logout 1.0, §2.6): signed by the provider,
    for our client, recent, naming a session (`sid`) or a person (`sub`), carrying the logout event and no nonce (so
    that no ID token passes for one). Blocking: the provider's keys may be fetched."""
    if provider.jwks_url not in _jwks:
        _jwks[provider.jwks_url] = PyJWKClient(provider.jwks_url, cache_keys=True, lifespan=3600, timeout=5)
    try:
        key = _jwks[provider.jwks_url].get_signing_key_from_jwt(token).key
        claims = jwt.decode(
            token,
            key,
            algorithms=["RS256", "ES256", "PS256"],
            issuer=provider.issuer,
            audience=provider.client_id,
            options={"require": ["iat", "iss", "aud"]},
            leeway=30,
        )
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise LogoutTokenInvalid(str(exc)[:200]) from None
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACK_CHANNEL_EVENT), dict):
        raise LogoutTokenInvalid("the token carries no back-channel logout event")
    if "nonce" in claims:
        raise LogoutTokenInvalid("a logout token carries no nonce")
    if not isinstance(claims.get("sid"), str) and not isinstance(claims.get("sub"), str):
        raise LogoutTokenInvalid("the token names neither a session (sid) nor a person (sub)")
    return claims
