"""The dev stack's OpenID Connect server (Keycloak, devstack/oidc_server.py) against what motcua needs of the national
SSO and VNeID: discovery of both issuers, a machine client's scoped token, and an officer's and a citizen's
authorization-code login with PKCE, done as a browser would with plain HTTP, each token checked against the realm's
published keys."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from devstack.oidc_realms import (
    APP_CLIENT_ID,
    APP_CLIENT_SECRET,
    DEMO_CITIZENS,
    DEMO_OFFICERS,
    MACHINE_CLIENTS,
    NATIONAL_SSO,
    REALMS,
    VNEID,
)
from devstack.oidc_server import OidcServer

# The app's callback on whatever port it listens on: Keycloak ignores the port of a loopback redirect URI.
REDIRECT_URI = "http://127.0.0.1:18765/auth/callback"


def code_request(challenge: str, state: str, scope: str) -> dict[str, str]:
    """An authorization request of motcua's client, with PKCE (S256), back to the loopback callback."""
    return {
        "response_type": "code",
        "client_id": APP_CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": scope,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }


def discovery(server: OidcServer, realm: str) -> dict[str, Any]:
    response = httpx.get(server.discovery_url(realm), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def verified(server: OidcServer, realm: str, token: str, audience: str = APP_CLIENT_ID) -> dict[str, Any]:
    """The token's claims, its signature checked against the realm's JWKS (as motcua checks a provider's tokens)."""
    key = jwt.PyJWKClient(discovery(server, realm)["jwks_uri"]).get_signing_key_from_jwt(token)
    return jwt.decode(
        token,
        key.key,
        algorithms=["RS256"],
        audience=audience,
        issuer=server.issuer(realm),
        options={"require": ["exp", "iat", "sub", "iss", "aud"]},
    )


@dataclass
class Login:
    redirect: str  # where the provider sent the browser back
    tokens: dict[str, Any]


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def browser_login(server: OidcServer, realm: str, username: str, password: str) -> Login:
    """Authorization code with PKCE, as the app and a browser do it: the authorization request, Keycloak's login
    form filled in and posted, the redirect back with `code` and `state`, and the code exchanged (with the verifier
    and the client's secret) at the token endpoint."""
    config = discovery(server, realm)
    verifier, challenge = pkce_pair()
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    with httpx.Client(timeout=15, follow_redirects=False) as browser:
        page = browser.get(
            config["authorization_endpoint"],
            params={**code_request(challenge, state, "openid profile email"), "nonce": nonce},
        )
        assert page.status_code == 200, page.text
        form = re.search(r'<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"', page.text)
        assert form, "no login form on the page"
        # Keycloak marks its session cookies Secure; a browser sends them to http://127.0.0.1 (a secure context),
        # httpx does not, so they go by hand.
        cookies = "; ".join(f"{cookie.name}={cookie.value}" for cookie in browser.cookies.jar)
        answer = browser.post(
            html.unescape(form.group(1)),
            data={"username": username, "password": password, "credentialId": ""},
            headers={"Cookie": cookies},
        )
        assert answer.status_code == 302, re.findall(r'class="[^"]*(?:error|feedback)[^"]*"[^>]*>([^<]+)', answer.text)
        location = answer.headers["location"]
        assert location.startswith(REDIRECT_URI + "?"), location
        query = {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}
        assert query["state"] == state
        assert query["iss"] == server.issuer(realm)  # RFC 9207: the mix-up defence the app can check
        exchange = browser.post(
            config["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": query["code"],
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
            auth=(APP_CLIENT_ID, APP_CLIENT_SECRET),
        )
        assert exchange.status_code == 200, exchange.text
        tokens = exchange.json()
        assert verified(server, realm, tokens["id_token"])["nonce"] == nonce
        return Login(location, tokens)


def test_both_issuers_publish_their_discovery_and_keys(oidc_server: OidcServer) -> None:
    for realm in REALMS:
        config = discovery(oidc_server, realm)
        assert config["issuer"] == oidc_server.issuer(realm)
        assert config["jwks_uri"] == oidc_server.jwks_url(realm)
        assert config["token_endpoint"] == oidc_server.token_url(realm)
        assert "S256" in config["code_challenge_methods_supported"]
        assert {"authorization_code", "client_credentials"} <= set(config["grant_types_supported"])
        assert "RS256" in config["id_token_signing_alg_values_supported"]
        assert config["end_session_endpoint"].startswith(oidc_server.issuer(realm))
        keys = httpx.get(config["jwks_uri"], timeout=10).json()["keys"]
        assert any(key["alg"] == "RS256" and key["use"] == "sig" for key in keys)
    # Two issuers, two keys: a token of one realm never passes as the other's.
    kids = {realm: {k["kid"] for k in httpx.get(oidc_server.jwks_url(realm)).json()["keys"]} for realm in REALMS}
    assert not kids[NATIONAL_SSO] & kids[VNEID]


def client_credentials(server: OidcServer, client_id: str) -> dict[str, Any]:
    """The national SSO's token answer to one of its machine clients (client credentials, with its secret)."""
    client = next(c for c in MACHINE_CLIENTS if c.client_id == client_id)
    response = httpx.post(
        server.token_url(NATIONAL_SSO),
        data={"grant_type": "client_credentials"},
        auth=(client.client_id, client.secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_the_national_portal_gets_a_token_with_its_scopes_only(oidc_server: OidcServer) -> None:
    portal = next(client for client in MACHINE_CLIENTS if client.client_id == "national-portal")
    body = client_credentials(oidc_server, portal.client_id)
    assert body["token_type"].lower() == "bearer"
    claims = verified(oidc_server, NATIONAL_SSO, body["access_token"])
    assert set(claims["scope"].split()) == set(portal.scopes)
    assert claims["azp"] == "national-portal"
    assert "preferred_username" not in claims or claims["preferred_username"].startswith("service-account-")

    # A scope it was not given, a wrong secret, or the other realm: no token.
    refused = [
        httpx.post(
            oidc_server.token_url(NATIONAL_SSO),
            data={"grant_type": "client_credentials", "scope": "dossiers:write"},
            auth=(portal.client_id, portal.secret),
        ),
        httpx.post(
            oidc_server.token_url(NATIONAL_SSO),
            data={"grant_type": "client_credentials"},
            auth=(portal.client_id, "wrong"),
        ),
        httpx.post(
            oidc_server.token_url(VNEID),
            data={"grant_type": "client_credentials"},
            auth=(portal.client_id, portal.secret),
        ),
    ]
    assert [r.status_code for r in refused] == [400, 401, 401], [r.text for r in refused]


def test_an_officer_signs_in_with_the_code_flow_and_pkce(oidc_server: OidcServer) -> None:
    officer = next(o for o in DEMO_OFFICERS if o.officer_id == "reception@H01")
    login = browser_login(oidc_server, NATIONAL_SSO, officer.username, officer.password)
    claims = verified(oidc_server, NATIONAL_SSO, login.tokens["id_token"])
    # The registry knows the officer by `sub` (OIDC_PROVIDERS' subject_claim defaults to it), in the id's own case.
    assert claims["sub"] == claims["officer_id"] == "reception@H01"
    assert claims["preferred_username"] == "reception@h01"
    assert claims["aud"] == APP_CLIENT_ID and claims["azp"] == APP_CLIENT_ID
    assert "citizen_id" not in claims
    # The access token is for motcua's API too, and the refresh token comes along.
    assert verified(oidc_server, NATIONAL_SSO, login.tokens["access_token"])["sub"] == "reception@H01"
    assert login.tokens["refresh_token"]

    # The bootstrap administrator of the dev stack signs in the same way.
    admin = next(o for o in DEMO_OFFICERS if o.officer_id == "admin")
    admin_login = browser_login(oidc_server, NATIONAL_SSO, admin.username, admin.password)
    assert verified(oidc_server, NATIONAL_SSO, admin_login.tokens["id_token"])["sub"] == "admin"


def test_a_citizen_signs_in_to_vneid_and_the_id_token_carries_the_citizen_id(oidc_server: OidcServer) -> None:
    citizen = DEMO_CITIZENS[0]
    login = browser_login(oidc_server, VNEID, citizen.username, citizen.password)
    claims = verified(oidc_server, VNEID, login.tokens["id_token"])
    assert claims["citizen_id"] == citizen.citizen_id and re.fullmatch(r"\d{12}", claims["citizen_id"])
    assert claims["preferred_username"] == citizen.username
    assert claims["sub"]
    # An officer's login is no VNeID login.
    with pytest.raises(AssertionError):
        browser_login(oidc_server, VNEID, DEMO_OFFICERS[1].username, DEMO_OFFICERS[1].password)


def test_the_provider_insists_on_pkce_and_a_registered_redirect(oidc_server: OidcServer) -> None:
    endpoint = discovery(oidc_server, VNEID)["authorization_endpoint"]
    base = {"response_type": "code", "client_id": APP_CLIENT_ID, "scope": "openid", "state": "s"}
    # No code challenge: sent back to the app with an error, no login page.
    without_pkce = httpx.get(endpoint, params={**base, "redirect_uri": REDIRECT_URI})
    assert without_pkce.status_code == 302
    assert parse_qs(urlsplit(without_pkce.headers["location"]).query)["error"] == ["invalid_request"]
    # A redirect URI off the loopback patterns: refused on Keycloak's own page, never redirected.
    _, challenge = pkce_pair()
    elsewhere = httpx.get(
        endpoint,
        params={
            **base,
            "redirect_uri": "http://attacker.example/cb",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    assert elsewhere.status_code == 400
    assert "redirect" in elsewhere.text.lower()


def test_a_code_is_worth_nothing_without_its_verifier(oidc_server: OidcServer) -> None:
    """The code alone (intercepted on its way back) cannot be exchanged: PKCE binds it to the app's verifier."""
    citizen = DEMO_CITIZENS[1]
    config = discovery(oidc_server, VNEID)
    _, challenge = pkce_pair()
    with httpx.Client(timeout=15) as browser:
        page = browser.get(
            config["authorization_endpoint"],
            params=code_request(challenge, "s", "openid"),
        )
        action = html.unescape(re.search(r'id="kc-form-login"[^>]*action="([^"]+)"', page.text).group(1))  # type: ignore[union-attr]
        cookies = "; ".join(f"{cookie.name}={cookie.value}" for cookie in browser.cookies.jar)
        answer = browser.post(
            action, data={"username": citizen.username, "password": citizen.password}, headers={"Cookie": cookies}
        )
        code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
        stolen = browser.post(
            config["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": pkce_pair()[0],
            },
            auth=(APP_CLIENT_ID, APP_CLIENT_SECRET),
        )
    assert stolen.status_code == 400
    assert stolen.json()["error"] == "invalid_grant"
